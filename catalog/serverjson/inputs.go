package serverjson

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/mcpgov/mcpgov/catalog"
)

// InputKind says what an install input becomes in the launch.
type InputKind string

// Input kinds.
const (
	InputEnv      InputKind = "env"      // an environment variable of the server
	InputArg      InputKind = "arg"      // a command-line argument
	InputVariable InputKind = "variable" // a {variable} of a templated env value or argument
)

// Input is one value a user supplies when installing a server, as the
// entry's server.json declares it (environment variables and arguments
// without a fixed value, variables of templated values) or, without a
// server.json, as launch.env names it.
type Input struct {
	Key         string    `json:"key"` // what `--input KEY=VALUE` names
	Kind        InputKind `json:"kind"`
	Description string    `json:"description,omitempty"`
	Default     string    `json:"default,omitempty"`
	Choices     []string  `json:"choices,omitempty"`
	Required    bool      `json:"required"`
	Secret      bool      `json:"secret"`
	// Env is the environment variable the input is, or feeds (a variable
	// of a templated env value); "" for arguments.
	Env string `json:"env,omitempty"`
}

// EnvValue is one environment variable of an installed launch.
type EnvValue struct {
	Name  string
	Value string
}

// InstallLaunch is the launch an install writes: the catalog's launch with
// the user's values in it.
type InstallLaunch struct {
	Command string
	Args    []string
	URL     string
	Env     []EnvValue
}

// InstallPlan is what installing a server asks for and how its launch is
// put together from the answers.
type InstallPlan struct {
	Inputs []Input
	// Notes say what the plan could not express (a catalog launch that
	// differs from its server.json package, unsupported fields).
	Notes []string

	server  *catalog.Server
	pkg     *inPackage
	rawPkg  *sjPackage
	derived bool // the catalog launch is the package's own: recompute it
	// keys maps where a value goes ("env:NAME", "r0", "p2", and
	// "OWNER/var" for a template variable) to the input's key.
	keys map[string]string
}

// server.json fields install reads beyond what import keeps.
type inServer struct {
	Packages []inPackage `json:"packages"`
	Remotes  []struct {
		Headers []inValue `json:"headers"`
	} `json:"remotes"`
}

type inPackage struct {
	Transport struct {
		Type string `json:"type"`
	} `json:"transport"`
	RuntimeArguments     []inValue `json:"runtimeArguments"`
	PackageArguments     []inValue `json:"packageArguments"`
	EnvironmentVariables []inValue `json:"environmentVariables"`
}

// inValue is a server.json Input, KeyValueInput or Argument.
type inValue struct {
	Type        string             `json:"type"`
	Name        string             `json:"name"`
	Value       string             `json:"value"`
	ValueHint   string             `json:"valueHint"`
	Description string             `json:"description"`
	Default     string             `json:"default"`
	Choices     []string           `json:"choices"`
	IsRequired  bool               `json:"isRequired"`
	IsSecret    bool               `json:"isSecret"`
	Variables   map[string]inValue `json:"variables"`
}

// secretName matches variable names that usually carry credentials, for
// launch.env names without a server.json to say.
var secretName = lazyRegexp(`(?i)(token|secret|passw|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential|auth|(^|_)pat$)`)

// PlanInstall returns the inputs installing s asks for.
func PlanInstall(s *catalog.Server) (*InstallPlan, error) {
	p := &InstallPlan{server: s, keys: map[string]string{}}
	if s.Registry != nil && s.Launch.URL == "" {
		if err := p.fromServerJSON(s.Registry.ServerJSON); err != nil {
			return nil, fmt.Errorf("server %s: its server.json: %w", s.ID, err)
		}
	}
	have := map[string]bool{}
	for _, in := range p.Inputs {
		if in.Env != "" {
			have[in.Env] = true
		}
	}
	if p.pkg != nil {
		for _, e := range p.pkg.EnvironmentVariables {
			have[e.Name] = true // fixed values too
		}
	}
	for _, name := range s.Launch.Env {
		if !have[name] {
			p.add("env:"+name, Input{Key: name, Kind: InputEnv, Env: name, Required: true, Secret: secretName().MatchString(name)})
		}
	}
	return p, nil
}

// fromServerJSON reads the inputs of the package the catalog launches: the
// first stdio package with a standard launch, as import chose it.
func (p *InstallPlan) fromServerJSON(text string) error {
	var doc sjServer
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		return err
	}
	var rich inServer
	if err := json.Unmarshal([]byte(text), &rich); err != nil {
		return err
	}
	if len(rich.Packages) != len(doc.Packages) {
		return fmt.Errorf("packages could not be read")
	}
	for i, pkg := range doc.Packages {
		if pkg.Transport.Type != "stdio" {
			continue
		}
		l, _, ok := sjPackageLaunch(pkg)
		if !ok {
			continue
		}
		p.pkg, p.rawPkg = &rich.Packages[i], &doc.Packages[i]
		own := p.server.Launch
		p.derived = l.Command == own.Command && slices.Equal(l.Args, own.Args)
		if !p.derived {
			p.Notes = append(p.Notes, fmt.Sprintf("the catalog's launch is not server.json's packages[%d]; arguments the user supplies are appended to it", i))
		}
		break
	}
	if p.pkg == nil {
		return nil
	}
	for _, e := range p.pkg.EnvironmentVariables {
		switch {
		case e.Value == "":
			p.add("env:"+e.Name, Input{Key: e.Name, Kind: InputEnv, Env: e.Name, Description: e.Description, Default: e.Default,
				Choices: e.Choices, Required: e.IsRequired, Secret: e.IsSecret})
		case strings.Contains(e.Value, "{"):
			p.addVariables("env:"+e.Name, e, e.Name)
		}
	}
	for li, list := range [][]inValue{p.pkg.RuntimeArguments, p.pkg.PackageArguments} {
		for i, a := range list {
			where := fmt.Sprintf("%c%d", "rp"[li], i)
			switch {
			case a.Value == "":
				p.add(where, Input{Key: argKey(a, i), Kind: InputArg, Description: a.Description, Default: a.Default,
					Choices: a.Choices, Required: a.IsRequired, Secret: a.IsSecret})
			case strings.Contains(a.Value, "{"):
				p.addVariables(where, a, "")
			}
		}
	}
	return nil
}

// addVariables adds the {variables} of a templated value, in the order the
// template names them.
func (p *InstallPlan) addVariables(where string, v inValue, env string) {
	for _, name := range templateVars(v.Value) {
		d, ok := v.Variables[name]
		if !ok {
			d = inValue{IsRequired: v.IsRequired, IsSecret: v.IsSecret, Description: v.Description}
		}
		p.add(where+"/"+name, Input{Key: name, Kind: InputVariable, Env: env, Description: d.Description, Default: d.Default,
			Choices: d.Choices, Required: d.IsRequired, Secret: d.IsSecret || v.IsSecret})
	}
}

// add appends in, for the value at where, keeping keys unique.
func (p *InstallPlan) add(where string, in Input) {
	base := in.Key
	for n := 2; p.Input(in.Key) != nil; n++ {
		in.Key = fmt.Sprintf("%s-%d", base, n)
	}
	p.keys[where] = in.Key
	p.Inputs = append(p.Inputs, in)
}

// at is the input for the value at where, or nil.
func (p *InstallPlan) at(where string) *Input {
	k, ok := p.keys[where]
	if !ok {
		return nil
	}
	for i := range p.Inputs {
		if p.Inputs[i].Key == k {
			return &p.Inputs[i]
		}
	}
	return nil
}

// Input returns the input named key: exactly, else ignoring case and
// leading dashes (so --input toolsets= and --input --toolsets= agree).
func (p *InstallPlan) Input(key string) *Input {
	for i := range p.Inputs {
		if p.Inputs[i].Key == key {
			return &p.Inputs[i]
		}
	}
	k := strings.TrimLeft(key, "-")
	for i := range p.Inputs {
		if strings.EqualFold(p.Inputs[i].Key, k) {
			return &p.Inputs[i]
		}
	}
	return nil
}

func argKey(a inValue, i int) string {
	switch {
	case a.Name != "":
		return strings.TrimLeft(a.Name, "-")
	case a.ValueHint != "":
		return a.ValueHint
	}
	return fmt.Sprintf("arg%d", i+1)
}

var templateVar = lazyRegexp(`\{([^{}]+)\}`)

func templateVars(s string) []string {
	var out []string
	for _, m := range templateVar().FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// ValueFunc returns the text an input is written as (its value, or a
// reference the client expands) and whether it has one.
type ValueFunc func(in Input) (string, bool)

// Launch puts the install launch together. Inputs without a value are
// left out (their flag too); a required one is an error naming it.
func (p *InstallPlan) Launch(value ValueFunc) (InstallLaunch, error) {
	s := p.server
	var missing []string
	get := func(in *Input) (string, bool) {
		if in == nil {
			return "", false
		}
		v, ok := value(*in)
		if !ok && in.Required {
			missing = append(missing, in.Key)
		}
		return v, ok
	}
	fill := func(where, tmpl string) (string, bool) {
		out, all := tmpl, true
		for _, name := range templateVars(tmpl) {
			v, ok := get(p.at(where + "/" + name))
			if !ok {
				all = false
				continue
			}
			out = strings.ReplaceAll(out, "{"+name+"}", v)
		}
		return out, all
	}
	l := InstallLaunch{Command: s.Launch.Command, Args: slices.Clone(s.Launch.Args), URL: s.Launch.URL}
	if p.pkg != nil {
		args := func(li int, list []inValue) []string {
			var out []string
			for i, a := range list {
				where := fmt.Sprintf("%c%d", "rp"[li], i)
				v := a.Value
				switch {
				case v == "":
					var ok bool
					if v, ok = get(p.at(where)); !ok {
						continue
					}
				case strings.Contains(v, "{"):
					var ok bool
					if v, ok = fill(where, v); !ok {
						continue
					}
				}
				if a.Type == "named" {
					out = append(out, a.Name)
				}
				out = append(out, v)
			}
			return out
		}
		runtime, pkgArgs := args(0, p.pkg.RuntimeArguments), args(1, p.pkg.PackageArguments)
		if p.derived {
			if dl, ok := sjLaunchWith(*p.rawPkg, runtime, pkgArgs); ok {
				l.Command, l.Args = dl.Command, dl.Args
			}
		} else {
			l.Args = append(l.Args, p.extraArgs(runtime, pkgArgs)...)
		}
		for _, e := range p.pkg.EnvironmentVariables {
			v := e.Value
			switch {
			case v == "":
				var ok bool
				if v, ok = get(p.at("env:" + e.Name)); !ok {
					continue
				}
			case strings.Contains(v, "{"):
				var ok bool
				if v, ok = fill("env:"+e.Name, v); !ok {
					continue
				}
			}
			l.Env = append(l.Env, EnvValue{Name: e.Name, Value: v})
		}
	}
	for _, in := range p.Inputs {
		if in.Kind == InputEnv && !slices.ContainsFunc(l.Env, func(e EnvValue) bool { return e.Name == in.Env }) && !p.pkgEnv(in.Env) {
			if v, ok := get(&in); ok {
				l.Env = append(l.Env, EnvValue{Name: in.Env, Value: v})
			}
		}
	}
	if len(missing) > 0 {
		return InstallLaunch{}, &MissingInputError{Keys: missing}
	}
	return l, nil
}

// extraArgs are the arguments a user supplies that the catalog's own
// (edited) launch does not have: the ones without a fixed value.
func (p *InstallPlan) extraArgs(runtime, pkgArgs []string) []string {
	fixedR, _ := sjFixedArgs("", p.rawPkg.RuntimeArguments)
	fixedP, _ := sjFixedArgs("", p.rawPkg.PackageArguments)
	return append(subtract(runtime, fixedR), subtract(pkgArgs, fixedP)...)
}

// subtract removes the first occurrence of each of drop from list, in order.
func subtract(list, drop []string) []string {
	out := slices.Clone(list)
	for _, d := range drop {
		if i := slices.Index(out, d); i >= 0 {
			out = slices.Delete(out, i, i+1)
		}
	}
	return out
}

func (p *InstallPlan) pkgEnv(name string) bool {
	return p.pkg != nil && slices.ContainsFunc(p.pkg.EnvironmentVariables, func(e inValue) bool { return e.Name == name })
}

// MissingInputError names required inputs without a value.
type MissingInputError struct{ Keys []string }

func (e *MissingInputError) Error() string {
	return fmt.Sprintf("missing required input %s", strings.Join(e.Keys, ", "))
}

// lazyRegexp compiles expr on its first use, once, safe for concurrent
// first use: a start of mcpgov that never needs the pattern does not pay
// for it in package init.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
