package cli

import (
	"fmt"
	"strings"

	"github.com/mcpgov/mcpgov/scan"
	"github.com/mcpgov/mcpgov/scan/finding"
)

// worst returns a server's highest finding severity and the finding count.
func worst(s scan.Server) (finding.Severity, int) {
	var top finding.Severity
	for _, f := range s.Findings {
		if f.Severity.Rank() > top.Rank() {
			top = f.Severity
		}
	}
	return top, len(s.Findings)
}

func location(s scan.Server) string {
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

func printScanTable(io *IOStreams, rep *scan.Report) {
	p := palette{on: io.ColorEnabled()}
	w := newTabWriter(io.Out)
	fmt.Fprintln(w, p.bold("CLIENT\tSCOPE\tNAME\tTRANSPORT\tIDENTITY\tGOVERNED\tFINDINGS\tFILE"))
	for _, s := range rep.Servers {
		top, n := worst(s)
		findings := "-"
		if n > 0 {
			findings = p.severity(string(top), fmt.Sprintf("%s (%d)", top, n))
		}
		name := s.Name
		if s.Disabled {
			name += p.dim(" (disabled)")
		}
		governed := "no"
		if s.Governed {
			governed = "yes"
		}
		if len(s.WrappedBy) > 0 {
			governed += " via " + strings.Join(s.WrappedBy, ",")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Client, s.Scope, name, s.Transport, s.Identity, governed, findings, p.dim(location(s)))
	}
	_ = w.Flush()

	counts := map[finding.Severity]int{}
	clients := map[string]bool{}
	for _, s := range rep.Servers {
		clients[s.Client] = true
		for _, f := range s.Findings {
			counts[f.Severity]++
		}
	}
	var parts []string
	for _, sev := range []finding.Severity{finding.SeverityCritical, finding.SeverityHigh, finding.SeverityMedium, finding.SeverityLow} {
		if counts[sev] > 0 {
			parts = append(parts, p.severity(string(sev), fmt.Sprintf("%d %s", counts[sev], sev)))
		}
	}
	summary := fmt.Sprintf("\n%s from %s in %s", plural(len(rep.Servers), "server", "servers"), plural(len(clients), "client", "clients"), plural(rep.Host.Files, "file", "files"))
	if len(parts) > 0 {
		summary += "; findings: " + strings.Join(parts, ", ")
	}
	fmt.Fprintln(io.Out, summary)
	if len(rep.Errors) > 0 {
		lines := make([]string, len(rep.Errors))
		for i, e := range rep.Errors {
			lines[i] = fileErrorText(e)
		}
		io.Warnf("%s could not be read; the servers they configure are missing above:\n%s", plural(len(rep.Errors), "file", "files"), strings.Join(lines, "\n"))
	}
}

// scanLineHeader names printScanPlain's columns (--format tsv).
const scanLineHeader = "CLIENT\tSCOPE\tNAME\tTRANSPORT\tIDENTITY\tGOVERNED\tDISABLED\tSEVERITY\tFINDINGS\tLOCATION"

// printScanPlain writes one tab-separated line per server, for scripts:
// client, scope, name, transport, identity, governed, disabled, top
// severity, finding count, file:line; with header, a line naming them
// first.
func printScanPlain(io *IOStreams, rep *scan.Report, header bool) {
	if header {
		fmt.Fprintln(io.Out, scanLineHeader)
	}
	for _, s := range rep.Servers {
		top, n := worst(s)
		sev := string(top)
		if sev == "" {
			sev = "-"
		}
		fmt.Fprintf(io.Out, "%s\t%s\t%s\t%s\t%s\t%t\t%t\t%s\t%d\t%s\n", s.Client, s.Scope, s.Name, s.Transport, s.Identity, s.Governed, s.Disabled, sev, n, location(s))
	}
}
