// Package govern assembles governance: it turns the configuration files,
// the environment, a bundle, an identity source and an audit store into
// the enforce.Config an enforcement core runs on. The stdio shim uses it
// today and the central gateway will use it tomorrow, so neither copies
// the assembly: config precedence (managed over user), the state
// directory, the bundle source with its signature check and last good
// copy, the audit settings and store, the identity, the pipeline, and a
// reload that swaps catalog entry, pipeline and bundle revision together.
//
// govern reads no process state itself: the environment, the home
// directory and the clock come in as an Env, and what it wants shown to a
// person (running on the last good bundle, whom calls are attributed to)
// comes back as Notices for the caller to print.
package govern
