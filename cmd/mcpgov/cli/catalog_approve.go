package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/catalog/vet"
	"github.com/mcpgov/mcpgov/scan/finding"
)

// CatalogApproveOptions are the inputs of `mcpgov catalog approve`.
type CatalogApproveOptions struct {
	IO      *IOStreams
	Factory *Factory
	reviewSource
	ID             string
	Reviewer       string
	Notes          string
	NoVet          bool
	AcceptFindings bool
}

func newCatalogApproveCmd(f *Factory, runF func(context.Context, *CatalogApproveOptions) error) *cobra.Command {
	opts := &CatalogApproveOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "approve ID --reviewer NAME (--report FILE | --connect | --no-vet)",
		Short: "Approve a catalog server and record the review evidence and pins",
		Long: `Set the server's status to approved and write the evidence into catalog.toml:
reviewer, date, the digest of the vetting findings, and a pin (fingerprint) for
every tool the reviewed server advertised. The review comes from a saved
"catalog vet --json" report (--report), or from vetting now (--connect).
Approving without vetting needs --no-vet and records no pins.

A review with high or critical findings is refused unless --accept-findings
says a person read them. catalog.toml is edited in place: only the touched
keys change; comments and layout are kept.`,
		Example: `  mcpgov catalog vet everything --connect --json > vet.json
  mcpgov catalog approve everything --reviewer sec-team --report vet.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			n := 0
			for _, set := range []bool{opts.Report != "", opts.Connect, opts.NoVet} {
				if set {
					n++
				}
			}
			switch {
			case opts.Reviewer == "":
				return flagErrorf("--reviewer is required")
			case n != 1:
				return flagErrorf("give exactly one of --report FILE, --connect or --no-vet")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return catalogApproveRun(cmd.Context(), opts)
		},
	}
	addVetFlags(cmd, &opts.Bundle, &opts.Connect, &opts.Timeout, &opts.Headers)
	cmd.Flags().StringVar(&opts.Reviewer, "reviewer", "", "who reviewed the server (recorded as evidence)")
	cmd.Flags().StringVar(&opts.Notes, "notes", "", "review notes to record")
	cmd.Flags().StringVar(&opts.Report, "report", "", "a saved `catalog vet --json` report to take findings and fingerprints from")
	cmd.Flags().BoolVar(&opts.NoVet, "no-vet", false, "approve without a vetting report (no pins are recorded)")
	cmd.Flags().BoolVar(&opts.AcceptFindings, "accept-findings", false, "approve although the review has high or critical findings")
	return cmd
}

func catalogApproveRun(ctx context.Context, opts *CatalogApproveOptions) error {
	b, doc, err := opts.load(ctx, opts.Factory, opts.ID)
	if err != nil {
		return err
	}
	review := catalog.Review{Reviewer: opts.Reviewer, Date: opts.Factory.Now().UTC(), Notes: opts.Notes}
	changes := []catalog.Change{catalog.SetStatus(catalog.StatusApproved)}
	if doc != nil {
		serious := 0
		for _, fd := range allFindings(doc.Report) {
			if fd.Severity.Rank() >= finding.SeverityHigh.Rank() {
				serious++
			}
		}
		if serious > 0 && !opts.AcceptFindings {
			return withHint(fmt.Errorf("the review of %s has %s at high or critical severity; not approved", opts.ID, plural(serious, "finding", "findings")),
				"read them (`mcpgov catalog vet "+opts.ID+" --connect`), then pass --accept-findings if the server is fine")
		}
		review.FindingsDigest = doc.Digest
		changes = append(changes, catalog.SetPins(pinsOf(doc.Report))...)
	}
	changes = append(changes, catalog.SetReview(review)...)
	path := filepath.Join(b.Dir, catalog.CatalogFile)
	if err := catalog.EditServer(path, opts.ID, changes...); err != nil {
		return fmt.Errorf("approve %s: %w", opts.ID, err)
	}
	if doc != nil {
		opts.IO.Notef("%s approved in %s with %s pinned (findings digest %s)", opts.ID, path, plural(len(doc.Report.Tools), "tool", "tools"), doc.Digest)
	} else {
		opts.IO.Notef("%s approved in %s without vetting; no tools pinned", opts.ID, path)
	}
	return nil
}

// reviewSource says where approve and pin take their review from: a saved
// vet report, or vetting now.
type reviewSource struct {
	Bundle  string
	Report  string
	Connect bool
	Timeout time.Duration
	Headers []string
}

// load returns the bundle and the review of server id; the review is nil
// when neither a report nor --connect was given.
func (r reviewSource) load(ctx context.Context, f *Factory, id string) (*catalog.Bundle, *VetDocument, error) {
	b, err := loadBundle(f, r.Bundle)
	if err != nil {
		return nil, nil, err
	}
	if b.Catalog.Server(id) == nil {
		return nil, nil, fmt.Errorf("no server %q in %s", id, b.Catalog.File)
	}
	var doc *VetDocument
	switch {
	case r.Report != "":
		doc, err = readVetDocument(r.Report, id)
	case r.Connect:
		doc, err = vetServer(ctx, f, b, id, r.Timeout, r.Headers)
	}
	return b, doc, err
}

func pinsOf(r *vet.Report) map[string]string {
	pins := make(map[string]string, len(r.Tools))
	for _, t := range r.Tools {
		pins[t.Name] = t.Fingerprint
	}
	return pins
}
