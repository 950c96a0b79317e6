package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/audit/objstore"
)

// AuditVerifyOptions are the inputs of `mcpgov audit verify`.
type AuditVerifyOptions struct {
	IO        *IOStreams
	Factory   *Factory
	Ctx       context.Context
	Dir       string
	Key       string
	Witness   []string
	NoWitness bool
	Remote    string
	Replicas  []string
	// RequireKey refuses a --remote check without --key.
	RequireKey bool
	JSON       bool
}

func newAuditVerifyCmd(f *Factory, runF func(*AuditVerifyOptions) error) *cobra.Command {
	opts := &AuditVerifyOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "verify [DIR]",
		Short: "Check that the audit trail is complete and unedited",
		Long: `Check every segment of the audit store: each record follows the previous one
(seq) and carries the SHA-256 of its line (prev), every signed checkpoint
verifies and matches the chain, and no checkpoint vouches for more records
than remain. Then compare the chain with every checkpoint its witnesses hold
([audit] witness in config.toml, or --witness): a witnessed checkpoint beyond
the end of the chain means records were removed (truncated); one whose record
hashes differently here means the history was rewritten and signed again
(forked); a witness that saw the chain shrink means it was put back to an
older copy (rollback); witnessed checkpoints under a key this check does not
trust mean the store was re-keyed.

Exit 0 when all holds; exit 3 naming what was found where, and what to do;
exit 1 when a witness cannot be read. Records after the last witnessed
checkpoint are reported: until a witness holds one that covers them, the
owner of this machine can change or remove them unnoticed. Without a witness
the checkpoints are signed with a key on this machine, which shows the trail
is intact but not that its owner left it alone (see mcpgov help
audit-threats). A last line cut short by a killed writer (never acknowledged
to any client) is reported, not failed.

The verifier key is the store's signing.pub, or the one of [audit]
signing_key when a config sets it; --key pins another.

With --remote s3://BUCKET/PREFIX, check the central copy audit ship --s3
wrote instead of a local store, on its own: for each replica, its objects
cover every seq from 1 with no gap (a gap is a deleted object), each
record's line chains to the one before it across objects, each row's
columns are those of its line (an edited row), and every checkpoint in the
bucket verifies and matches its record; as checkpoints are shipped only
after the records they reach, one beyond the last object means the newest
objects were deleted. In a versioned bucket (Object Lock needs one), a key
with more than one version was hidden behind a delete marker and written
again (replaced): mcpgov writes each key once. The keys are those shipped
beside the objects unless --key pins them: then a warning says so, as
whoever can write to the bucket could rewrite the records and sign the new
history with a key of their own; --require-key refuses to run without
--key. Objects are read one at a time through a temporary file, a batch
of rows in memory at once. Credentials as for audit ship --s3.`,
		Example: `  mcpgov audit verify
  mcpgov audit verify ./audit-copy --key "$(cat signing.pub)" --witness https://gateway.example.com/v1/checkpoints
  mcpgov audit verify --witness /var/log/mcpgov/witness
  mcpgov audit verify --remote s3://audit-lake/mcpgov --key "$(cat gw-1.pub)"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if opts.Dir != "" {
					return flagErrorf("give the store as DIR or --dir, not both")
				}
				opts.Dir = args[0]
			}
			if opts.NoWitness && len(opts.Witness) > 0 {
				return flagErrorf("give --witness or --no-witness, not both")
			}
			for _, w := range opts.Witness {
				if _, err := audit.NewWitness(w); err != nil {
					return &FlagError{Err: fmt.Errorf("--witness: %w", err)}
				}
			}
			if opts.Remote != "" {
				if opts.Dir != "" || len(opts.Witness) > 0 || opts.NoWitness {
					return flagErrorf("--remote checks the bucket on its own: drop DIR, --dir, --witness and --no-witness")
				}
				if _, err := objstore.ParseURL(opts.Remote); err != nil {
					return &FlagError{Err: fmt.Errorf("--remote: %w", err)}
				}
				if opts.RequireKey && opts.Key == "" {
					return withHint(flagErrorf("--require-key: no --key given, and the keys in the bucket are not trusted"),
						"pin each replica's verifier key: --key \"$(cat gw-1.pub) $(cat gw-2.pub)\" (a store's signing.pub)")
				}
			} else if len(opts.Replicas) > 0 || opts.RequireKey {
				return flagErrorf("--replica and --require-key go with --remote")
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			if opts.Remote != "" {
				return auditVerifyRemote(opts)
			}
			return auditVerifyRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "audit store (default: MCPGOV_AUDIT_DIR, [audit] dir, $XDG_STATE_HOME/mcpgov/audit)")
	cmd.Flags().StringVar(&opts.Key, "key", "", "verifier key checkpoints must be signed with (default: [audit] signing_key's, else the store's signing.pub)")
	cmd.Flags().StringArrayVar(&opts.Witness, "witness", nil, "compare with the checkpoints this witness holds, a path or URL (repeatable; default: [audit] witness)")
	cmd.Flags().BoolVar(&opts.NoWitness, "no-witness", false, "check the local chain only")
	cmd.Flags().StringVar(&opts.Remote, "remote", "", "check the central copy in s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=true] instead of a local store")
	cmd.Flags().StringArrayVar(&opts.Replicas, "replica", nil, "with --remote, check only this replica (repeatable)")
	cmd.Flags().BoolVar(&opts.RequireKey, "require-key", false, "with --remote, refuse to check without --key rather than trust the verifier keys found in the bucket")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the report as JSON")
	return cmd
}

// auditVerifyRemote is audit verify --remote.
func auditVerifyRemote(opts *AuditVerifyOptions) error {
	b, err := openS3(opts.Factory, opts.Remote)
	if err != nil {
		return err
	}
	ctx := opts.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	keysFrom := "pinned"
	if opts.Key == "" {
		keysFrom = "bucket"
		opts.IO.Warnf("checkpoints are checked with the verifier keys found in the bucket (keys/replica=NAME/): whoever can write to it can rewrite records and sign the new history with a key of their own, and this check would pass")
		opts.IO.Hintf("pin each replica's key with --key (its store's signing.pub); --require-key refuses to run without it")
	}
	rep, err := objstore.Verify(ctx, b, objstore.VerifyOptions{Keys: opts.Key, Replicas: opts.Replicas})
	if err != nil {
		return withHint(fmt.Errorf("verify %s: %w", b.Location(), err), "check the URL, the endpoint and the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
	}
	if len(rep.Replicas) == 0 && len(rep.Findings) == 0 {
		return withHint(fmt.Errorf("no audit objects under %s", b.Location()), "ship a store there first: mcpgov audit ship --s3 URL --replica NAME")
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, struct {
			SchemaVersion int `json:"schemaVersion"`
			*objstore.VerifyReport
			// KeysFrom says which verifier keys checkpoints were checked
			// with: "pinned" (--key) or "bucket" (the ones shipped there).
			KeysFrom string `json:"keysFrom"`
			OK       bool   `json:"ok"`
		}{1, rep, keysFrom, len(rep.Findings) == 0}); err != nil {
			return err
		}
	} else {
		w := opts.IO.Out
		for _, f := range rep.Findings {
			fmt.Fprintf(w, "FAILED: replica %s: %s: %s\n  what to do: %s\n", f.Replica, f.Kind, f.Reason, f.Action)
		}
		for _, r := range rep.Replicas {
			fmt.Fprintf(w, "replica %s: %s in %s (seq %d-%d), %s, the latest matched at seq %d\n", r.Replica,
				plural(int(r.Records), "record", "records"), plural(r.Objects, "object", "objects"), r.FirstSeq, r.LastSeq,
				plural(r.Checkpoints, "signed checkpoint", "signed checkpoints"), r.Matched)
			if r.Unwitnessed > 0 {
				fmt.Fprintf(w, "note: replica %s: the last %s follow its last checkpoint in the bucket\n", r.Replica, plural(int(r.Unwitnessed), "record", "records"))
			}
		}
	}
	if n := len(rep.Findings); n > 0 {
		f := rep.Findings[0]
		more := ""
		if n > 1 {
			more = fmt.Sprintf(" (and %d more)", n-1)
		}
		return &FindingsError{Summary: fmt.Sprintf("central audit copy %s does not verify: replica %s: %s: %s%s", b.Location(), f.Replica, f.Kind, f.Reason, more)}
	}
	return nil
}

type auditVerifyReport struct {
	SchemaVersion int `json:"schemaVersion"`
	*audit.VerifyReport
	OK       bool                   `json:"ok"`
	Error    *audit.ChainError      `json:"error,omitempty"`
	Findings []audit.WitnessFinding `json:"findings,omitempty"`
	// Unread are the witnesses that could not be read.
	Unread []witnessUnread `json:"unread,omitempty"`
	// NoWitness is true when no witness was consulted.
	NoWitness bool `json:"noWitness"`
}

type witnessUnread struct {
	Witness string `json:"witness"`
	Error   string `json:"error"`
}

// witnessTimeout bounds how long verify waits for each witness.
const witnessTimeout = 30 * time.Second

func auditVerifyRun(opts *AuditVerifyOptions) error {
	s, err := existingTrail(opts.Factory, opts.Dir)
	if err != nil {
		return err
	}
	key := opts.Key
	if key == "" && s.KeyFrom != "" {
		if key, err = audit.VerifierKeyFile(s.Options.KeyPath); err != nil {
			return withHint(fmt.Errorf("verifier key from %s: %w", s.KeyFrom, err), "pass the verifier key with --key")
		}
	}
	witnesses := s.NewWitnesses()
	switch {
	case opts.NoWitness:
		witnesses = nil
	case len(opts.Witness) > 0:
		witnesses = nil
		for _, spec := range opts.Witness {
			w, _ := audit.NewWitness(spec) // checked with the flags
			witnesses = append(witnesses, w)
		}
	}
	id, err := audit.StoreID(s.Dir)
	if err != nil {
		return err
	}
	var sets []audit.WitnessSet
	var unread []witnessUnread
	if id != "" {
		ctx := opts.Ctx
		if ctx == nil {
			ctx = context.Background()
		}
		for _, w := range witnesses {
			wctx, cancel := context.WithTimeout(ctx, witnessTimeout)
			entries, err := w.Checkpoints(wctx, id)
			cancel()
			if err != nil {
				unread = append(unread, witnessUnread{Witness: w.String(), Error: err.Error()})
				continue
			}
			sets = append(sets, audit.WitnessSet{Witness: w.String(), Entries: entries})
		}
	}
	rep, verr := audit.Verify(s.Dir, audit.VerifyOptions{Key: key, Witnessed: sets})
	var chain *audit.ChainError
	var witnessed *audit.WitnessError
	if verr != nil && !errors.As(verr, &chain) && !errors.As(verr, &witnessed) {
		return fmt.Errorf("verify audit trail %s: %w", s.Dir, verr)
	}
	out := auditVerifyReport{SchemaVersion: 1, VerifyReport: rep, OK: verr == nil && len(unread) == 0, Error: chain, Unread: unread,
		NoWitness: len(witnesses) == 0}
	if witnessed != nil {
		out.Findings = witnessed.Findings
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, out); err != nil {
			return err
		}
	} else {
		printVerify(opts.IO.Out, out, len(witnesses), id)
	}
	switch {
	case chain != nil:
		return &FindingsError{Summary: "audit trail does not verify: " + chain.Error()}
	case witnessed != nil:
		return &FindingsError{Summary: "audit trail disagrees with its witness: " + witnessed.Error()}
	case len(unread) > 0:
		return withHint(fmt.Errorf("could not read witness %s: %s", unread[0].Witness, unread[0].Error),
			"check the witness setting ([audit] witness, or --witness), or check the local chain alone with --no-witness")
	}
	return nil
}

func printVerify(w io.Writer, out auditVerifyReport, nWitnesses int, id string) {
	rep := out.VerifyReport
	if out.Error != nil {
		fmt.Fprintf(w, "FAILED: %s\n", out.Error)
		return
	}
	for _, f := range out.Findings {
		fmt.Fprintf(w, "FAILED: witness %s: %s: %s\n  what to do: %s\n", f.Witness, f.Kind, f.Reason, f.Action)
	}
	summary := fmt.Sprintf("%s in %s (seq %d-%d), %s, head %s", plural(int(rep.Records), "record", "records"),
		plural(rep.Segments, "segment", "segments"), rep.FirstSeq, rep.LastSeq, plural(rep.Checkpoints, "signed checkpoint", "signed checkpoints"), short(rep.Head))
	if len(out.Findings) > 0 {
		fmt.Fprintf(w, "note: on its own the chain holds: %s; so does a history cut short or signed again with this machine's key\n", summary)
		for _, u := range out.Unread {
			fmt.Fprintf(w, "note: witness %s could not be read: %s\n", u.Witness, u.Error)
		}
		return
	}
	fmt.Fprintf(w, "ok: %s\n", summary)
	for _, r := range rep.Witnesses {
		switch agreed := r.Checkpoints - r.BeforeStart; {
		case r.Checkpoints == 0:
			fmt.Fprintf(w, "note: witness %s holds no checkpoint of this trail (store %s): nothing here is witnessed yet\n", r.Witness, rep.Store)
		case agreed == 0:
			fmt.Fprintf(w, "note: witness %s holds no checkpoint of the records kept here, only of pruned ones\n", r.Witness)
		default:
			fmt.Fprintf(w, "ok: witness %s: %s agree with the chain, the latest at seq %d (signed %s)\n", r.Witness,
				plural(agreed, "checkpoint", "checkpoints"), r.Matched, r.MatchedTime.UTC().Format(time.RFC3339))
		}
		if r.Unwitnessed > 0 {
			fmt.Fprintf(w, "note: the last %s (seq %d-%d) follow the last checkpoint witnessed by %s: until one covers them, whoever controls this machine can change or remove them unnoticed\n",
				plural(int(r.Unwitnessed), "record", "records"), rep.LastSeq-r.Unwitnessed+1, rep.LastSeq, r.Witness)
		}
		if r.Rejected > 0 {
			fmt.Fprintf(w, "note: witness %s also holds %s for this trail that are not signed checkpoints; they vouch for nothing\n", r.Witness, plural(r.Rejected, "entry", "entries"))
		}
		if r.BeforeStart > 0 {
			fmt.Fprintf(w, "note: %s witnessed before the pruned start (seq %d) cannot be compared\n", plural(r.BeforeStart, "checkpoint", "checkpoints"), rep.FirstSeq)
		}
	}
	switch {
	case nWitnesses == 0:
		if rep.Unwitnessed > 0 {
			fmt.Fprintf(w, "note: the last %s follow the last checkpoint\n", plural(int(rep.Unwitnessed), "record", "records"))
		}
		fmt.Fprintln(w, "note: no witness was consulted: the checkpoints are signed with a key on this machine, so this shows the trail is intact, not that whoever controls this machine left it alone (mcpgov help audit-threats)")
	case id == "":
		fmt.Fprintln(w, "note: this trail has no store.id, so no witness knows it: it was never written with a witness configured, or store.id was removed")
	}
	if rep.TornTail != "" {
		fmt.Fprintf(w, "note: %s ends in an incomplete record from a killed writer (never acknowledged); the next append drops it\n", rep.TornTail)
	}
	if rep.Pruned {
		fmt.Fprintf(w, "note: pruned; the chain starts at seq %d (signed anchor)\n", rep.FirstSeq)
	}
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}
