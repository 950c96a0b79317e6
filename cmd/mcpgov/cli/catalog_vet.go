package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/catalog/vet"
	"github.com/mcpgov/mcpgov/policy/guard/review"
	"github.com/mcpgov/mcpgov/scan/finding"
)

// CatalogVetOptions are the inputs of `mcpgov catalog vet`.
type CatalogVetOptions struct {
	IO      *IOStreams
	Factory *Factory
	Bundle  string
	ID      string
	Connect bool
	Timeout time.Duration
	Headers []string
	JSON    bool
	FailOn  string
}

func newCatalogVetCmd(f *Factory, runF func(context.Context, *CatalogVetOptions) error) *cobra.Command {
	opts := &CatalogVetOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "vet ID --connect",
		Short: "Connect to a catalog server and review its tools",
		Long: `Start the server (stdio) or contact it (URL) with the launch parameters in the
catalog, list its tools, prompts, resources and resource templates, and review
every tool for poisoning: hidden Unicode, imperative markup such as
<IMPORTANT>, instructions to read sensitive paths, to conceal things from the
user, to exfiltrate data, or to shadow other servers' tools. Every tool gets a
fingerprint (SHA-256 over the canonical JSON of its definition), compared with
the catalog's pins: new, removed, drifted (same name, changed definition) and
renamed (same definition, new name) tools are listed.

Connecting is opt-in (--connect) because it runs the server's command or
contacts its URL. The environment variables the catalog lists under
launch.env are passed through from this environment. Nothing is written; use
"mcpgov catalog approve" or "mcpgov catalog pin" to record the result.`,
		Example: `  mcpgov catalog vet everything --connect
  mcpgov catalog vet github --connect --header "Authorization: Bearer $TOKEN" --json > github-vet.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if !opts.Connect {
				return flagErrorf("vetting starts the server's command or contacts its URL; pass --connect to allow it")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return catalogVetRun(cmd.Context(), opts)
		},
	}
	addVetFlags(cmd, &opts.Bundle, &opts.Connect, &opts.Timeout, &opts.Headers)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the review report as JSON (input for approve/pin --report)")
	cmd.Flags().StringVar(&opts.FailOn, "fail-on", "", "exit 3 when a finding at or above this severity exists, or (for any value) a pinned tool drifted or was renamed or removed")
	return cmd
}

func addVetFlags(cmd *cobra.Command, bundle *string, connect *bool, timeout *time.Duration, headers *[]string) {
	cmd.Flags().StringVar(bundle, "bundle", "", "governance bundle directory")
	cmd.Flags().BoolVar(connect, "connect", false, "allow starting or contacting the server")
	cmd.Flags().DurationVar(timeout, "timeout", vet.DefaultTimeout, "give up when the server has not answered everything within this time")
	cmd.Flags().StringArrayVar(headers, "header", nil, `HTTP header "Name: value" for a remote server (repeatable)`)
}

// VetDocument is the JSON that `catalog vet --json` prints and that
// approve/pin read back with --report.
type VetDocument struct {
	SchemaVersion int         `json:"schemaVersion"`
	Server        string      `json:"server"`
	VettedAt      time.Time   `json:"vettedAt"`
	Digest        string      `json:"findingsDigest"`
	Report        *vet.Report `json:"report"`
}

// vetServer connects to catalog server id and reviews it.
func vetServer(ctx context.Context, f *Factory, b *catalog.Bundle, id string, timeout time.Duration, headers []string) (*VetDocument, error) {
	c := b.Catalog
	s := c.Server(id)
	if s == nil {
		return nil, fmt.Errorf("no server %q in %s", id, c.File)
	}
	ep := vet.Endpoint{Command: s.Launch.Command, Args: s.Launch.Args, URL: s.Launch.URL, Headers: map[string]string{}}
	if ep.Command == "" && ep.URL == "" {
		return nil, withHint(fmt.Errorf("server %s has no launch parameters to connect with", id), "add [servers."+id+".launch] with command/args or url")
	}
	for _, name := range s.Launch.Env {
		if v, ok := f.lookupEnv(name); ok {
			ep.Env = append(ep.Env, name+"="+v)
		} else {
			f.IO.Warnf("%s is not set; the server may fail without it", name)
		}
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return nil, flagErrorf("invalid --header %q: want \"Name: value\"", h)
		}
		ep.Headers[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	var others []string
	for _, o := range c.Servers {
		if o.ID != id {
			others = append(others, sortedKeys(o.Pins)...)
		}
	}
	// The server's own stderr is not passed through: when the vet fails,
	// its last lines are quoted in the error, which would otherwise
	// repeat them (and every line on stderr is mcpgov's).
	rep, err := vet.Run(ctx, ep, vet.Options{Pins: s.Pins, OtherTools: others, Timeout: timeout})
	if err != nil {
		var ve *vet.Error
		if errors.As(err, &ve) {
			return nil, withHint(fmt.Errorf("vet %s: %w", id, err), ve.Hint())
		}
		return nil, fmt.Errorf("vet %s: %w", id, err)
	}
	return &VetDocument{SchemaVersion: 1, Server: id, VettedAt: f.Now().UTC(), Digest: rep.Digest(), Report: rep}, nil
}

func catalogVetRun(ctx context.Context, opts *CatalogVetOptions) error {
	var failOn finding.Severity
	if opts.FailOn != "" {
		sev, ok := finding.ParseSeverity(opts.FailOn)
		if !ok {
			return flagErrorf("invalid --fail-on %q: want low, medium, high or critical", opts.FailOn)
		}
		failOn = sev
	}
	b, err := loadBundle(opts.Factory, opts.Bundle)
	if err != nil {
		return err
	}
	doc, err := vetServer(ctx, opts.Factory, b, opts.ID, opts.Timeout, opts.Headers)
	if err != nil {
		return err
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, doc); err != nil {
			return err
		}
	} else {
		printVet(opts.IO, doc)
	}
	if failOn != "" {
		n := 0
		for _, fd := range allFindings(doc.Report) {
			if fd.Severity.Rank() >= failOn.Rank() {
				n++
			}
		}
		for _, ch := range doc.Report.PinChanges {
			if ch.Kind != catalog.PinNew {
				n++
			}
		}
		if n > 0 {
			return &FindingsError{Summary: fmt.Sprintf("%s at or above %s or on pinned tools (--fail-on %s)", plural(n, "finding", "findings"), failOn, failOn)}
		}
	}
	return nil
}

func allFindings(r *vet.Report) []review.Finding {
	out := append([]review.Finding{}, r.Findings...)
	for _, t := range r.Tools {
		out = append(out, t.Findings...)
	}
	return out
}

func printVet(io *IOStreams, doc *VetDocument) {
	p := palette{on: io.ColorEnabled()}
	r := doc.Report
	fmt.Fprintf(io.Out, "%s %s: %s %s, protocol %s, vetted in %s\n", p.bold("server"), doc.Server, r.Server.Name, r.Server.Version, r.Server.ProtocolVersion, r.Duration.Round(time.Millisecond))
	fmt.Fprintf(io.Out, "%s, %s, %s, %s\n\n", plural(len(r.Tools), "tool", "tools"), plural(len(r.Prompts), "prompt", "prompts"),
		plural(len(r.Resources), "resource", "resources"), plural(len(r.ResourceTemplates), "resource template", "resource templates"))
	w := newTabWriter(io.Out)
	fmt.Fprintln(w, p.bold("TOOL\tFINGERPRINT\tFINDINGS"))
	for _, t := range r.Tools {
		top, n := "", len(t.Findings)
		for _, fd := range t.Findings {
			if fd.Severity.Rank() > finding.Severity(top).Rank() {
				top = string(fd.Severity)
			}
		}
		findings := "-"
		if n > 0 {
			findings = p.severity(top, fmt.Sprintf("%s (%d)", top, n))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", t.Name, shortFingerprint(t.Fingerprint), findings)
	}
	_ = w.Flush()
	if len(allFindings(r)) > 0 {
		fmt.Fprintln(io.Out)
	}
	for _, t := range r.Tools {
		for _, fd := range t.Findings {
			fmt.Fprintf(io.Out, "%s %s [%s] %s: %s\n    evidence: %s\n", p.severity(string(fd.Severity), string(fd.Severity)), t.Name, fd.Rule, fd.Field, fd.Message, fd.Evidence)
		}
	}
	for _, fd := range r.Findings {
		fmt.Fprintf(io.Out, "%s (server) [%s] %s: %s\n    evidence: %s\n", p.severity(string(fd.Severity), string(fd.Severity)), fd.Rule, fd.Field, fd.Message, fd.Evidence)
	}
	if len(r.PinChanges) > 0 {
		fmt.Fprintln(io.Out)
		for _, ch := range r.PinChanges {
			switch ch.Kind {
			case catalog.PinRenamed:
				fmt.Fprintf(io.Out, "renamed  %s → %s (same definition as the pinned one)\n", ch.From, ch.Tool)
			case catalog.PinDrift:
				fmt.Fprintf(io.Out, "drift    %s: pinned %s, now %s\n", ch.Tool, shortFingerprint(ch.Pinned), shortFingerprint(ch.Current))
			case catalog.PinRemoved:
				fmt.Fprintf(io.Out, "removed  %s (pinned, no longer advertised)\n", ch.Tool)
			case catalog.PinNew:
				fmt.Fprintf(io.Out, "new      %s (not pinned)\n", ch.Tool)
			}
		}
	}
	fmt.Fprintf(io.Out, "\nfindings digest %s\n", doc.Digest)
}

func shortFingerprint(fp string) string {
	if len(fp) > 19 {
		return fp[:19] + "…"
	}
	return fp
}

// readVetDocument loads a `catalog vet --json` report for approve/pin.
func readVetDocument(path, id string) (*VetDocument, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc VetDocument
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s is not a vet report: %w", path, err)
	}
	switch {
	case doc.SchemaVersion != 1 || doc.Report == nil:
		return nil, fmt.Errorf("%s is not a vet report (produce one with `mcpgov catalog vet %s --connect --json`)", path, id)
	case doc.Server != id:
		return nil, fmt.Errorf("%s reviews server %q, not %q", path, doc.Server, id)
	case doc.Digest != doc.Report.Digest():
		return nil, fmt.Errorf("%s was edited after vetting: its findings digest does not match its findings", path)
	}
	return &doc, nil
}
