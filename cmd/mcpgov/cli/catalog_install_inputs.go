package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/mcpgov/mcpgov/catalog/serverjson"
	"github.com/mcpgov/mcpgov/policy/guard/secret"
	"github.com/mcpgov/mcpgov/scan"
	"github.com/mcpgov/mcpgov/shim/wrap"
)

// Prompter asks a person for install inputs. Prompts go to stderr: stdout
// carries the command's data.
type Prompter interface {
	// Ask reads one line; def is offered as the answer to an empty line.
	Ask(label, def string) (string, error)
	// AskSecret reads one line without echoing it.
	AskSecret(label string) (string, error)
}

// ttyPrompter prompts on the terminal behind IOStreams.
type ttyPrompter struct {
	io *IOStreams
	in *bufio.Reader
}

func newTTYPrompter(io *IOStreams) *ttyPrompter {
	return &ttyPrompter{io: io, in: bufio.NewReader(io.In)}
}

func (p *ttyPrompter) Ask(label, def string) (string, error) {
	if def != "" {
		fmt.Fprintf(p.io.ErrOut, "%s [%s]: ", label, def)
	} else {
		fmt.Fprintf(p.io.ErrOut, "%s: ", label)
	}
	line, err := p.line(label)
	if err != nil || line == "" {
		return def, err
	}
	return line, nil
}

func (p *ttyPrompter) AskSecret(label string) (string, error) {
	fmt.Fprintf(p.io.ErrOut, "%s (input hidden): ", label)
	f, ok := p.io.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return p.line(label)
	}
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(p.io.ErrOut)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", label, err)
	}
	return string(b), nil
}

// line reads one answer; an answer cut short by the end of input counts.
func (p *ttyPrompter) line(label string) (string, error) {
	line, err := p.in.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("read %s: %w", label, err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// inputAnswer is how one input was settled, for the report.
type inputAnswer struct {
	Key    string `json:"key"`
	Secret bool   `json:"secret"`
	// Source is flag, prompt, default, reference (a secret the client
	// reads from elsewhere) or none (optional, left out).
	Source string `json:"source"`
	// Written is what the config holds: the value, a reference such as
	// ${GITHUB_TOKEN} (never a secret's value), "(masked)" for a secret
	// written in plain text, or "" when left out.
	Written string `json:"written,omitempty"`
}

// settled is the outcome of resolving a server's inputs for one client.
type settled struct {
	texts      map[string]string // input key → text written
	answers    []inputAnswer
	plaintext  []string // secret values written as they are (masked in output)
	forward    []string // Codex env_vars
	vsInputs   []wrap.ClientInput
	references []string // variables the config references, for notes
	warnings   []string
}

// forwarded stands for a value Codex passes through from its environment
// (env_vars); the env entry carrying it is dropped from the launch.
const forwarded = "\x00forwarded"

var envNameInvalid = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// refName is the environment variable a secret input is referenced by.
func refName(in serverjson.Input) string {
	if in.Kind == serverjson.InputEnv && in.Env != "" {
		return in.Env
	}
	return strings.ToUpper(strings.Trim(envNameInvalid.ReplaceAllString(in.Key, "_"), "_"))
}

// secretReference is how client's config refers to a value kept outside
// it, and whether it can: environment references it expands at launch
// (Claude Code, Gemini CLI ${VAR}; Cursor, Windsurf ${env:VAR}; opencode
// {env:VAR}), Continue's secrets, VS Code's input variables, and Codex's
// env_vars (whole variables only).
func secretReference(client, id string, in serverjson.Input) (string, bool) {
	name := refName(in)
	switch client {
	case scan.ClientClaudeCode, scan.ClientGeminiCLI:
		return "${" + name + "}", true
	case scan.ClientCursor, scan.ClientWindsurf:
		return "${env:" + name + "}", true
	case scan.ClientOpencode:
		return "{env:" + name + "}", true
	case scan.ClientContinue:
		return "${{ secrets." + name + " }}", true
	case scan.ClientVSCode:
		return "${input:" + vsInputID(id, in) + "}", true
	case scan.ClientCodex:
		return "", in.Kind == serverjson.InputEnv
	}
	return "", false
}

func vsInputID(id string, in serverjson.Input) string {
	return strings.ToLower(id + "-" + strings.Trim(envNameInvalid.ReplaceAllString(in.Key, "-"), "-"))
}

// settleInputs decides every input's text: --input values, prompts on a
// terminal, defaults, and references for secrets where the client has
// them. A required input left without a value in a run that cannot prompt
// is a usage error naming it.
func settleInputs(opts *CatalogInstallOptions, client string, plan *serverjson.InstallPlan, given map[string]string) (*settled, error) {
	st := &settled{texts: map[string]string{}}
	var missing []string
	for _, in := range plan.Inputs {
		a := inputAnswer{Key: in.Key, Secret: in.Secret}
		v, has := given[in.Key]
		if in.Secret {
			if ref, ok := secretReference(client, opts.ID, in); ok {
				name := refName(in)
				a.Source, a.Written = "reference", ref
				if client == scan.ClientCodex {
					st.forward = append(st.forward, name)
					st.texts[in.Key] = forwarded
					a.Written = "env_vars " + name
				} else {
					st.texts[in.Key] = ref
				}
				switch client {
				case scan.ClientVSCode:
					st.vsInputs = append(st.vsInputs, wrap.ClientInput{ID: vsInputID(opts.ID, in), Description: firstNonEmpty(in.Description, in.Key), Password: true})
				case scan.ClientCodex:
				default:
					st.references = append(st.references, name)
				}
				if has {
					st.warnings = append(st.warnings, fmt.Sprintf("%s is a secret and %s reads it from elsewhere: the config references %s; the value given with --input is not written anywhere", in.Key, client, a.Written))
				}
				st.answers = append(st.answers, a)
				continue
			}
		}
		switch {
		case has:
			a.Source = "flag"
		case opts.IO.CanPrompt() && opts.Prompter != nil:
			var err error
			if v, err = ask(opts.Prompter, in); err != nil {
				return nil, err
			}
			a.Source = "prompt"
			if v == "" && in.Default != "" {
				v, a.Source = in.Default, "default"
			}
		case in.Default != "":
			v, a.Source = in.Default, "default"
		}
		if v == "" {
			if in.Required {
				missing = append(missing, describeInput(in))
			} else {
				a.Source = "none"
				st.answers = append(st.answers, a)
			}
			continue
		}
		if len(in.Choices) > 0 && !slices.Contains(in.Choices, v) {
			return nil, flagErrorf("input %s: %q is not one of %s", in.Key, v, strings.Join(in.Choices, ", "))
		}
		st.texts[in.Key] = v
		a.Written = v
		if in.Secret {
			a.Written = "(masked)"
			st.plaintext = append(st.plaintext, v)
		}
		st.answers = append(st.answers, a)
	}
	if len(missing) > 0 {
		return nil, withHint(flagErrorf("missing required input %s", strings.Join(missing, "; ")),
			"pass --input KEY=VALUE for each (or run on a terminal to be asked)")
	}
	return st, nil
}

func ask(p Prompter, in serverjson.Input) (string, error) {
	label := in.Key
	if in.Description != "" {
		label += " (" + in.Description + ")"
	}
	if len(in.Choices) > 0 {
		label += " {" + strings.Join(in.Choices, "|") + "}"
	}
	if !in.Required {
		label += " [optional]"
	}
	if in.Secret {
		return p.AskSecret(label)
	}
	return p.Ask(label, in.Default)
}

func describeInput(in serverjson.Input) string {
	if in.Description != "" {
		return in.Key + " (" + in.Description + ")"
	}
	return in.Key
}

// parseInputFlags reads --input KEY=VALUE, checking keys against plan.
func parseInputFlags(flags []string, plan *serverjson.InstallPlan) (map[string]string, error) {
	given := map[string]string{}
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, flagErrorf("invalid --input %q: want KEY=VALUE", kv)
		}
		in := plan.Input(k)
		if in == nil {
			keys := make([]string, 0, len(plan.Inputs))
			for _, i := range plan.Inputs {
				keys = append(keys, i.Key)
			}
			known := "it takes no inputs"
			if len(keys) > 0 {
				known = "its inputs are " + strings.Join(keys, ", ")
			}
			return nil, flagErrorf("unknown --input %q: %s", k, known)
		}
		given[in.Key] = v
	}
	return given, nil
}

// masker hides secret values in everything install prints.
type masker []string

func (m masker) mask(s string) string {
	for _, v := range m {
		if v == "" {
			continue
		}
		hidden := secret.MaskValue("secret", v)
		if hidden == v {
			hidden = "****"
		}
		esc := strings.Trim(jsonQuote(v), `"`)
		s = strings.ReplaceAll(s, v, hidden)
		if esc != v {
			s = strings.ReplaceAll(s, esc, hidden)
		}
	}
	return s
}

// report masks every string of an install report.
func (m masker) report(rep *installReport) {
	if len(m) == 0 {
		return
	}
	rep.Diff = m.mask(rep.Diff)
	for i := range rep.Warnings {
		rep.Warnings[i] = m.mask(rep.Warnings[i])
	}
	if r := rep.Result; r != nil {
		r.Command = m.mask(r.Command)
		for i := range r.Args {
			r.Args[i] = m.mask(r.Args[i])
		}
	}
	if v := rep.Verified; v != nil {
		v.Identity = m.mask(v.Identity)
	}
}

func jsonQuote(s string) string {
	var b strings.Builder
	_ = writeJSON(&b, s)
	return strings.TrimSpace(b.String())
}
