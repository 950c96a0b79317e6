package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/govern"
)

// BundleKeygenOptions are the inputs of `mcpgov bundle keygen`.
type BundleKeygenOptions struct {
	IO  *IOStreams
	Out string
}

func newBundleKeygenCmd(f *Factory, runF func(*BundleKeygenOptions) error) *cobra.Command {
	opts := &BundleKeygenOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Create a key pair for signing bundles",
		Long: `Write a new ed25519 private key to FILE (mode 0600, never overwritten) and
print its public key, mcpgov-ed25519:<base64>, on stdout. Put the public key
in trusted_keys of the managed config (or the user's) so shims and commands
refuse bundles not signed with the private key.`,
		Example: `  mcpgov bundle keygen --out ~/.secrets/mcpgov-bundle.key > bundle.pub`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Out == "" {
				return flagErrorf("--out FILE is required: where to write the private key")
			}
			if runF != nil {
				return runF(opts)
			}
			pub, priv, err := catalog.GenerateKey(nil)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(opts.Out), 0o700); err != nil {
				return fmt.Errorf("write private key: %w", err)
			}
			if err := catalog.WritePrivateKeyFile(opts.Out, priv); err != nil {
				return fmt.Errorf("write private key: %w", err)
			}
			fmt.Fprintln(opts.IO.Out, pub.String())
			opts.IO.Notef("private key written to %s (key id %s); keep it out of the bundle and out of git", opts.Out, pub.KeyID())
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Out, "out", "", "file for the private key")
	return cmd
}

// BundleSignOptions are the inputs of `mcpgov bundle sign`.
type BundleSignOptions struct {
	IO  *IOStreams
	Key string
	Dir string
}

func newBundleSignCmd(f *Factory, runF func(*BundleSignOptions) error) *cobra.Command {
	opts := &BundleSignOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "sign --key FILE DIR",
		Short: "Sign a bundle so tampering is detected",
		Long: `Write DIR/bundle.sig: a manifest of every file in the bundle with its SHA-256,
signed with the private key. Any later change, addition or removal of a file
makes verification fail. The bundle must validate first.`,
		Example: `  mcpgov bundle sign --key ~/.secrets/mcpgov-bundle.key ./governance`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			if opts.Key == "" {
				return flagErrorf("--key FILE is required")
			}
			if runF != nil {
				return runF(opts)
			}
			if _, err := catalog.LoadBundle(opts.Dir); err != nil {
				return withHint(fmt.Errorf("not signing an invalid bundle: %w", err), "run `mcpgov catalog validate "+opts.Dir+"`")
			}
			priv, err := catalog.ReadPrivateKeyFile(opts.Key)
			if err != nil {
				return fmt.Errorf("read private key: %w", err)
			}
			if err := catalog.SignBundle(opts.Dir, priv); err != nil {
				return fmt.Errorf("sign %s: %w", opts.Dir, err)
			}
			m, _ := catalog.ManifestDigest(opts.Dir)
			opts.IO.Notef("signed %s (revision %s)", opts.Dir, m)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Key, "key", "", "private key file from `mcpgov bundle keygen`")
	return cmd
}

// BundleVerifyOptions are the inputs of `mcpgov bundle verify`.
type BundleVerifyOptions struct {
	IO      *IOStreams
	Factory *Factory
	Keys    []string
	Dir     string
}

func newBundleVerifyCmd(f *Factory, runF func(*BundleVerifyOptions) error) *cobra.Command {
	opts := &BundleVerifyOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "verify [DIR]",
		Short: "Check a bundle's signature against the trusted keys",
		Long: `Verify DIR/bundle.sig against the public keys given with --key, or else the
trusted_keys of the managed config (or, when it has none, the user's). Names
the file that changed, or the key that signed, when verification fails.`,
		Example: `  mcpgov bundle verify --key "$(cat bundle.pub)" ./governance`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Dir = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return bundleVerifyRun(opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Keys, "key", nil, "trusted public key mcpgov-ed25519:…, or a file holding one (repeatable)")
	return cmd
}

func bundleVerifyRun(opts *BundleVerifyOptions) error {
	cfgs, err := opts.Factory.Config()
	if err != nil {
		return err
	}
	dir := opts.Dir
	if dir == "" {
		src, ok := govern.ResolveBundle("", opts.Factory.Env(), cfgs)
		if !ok {
			return withHint(errNoBundleConfigured, "give the bundle directory as an argument")
		}
		dir = src.Dir
	}
	keys, from := opts.Keys, "--key"
	for i, k := range keys {
		if !strings.HasPrefix(k, catalog.PublicKeyPrefix) {
			b, err := os.ReadFile(k)
			if err != nil {
				return flagErrorf("--key %q is neither a public key (%s…) nor a readable file", k, catalog.PublicKeyPrefix)
			}
			keys[i] = strings.TrimSpace(string(b))
		}
	}
	if len(keys) == 0 {
		keys, from = cfgs.TrustedKeys()
	}
	if len(keys) == 0 {
		return withHint(errors.New("no trusted keys to verify with"), "pass --key mcpgov-ed25519:… or set trusted_keys in the config")
	}
	if err := verifyBundle(dir, keys, from); err != nil {
		return err
	}
	m, _ := catalog.ManifestDigest(dir)
	fmt.Fprintf(opts.IO.Out, "%s: signature verified (revision %s)\n", dir, m)
	return nil
}

// verifyBundle checks dir's signature against keys named in from.
func verifyBundle(dir string, keys []string, from string) error {
	trusted, err := govern.ParseTrustedKeys(keys, from)
	if err != nil {
		return err
	}
	if err := catalog.VerifyBundle(dir, trusted); err != nil {
		return govern.RefuseBundle(dir, from, err)
	}
	return nil
}
