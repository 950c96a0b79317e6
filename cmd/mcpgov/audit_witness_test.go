package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/audit/audittest"
	"github.com/mcpgov/mcpgov/catalog/catalogtest"
)

// witnessedTrail writes n records to a new store in dir whose checkpoints
// go to the witness, as the shim's store does, and closes it (which waits
// for the witness to take the last checkpoint).
func witnessedTrail(t *testing.T, dir string, w audit.Witness, n, from int) {
	t.Helper()
	var warned atomic.Value
	s, err := audit.Open(dir, audit.Options{MaxSegmentBytes: 8 << 10, CheckpointEvery: 40, Witnesses: []audit.Witness{w},
		Warn: func(m string) { warned.Store(m) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		r := &audit.Record{Kind: audit.KindToolCall, Tool: "read_file", Outcome: audit.OutcomeAllowed, Method: "tools/call",
			Identity:  audit.Identity{Subject: "user1", Method: "oidc"},
			Arguments: json.RawMessage(fmt.Sprintf(`{"path":"/tmp/f%d"}`, from+i)),
			Decision:  audit.Decision{Allow: true, Enforced: true, Mode: "enforce"}}
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if m := warned.Load(); m != nil {
		t.Fatalf("warning: %v", m)
	}
}

type run struct {
	stdout, stderr string
	code           int
}

// mcpgovSandboxed runs the real binary in a throwaway home with extra
// environment (a managed config, an audit dir).
func mcpgovSandboxed(t *testing.T, env []string, args ...string) run {
	t.Helper()
	cmd := exec.Command("mcpgov", args...)
	cmd.Env = sandboxEnv(t, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := run{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run mcpgov %v: %v", args, err)
	}
	return r
}

func (r run) want(t *testing.T, code int, stdout ...string) {
	t.Helper()
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Fatalf("exit %d, stdout lacks %q:\n%s%s", r.code, s, r.stdout, r.stderr)
		}
	}
	if r.code != code {
		t.Fatalf("exit %d, want %d:\n%s%s", r.code, code, r.stdout, r.stderr)
	}
}

// TestAuditWitnessTamper makes each change the owner of a trail can make
// and still have it verify on its own, and checks that `mcpgov audit
// verify` reports it against the witness with exit 3.
func TestAuditWitnessTamper(t *testing.T) {
	resign := func(dir string) {
		skey, err := audittest.StoreKey(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := audittest.Resign(dir, skey, func(seq uint64, line []byte) []byte {
			if seq == 50 {
				return bytes.Replace(line, []byte(`"outcome":"allowed"`), []byte(`"outcome":"denied"`), 1)
			}
			return line
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dir, wdir string)
		pin    bool     // verify with --key (the original signing.pub)
		want   []string // in stdout
	}{
		{"delete the newest records with their checkpoint", func(t *testing.T, dir, wdir string) {
			if err := audittest.Truncate(dir, 12); err != nil {
				t.Fatal(err)
			}
		}, false, []string{"FAILED: witness " + "WDIR: truncated: the witness holds a checkpoint of seq 150 ", "ends at seq 138 (audit-", "what to do: recover records seq 139-150"}},
		{"rewrite and re-sign with signing.key", func(t *testing.T, dir, wdir string) { resign(dir) }, false,
			[]string{"FAILED: witness WDIR: forked: ", "the history here is not the one the witness saw", "what to do: treat this trail as rewritten"}},
		{"rewrite and re-sign with signing.key, verify --key", func(t *testing.T, dir, wdir string) { resign(dir) }, true,
			[]string{"FAILED: witness WDIR: forked: "}},
		{"re-key and re-sign", func(t *testing.T, dir, wdir string) {
			skey, err := audittest.Rekey(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := audittest.Resign(dir, skey, func(_ uint64, l []byte) []byte { return l }); err != nil {
				t.Fatal(err)
			}
		}, false, []string{"FAILED: witness WDIR: rekeyed: "}},
		{"put back an older copy and write on", func(t *testing.T, dir, wdir string) {
			// The copy from seq 100 comes back; 120 new records follow.
			backup := filepath.Join(t.TempDir(), "copy")
			if err := os.Rename(dir+".at100", backup); err != nil {
				t.Fatal(err)
			}
			os.RemoveAll(dir)
			if err := os.Rename(backup, dir); err != nil {
				t.Fatal(err)
			}
			witnessedTrail(t, dir, &audit.FileWitness{Path: wdir}, 120, 5000)
		}, false, []string{"FAILED: witness WDIR: forked: ", "FAILED: witness WDIR: rollback: the witness holds a checkpoint of seq 150 "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, wdir := filepath.Join(t.TempDir(), "trail"), t.TempDir()
			w := &audit.FileWitness{Path: wdir}
			witnessedTrail(t, dir, w, 100, 0)
			if err := os.CopyFS(dir+".at100", os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			witnessedTrail(t, dir, w, 50, 100)
			pub, err := os.ReadFile(filepath.Join(dir, audit.PubName))
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"audit", "verify", dir, "--witness", wdir}
			if tc.pin {
				args = append(args, "--key", strings.TrimSpace(string(pub)))
			}
			mcpgovSandboxed(t, nil, args...).want(t, 0, "ok: 150 records", "ok: witness "+wdir+": ")

			tc.tamper(t, dir, wdir)
			local := []string{"audit", "verify", dir, "--no-witness"}
			if tc.pin && tc.name != "re-key and re-sign" {
				local = append(local, "--key", strings.TrimSpace(string(pub)))
			}
			mcpgovSandboxed(t, nil, local...).want(t, 0, "ok: ", "note: no witness was consulted")

			r := mcpgovSandboxed(t, nil, args...)
			var want []string
			for _, s := range tc.want {
				want = append(want, strings.ReplaceAll(s, "WDIR", wdir))
			}
			r.want(t, 3, want...)
			if !strings.Contains(r.stderr, "audit trail disagrees with its witness") {
				t.Fatalf("stderr: %s", r.stderr)
			}
			t.Log(r.stdout)
		})
	}
}

// TestAuditWitnessShimHTTP runs the real shim with an HTTP witness named in
// the managed config: a real loopback server that refuses the first post.
// The checkpoints arrive, verify uses the configured witness by default,
// and removing the last record shows.
func TestAuditWitnessShimHTTP(t *testing.T) {
	var posts atomic.Int32
	backing := &audit.FileWitness{Path: t.TempDir()}
	h := audit.WitnessHandler(backing)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && posts.Add(1) == 1 {
			http.Error(rw, "not yet", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(rw, r)
	}))
	defer srv.Close()
	url := srv.URL + "/v1/checkpoints"
	home := t.TempDir()
	managed := filepath.Join(home, "managed.toml")
	if err := os.WriteFile(managed, []byte(fmt.Sprintf("[audit]\nwitness = [%q]\n", url)), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, "trail")
	env := []string{"MCPGOV_MANAGED_CONFIG=" + managed, "MCPGOV_AUDIT_DIR=" + dir}

	cmd := exec.Command("mcpgov", "shim", "--bundle", writeBundle(t), "--", "fake-mcp-server")
	cmd.Env = sandboxEnv(t, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "witness", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 30 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: catalogtest.ToolEcho, Arguments: map[string]any{"message": fmt.Sprint(i)}})
		if err != nil || res.IsError {
			t.Fatalf("tools/call: %v %+v", err, res)
		}
	}
	// Closing waits for the shim to exit, which it does once the witness
	// has the last checkpoint.
	if err := cs.Close(); err != nil {
		t.Logf("shim: %v", err)
	}
	if n := strings.Count(stderr.String(), "mcpgov: warning: witness "+url+" did not take the checkpoint"); n != 1 {
		t.Fatalf("want one warning for the refused post, got %d:\n%s", n, stderr.String())
	}
	if posts.Load() < 2 {
		t.Fatalf("%d posts", posts.Load())
	}
	r := mcpgovSandboxed(t, env, "audit", "verify")
	r.want(t, 0, "ok: 3 records", "ok: witness "+url+": ", "the latest at seq 3 ")

	if err := audittest.Truncate(dir, 1); err != nil {
		t.Fatal(err)
	}
	mcpgovSandboxed(t, env, "audit", "verify", "--no-witness").want(t, 0, "ok: 2 records")
	r = mcpgovSandboxed(t, env, "audit", "verify", "--json")
	r.want(t, 3)
	var rep struct {
		OK       bool `json:"ok"`
		Findings []struct {
			Witness string `json:"witness"`
			Kind    string `json:"kind"`
			Seq     uint64 `json:"seq"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.OK || len(rep.Findings) != 1 ||
		rep.Findings[0].Kind != audit.FindingTruncated || rep.Findings[0].Seq != 3 || rep.Findings[0].Witness != url {
		t.Fatalf("%v %+v\n%s", err, rep, r.stdout)
	}
}
