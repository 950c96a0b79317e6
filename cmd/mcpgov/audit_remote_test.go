package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mcpgov/mcpgov/audit/objstore/s3test"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// s3Run runs the real binary with the object store's credentials in its
// environment, as a deployment gives them.
func s3Run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command("mcpgov", args...)
	cmd.Env = append(os.Environ(), "MCPGOV_CONFIG=", "MCPGOV_BUNDLE=", "AWS_ACCESS_KEY_ID="+s3test.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3test.SecretKey)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run mcpgov %v: %v", args, err)
	}
	if strings.Contains(out.String()+errOut.String(), s3test.SecretKey) {
		t.Fatalf("mcpgov %v printed the secret access key", args)
	}
	return out.String(), errOut.String(), code
}

// TestAuditShipS3 is the central audit of several replicas in a real
// S3-compatible server (versitygw) with Object Lock: each replica's store
// ships as Parquet partitioned by day and replica; DuckDB's counts over
// the bucket equal audit query --count of each store; verify --remote
// holds; shipping again after the cursor is lost stores nothing twice; a
// deleted object is reported with its seq range while its locked version
// survives.
func TestAuditShipS3(t *testing.T) {
	if ok, err := haveProgram("duckdb-query"); err != nil {
		t.Fatal(err)
	} else if !ok {
		t.Skip("duckdb-query not installed (make e2e-deps)")
	}
	srv := s3test.Start(t)
	srv.Bucket(t, "lake", 1)
	url := srv.URL("lake", "audit")
	replicas := map[string]int{"gw-1": 150, "gw-2": 220, "gw-3": 90}
	dirs, objects := map[string]string{}, map[string]int{}
	for name, n := range replicas {
		dirs[name] = t.TempDir()
		seedTrail(t, dirs[name], n, 16<<10)
		out, errOut, code := s3Run(t, "audit", "ship", "--dir", dirs[name], "--s3", url, "--replica", name, "--batch", "40", "--json")
		if code != 0 {
			t.Fatalf("ship %s: exit %d\n%s", name, code, errOut)
		}
		var rep struct {
			Records     int    `json:"records"`
			Objects     int    `json:"objects"`
			Checkpoints int    `json:"checkpoints"`
			Cursor      int    `json:"cursor"`
			Lock        string `json:"objectLock"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Records != n || rep.Cursor != n || rep.Objects < n/40 || rep.Checkpoints == 0 {
			t.Fatalf("ship %s: %v\n%s", name, err, out)
		}
		objects[name] = rep.Objects
		if !strings.Contains(rep.Lock, "GOVERNANCE") {
			t.Fatalf("ship %s: object lock not seen: %q", name, rep.Lock)
		}
	}

	// A bucket without Object Lock works, with a warning.
	srv.Bucket(t, "open", 0)
	if _, errOut, code := s3Run(t, "audit", "ship", "--dir", dirs["gw-1"], "--s3", srv.URL("open", ""), "--replica", "gw-1"); code != 0 ||
		!strings.Contains(errOut, "mcpgov: warning: bucket s3://open: no object lock: whoever can write to the bucket can delete what was shipped") {
		t.Fatalf("ship to an unlocked bucket: exit %d\n%s", code, errOut)
	}

	// DuckDB reads the bucket's files where the server keeps them (no
	// httpfs offline), with dt and replica as Hive partitions.
	src := "read_parquet('" + filepath.Join(srv.Root, "lake", "audit", "records", "*", "*", "*.parquet") + "', hive_partitioning = true)"
	total, sum := 0, 0
	rows := duckdb(t, "SELECT replica, count(*) AS n, count(DISTINCT dt) AS days FROM "+src+" GROUP BY replica ORDER BY replica")
	if len(rows) != len(replicas) {
		t.Fatalf("DuckDB sees replicas %v", rows)
	}
	for _, row := range rows {
		name := row["replica"].(string)
		got, want := int(row["n"].(float64)), queryCount(t, "--dir", dirs[name])
		if got != want {
			t.Errorf("replica %s: DuckDB counts %d, audit query --count %d", name, got, want)
		}
		// seedTrail spreads the records over 3 days from 09:00 UTC.
		if days := int(row["days"].(float64)); days != 4 {
			t.Errorf("replica %s: %d day partitions, want 4", name, days)
		}
		total += got
		sum += want
	}
	if all := duckdb(t, "SELECT count(*) AS n FROM "+src); int(all[0]["n"].(float64)) != sum || total != sum {
		t.Fatalf("DuckDB total %v, sum of audit query --count %d", all, sum)
	}
	deny := duckdb(t, "SELECT count(*) AS n FROM "+src+" WHERE replica = 'gw-2' AND decision = 'deny'")
	if got, want := int(deny[0]["n"].(float64)), queryCount(t, "--dir", dirs["gw-2"], "--decision", "deny"); got != want {
		t.Errorf("gw-2 denials: DuckDB %d, audit query %d", got, want)
	}

	verify := func() (map[string]any, string, int) {
		t.Helper()
		out, errOut, code := s3Run(t, "audit", "verify", "--remote", url, "--json")
		var rep map[string]any
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("verify --remote: exit %d: %v\n%s%s", code, err, out, errOut)
		}
		return rep, errOut, code
	}
	rep, errOut, code := verify()
	if code != 0 || rep["ok"] != true || len(rep["replicas"].([]any)) != 3 || rep["keysFrom"] != "bucket" {
		t.Fatalf("verify --remote of an intact copy: exit %d\n%v\n%s", code, rep, errOut)
	}
	// Without --key it says, on stderr and in JSON mode too, that it trusts
	// the keys it found in the bucket; --require-key refuses that.
	if !strings.Contains(errOut, "mcpgov: warning: checkpoints are checked with the verifier keys found in the bucket") ||
		!strings.Contains(errOut, "mcpgov: hint: pin each replica's key with --key") {
		t.Fatalf("no warning about the bucket's keys:\n%s", errOut)
	}
	if _, errOut, code := s3Run(t, "audit", "verify", "--remote", url, "--require-key"); code != 2 || !strings.Contains(errOut, "--require-key: no --key given") {
		t.Fatalf("--require-key without --key: exit %d\n%s", code, errOut)
	}
	var pinned []string
	for _, name := range []string{"gw-1", "gw-2", "gw-3"} {
		pub, err := os.ReadFile(filepath.Join(dirs[name], "signing.pub"))
		if err != nil {
			t.Fatal(err)
		}
		pinned = append(pinned, strings.TrimSpace(string(pub)))
	}
	out, errOut, code := s3Run(t, "audit", "verify", "--remote", url, "--json", "--require-key", "--key", strings.Join(pinned, " "))
	if code != 0 || strings.Contains(errOut, "warning") || !strings.Contains(out, `"keysFrom": "pinned"`) {
		t.Fatalf("verify --remote with pinned keys: exit %d\n%s%s", code, out, errOut)
	}
	// A key that is not the replicas' own: every checkpoint is refused.
	out, _, code = s3Run(t, "audit", "verify", "--remote", url, "--json", "--key", pinned[0])
	if code != 3 || !strings.Contains(out, `"kind": "unsigned"`) {
		t.Fatalf("verify --remote with only gw-1's key: exit %d\n%s", code, out)
	}

	// The cursor is lost (a restored machine): everything is sent again
	// under the same keys, recognised, and stored once.
	cursors, _ := filepath.Glob(filepath.Join(dirs["gw-3"], "objstore-*.cursor"))
	if len(cursors) != 1 {
		t.Fatalf("cursor files: %v", cursors)
	}
	os.Remove(cursors[0])
	out, errOut, code = s3Run(t, "audit", "ship", "--dir", dirs["gw-3"], "--s3", url, "--replica", "gw-3", "--batch", "40", "--json")
	var again struct {
		Records    int `json:"records"`
		Recognised int `json:"recognised"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &again) != nil || again.Records != 0 || again.Recognised != objects["gw-3"] {
		t.Fatalf("ship again without a cursor: exit %d\n%s%s", code, out, errOut)
	}
	if n := duckdb(t, "SELECT count(*) AS n FROM "+src); int(n[0]["n"].(float64)) != sum {
		t.Fatalf("after shipping again DuckDB counts %v, want %d", n, sum)
	}

	// Someone deletes gw-2's second object. Under Object Lock the delete
	// only hides it behind a delete marker; verify reports the gap.
	ctx := await.Context(t)
	c := srv.Client(t)
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lake"), Prefix: aws.String("audit/records/")})
	if err != nil {
		t.Fatal(err)
	}
	var gw2 []string
	for _, o := range list.Contents {
		if k := aws.ToString(o.Key); strings.Contains(k, "/replica=gw-2/") {
			gw2 = append(gw2, k)
		}
	}
	slices.Sort(gw2) // by day, then by seq range
	if len(gw2) < 3 {
		t.Fatalf("gw-2 objects: %v", gw2)
	}
	// An overwrite of what was shipped is refused (the key is taken).
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(gw2[0]), IfNoneMatch: aws.String("*"),
		Body: strings.NewReader("forged")})
	if err == nil || !strings.Contains(err.Error(), "PreconditionFailed") {
		t.Fatalf("overwrite of %s: got %v, want PreconditionFailed", gw2[0], err)
	}
	victim := gw2[1]
	var first, last int
	if _, err := fmt.Sscanf(victim[strings.LastIndex(victim, "/part-")+1:], "part-%d-%d.parquet", &first, &last); err != nil {
		t.Fatalf("key %s: %v", victim, err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("lake"), Key: aws.String(victim)}); err != nil {
		t.Fatal(err)
	}
	rep, errOut, code = verify()
	if code != 3 || rep["ok"] != false {
		t.Fatalf("verify --remote after a delete: exit %d\n%v\n%s", code, rep, errOut)
	}
	fs := rep["findings"].([]any)
	f := fs[0].(map[string]any)
	if len(fs) != 1 || f["replica"] != "gw-2" || f["kind"] != "missing" || int(f["firstSeq"].(float64)) != first || int(f["lastSeq"].(float64)) != last {
		t.Fatalf("findings: %v", fs)
	}
	if !strings.Contains(errOut, fmt.Sprintf("replica gw-2: missing: records seq %d-%d", first, last)) {
		t.Errorf("stderr does not name the gap: %s", errOut)
	}
	human, _, _ := s3Run(t, "audit", "verify", "--remote", url)
	if !strings.Contains(human, "FAILED: replica gw-2: missing") || !strings.Contains(human, "what to do:") {
		t.Errorf("human report: %s", human)
	}
	vers, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("lake"), Prefix: aws.String(victim)})
	if err != nil || len(vers.Versions) != 1 {
		t.Fatalf("the locked version of the deleted object: %v %v", vers, err)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("lake"), Key: aws.String(victim), VersionId: vers.Versions[0].VersionId})
	if err == nil {
		t.Fatal("deleting the locked version was allowed")
	}
}
