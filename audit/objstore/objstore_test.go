package objstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/audit/objstore"
	"github.com/mcpgov/mcpgov/audit/objstore/s3test"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
)

// seed writes n records spread over two UTC days, with a checkpoint every
// 40 records and one at the end.
func seed(t *testing.T, dir string, n int) {
	t.Helper()
	s, err := audit.Open(dir, audit.Options{MaxSegmentBytes: 16 << 10, MaxSegmentAge: -1, CheckpointEvery: 40})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	for i := range n {
		r := &audit.Record{
			Time: base.Add(time.Duration(i) * 8 * time.Hour / time.Duration(n)), Kind: audit.KindToolCall,
			Identity: audit.Identity{Subject: fmt.Sprintf("user%d", i%3), Method: "oidc", Groups: []string{"eng"}},
			Server:   audit.ServerRef{ID: "fs", Transport: "stdio"}, Method: "tools/call", Tool: "read_file",
			Outcome: audit.OutcomeAllowed, Arguments: json.RawMessage(fmt.Sprintf(`{"path":"/tmp/f%d"}`, i)),
			Decision: audit.Decision{Allow: true, Enforced: true, Mode: "enforce"},
		}
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// store starts versitygw with bucket (Object Lock with a default
// retention of lockDays, none when 0) and seeds a store of n records.
func store(t *testing.T, bucket string, lockDays int32, n int) (*s3test.Server, string) {
	t.Helper()
	srv := s3test.Start(t)
	srv.Bucket(t, bucket, lockDays)
	dir := t.TempDir()
	seed(t, dir, n)
	return srv, dir
}

// setup is store with the bucket opened at prefix.
func setup(t *testing.T, bucket string, lockDays int32, prefix string, n int) (*s3test.Server, string, *objstore.Bucket) {
	t.Helper()
	srv, dir := store(t, bucket, lockDays, n)
	return srv, dir, open(t, srv, bucket, prefix, nil)
}

func open(t *testing.T, srv *s3test.Server, bucket, prefix string, hc *http.Client) *objstore.Bucket {
	t.Helper()
	loc, err := objstore.ParseURL(srv.URL(bucket, prefix))
	if err != nil {
		t.Fatal(err)
	}
	b, err := objstore.Open(loc, srv.Creds(), hc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ship(t *testing.T, sh *objstore.Shipper) *objstore.ShipReport {
	t.Helper()
	rep, err := sh.Ship(await.Context(t))
	if err != nil {
		t.Fatalf("ship: %v", err)
	}
	return rep
}

func verifyRemote(t *testing.T, b *objstore.Bucket) *objstore.VerifyReport {
	t.Helper()
	rep, err := objstore.Verify(await.Context(t), b, objstore.VerifyOptions{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func kinds(rep *objstore.VerifyReport) []string {
	var out []string
	for _, f := range rep.Findings {
		out = append(out, f.Kind+" "+fmt.Sprint(f.FirstSeq)+"-"+fmt.Sprint(f.LastSeq))
	}
	return out
}

// TestShipVerifyRoundTrip ships a store in objects of at most 50 records
// that never span two days, ships again (nothing new), and verifies the
// central copy against every checkpoint.
func TestShipVerifyRoundTrip(t *testing.T) {
	_, dir, b := setup(t, "lake", 1, "audit", 230)
	sh := &objstore.Shipper{Dir: dir, Replica: "gw-1", Bucket: b, Batch: 50}
	rep := ship(t, sh)
	// 20:00 + 8h over 230 records: the day changes at record 116 (seq
	// 116), so day one is 115 records (3 objects), day two 115 (3 objects).
	if rep.Records != 230 || rep.Objects != 6 || rep.Cursor != 230 || rep.Checkpoints != 1 {
		t.Fatalf("first ship: %+v", rep)
	}
	if !strings.Contains(rep.Lock, "GOVERNANCE 1 days") || !rep.Retained {
		t.Errorf("lock: %q, retained %v", rep.Lock, rep.Retained)
	}
	if again := ship(t, sh); again.Objects != 0 || again.Records != 0 || again.Checkpoints != 0 || again.Cursor != 230 {
		t.Fatalf("second ship: %+v", again)
	}
	// More records: the next pass sends them and the checkpoint now
	// reaching them (two objects: the records cross midnight again).
	seed(t, dir, 30)
	if rep := ship(t, sh); rep.Records != 30 || rep.Objects != 2 || rep.Checkpoints != 1 || rep.Cursor != 260 {
		t.Fatalf("third ship: %+v", rep)
	}
	keys, err := b.List(await.Context(t), "records/")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "records/dt=2026-11-21/replica=gw-1/part-") && !strings.HasPrefix(k, "records/dt=2026-11-22/replica=gw-1/part-") {
			t.Errorf("key %s is not partitioned by day and replica", k)
		}
	}
	v := verifyRemote(t, b)
	if len(v.Findings) > 0 || len(v.Replicas) != 1 {
		t.Fatalf("verify: %+v", v)
	}
	if r := v.Replicas[0]; r.Records != 260 || r.LastSeq != 260 || r.Matched != 260 || r.Checkpoints != 2 || r.Objects != 8 {
		t.Fatalf("verify: %+v", r)
	}
}

// failAfterPut passes requests on but, once armed, reports the first
// PutObject of a records object as failed after the server stored it:
// what a crash between the upload and the cursor write leaves.
// Every request after that fails too, retries included: the process died.
type failAfterPut struct {
	armed, dead atomic.Bool
	hit         atomic.Int32
}

func (f *failAfterPut) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.dead.Load() {
		return nil, errors.New("process gone")
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/records/") && f.armed.CompareAndSwap(true, false) {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		f.hit.Add(1)
		f.dead.Store(true)
		return nil, errors.New("connection lost after the request was sent")
	}
	return resp, err
}

// TestShipResumesAfterLostReply: the bucket stored an object but the reply
// was lost, so the cursor did not move. The next pass sends the same range
// under the same key, the bucket refuses the overwrite, and the shipper
// recognises its object: nothing is lost, nothing stored twice.
func TestShipResumesAfterLostReply(t *testing.T) {
	srv, dir := store(t, "lake", 1, 120)
	ft := &failAfterPut{}
	ft.armed.Store(true)
	b := open(t, srv, "lake", "", &http.Client{Transport: ft})
	sh := &objstore.Shipper{Dir: dir, Replica: "gw-2", Bucket: b, Batch: 100}
	if _, err := sh.Ship(await.Context(t)); err == nil || ft.hit.Load() != 1 {
		t.Fatalf("ship with a lost reply: err %v, lost %d", err, ft.hit.Load())
	}
	if c, err := sh.Cursor(); err != nil || c != 0 {
		t.Fatalf("cursor after the lost reply: %d, %v", c, err)
	}
	ft.dead.Store(false)
	rep := ship(t, sh)
	if rep.Recognised != 1 || rep.Cursor != 120 {
		t.Fatalf("resumed ship: %+v", rep)
	}
	v := verifyRemote(t, b)
	if len(v.Findings) > 0 || v.Replicas[0].Records != 120 || v.Replicas[0].Matched != 120 {
		t.Fatalf("verify: %+v %v", v.Replicas, kinds(v))
	}
}

// TestOverwriteRefusedUnderObjectLock: what was shipped cannot be replaced
// through mcpgov (If-None-Match) and its version cannot be deleted behind
// its back (Object Lock retention).
func TestOverwriteRefusedUnderObjectLock(t *testing.T) {
	srv, dir, b := setup(t, "worm", 1, "audit", 60)
	ship(t, &objstore.Shipper{Dir: dir, Replica: "gw-1", Bucket: b, Batch: 100})
	ctx := await.Context(t)
	keys, err := b.List(ctx, "records/")
	if err != nil || len(keys) != 2 {
		t.Fatalf("objects: %v %v", keys, err)
	}
	rel := keys[0]
	orig, _, err := b.Get(ctx, rel)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Create(ctx, rel, []byte("forged"), nil, nil); !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("overwrite: got %v, want ErrExists", err)
	}
	c := srv.Client(t)
	vers, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("worm"), Prefix: aws.String("audit/" + rel)})
	if err != nil || len(vers.Versions) != 1 {
		t.Fatalf("versions: %+v %v", vers, err)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("worm"), Key: aws.String("audit/" + rel), VersionId: vers.Versions[0].VersionId})
	if err == nil || !strings.Contains(err.Error(), "object lock") && !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("delete of a locked version: got %v, want a refusal", err)
	}
	now, _, err := b.Get(ctx, rel)
	if err != nil || string(now) != string(orig) {
		t.Fatalf("object changed after the refused writes: %v", err)
	}
	if v := verifyRemote(t, b); len(v.Findings) > 0 {
		t.Fatalf("verify: %v", kinds(v))
	}

	// Object Lock keeps versions, not keys: a delete hides the object
	// behind a marker, and the key is free again. An object written there
	// is caught by its version history, whatever it holds.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("worm"), Key: aws.String("audit/" + rel)}); err != nil {
		t.Fatal(err)
	}
	rows, err := objstore.DecodeRows(orig)
	if err != nil {
		t.Fatal(err)
	}
	rows[0].Tool = "delete_repo"
	forged, _ := objstore.EncodeRows(rows, "gw-1", "", "forger")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("worm"), Key: aws.String("audit/" + rel), Body: strings.NewReader(string(forged))}); err != nil {
		t.Fatalf("write over the delete marker: %v", err)
	}
	v := verifyRemote(t, b)
	if got := kinds(v); len(got) != 2 || got[0] != "replaced 0-0" || got[1] != "edited 1-1" || v.Findings[0].Object != rel {
		t.Fatalf("after hiding and replacing %s: %v", rel, got)
	}
}

// TestVerifyReportsDeletedObjects: deleting an object in the middle leaves
// a gap, deleting the newest ones leaves checkpoints that vouch for more
// than the bucket holds; both are reported with the seq range.
func TestVerifyReportsDeletedObjects(t *testing.T) {
	srv, dir, b := setup(t, "plain", 0, "p", 200)
	if rep := ship(t, &objstore.Shipper{Dir: dir, Replica: "r1", Bucket: b, Batch: 50}); rep.Retained || rep.Lock != "no object lock" {
		t.Fatalf("an unlocked bucket: %+v", rep)
	}
	ctx := await.Context(t)
	c := srv.Client(t)
	del := func(rel string) {
		t.Helper()
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("plain"), Key: aws.String("p/" + rel)}); err != nil {
			t.Fatal(err)
		}
	}
	keys, _ := b.List(ctx, "records/")
	if len(keys) != 4 { // 100 records a day
		t.Fatalf("objects: %v", keys)
	}
	del(keys[1]) // seq 51-100
	v := verifyRemote(t, b)
	if got := kinds(v); len(got) != 1 || got[0] != "missing 51-100" {
		t.Fatalf("after deleting seq 51-100: %v", got)
	}
	del(keys[len(keys)-1]) // the newest: seq 151-200
	v = verifyRemote(t, b)
	got := kinds(v)
	if len(got) != 2 || got[0] != "missing 51-100" || got[1] != "truncated 151-200" {
		t.Fatalf("after deleting the newest object: %v", got)
	}
}

// TestVerifyReportsEditedObject: an object replaced with one whose row was
// changed (in a bucket without Object Lock, by someone bypassing mcpgov)
// no longer matches its chain.
func TestVerifyReportsEditedObject(t *testing.T) {
	srv, dir, b := setup(t, "plain", 0, "", 80)
	ship(t, &objstore.Shipper{Dir: dir, Replica: "r1", Bucket: b, Batch: 100})
	ctx := await.Context(t)
	keys, _ := b.List(ctx, "records/")
	forge := func(edit func(rows []objstore.Row)) {
		t.Helper()
		body, _, err := b.Get(ctx, keys[0])
		if err != nil {
			t.Fatal(err)
		}
		rows, err := objstore.DecodeRows(body)
		if err != nil {
			t.Fatal(err)
		}
		edit(rows)
		forged, err := objstore.EncodeRows(rows, "r1", "", "forger")
		if err != nil {
			t.Fatal(err)
		}
		// A plain PUT, as anyone with write access to an unlocked bucket
		// could do.
		if _, err := srv.Client(t).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String(keys[0]), Body: strings.NewReader(string(forged))}); err != nil {
			t.Fatal(err)
		}
	}
	// A column changed, the line left alone.
	forge(func(rows []objstore.Row) { rows[20].Tool = "delete_repo" })
	if got := kinds(verifyRemote(t, b)); len(got) != 1 || got[0] != "edited 21-21" {
		t.Fatalf("after editing a column: %v", got)
	}
	// The line changed with it: the chain no longer holds.
	forge(func(rows []objstore.Row) {
		rows[20].Tool = "read_file"
		if !strings.Contains(rows[9].Line, `"tool":"read_file"`) {
			t.Fatalf("line: %s", rows[9].Line)
		}
		rows[9].Line = strings.Replace(rows[9].Line, `"tool":"read_file"`, `"tool":"delete_repo"`, 1)
		rows[9].Tool = "delete_repo"
	})
	if got := kinds(verifyRemote(t, b)); len(got) != 1 || got[0] != "edited 10-10" {
		t.Fatalf("after editing a line: %v", got)
	}
}

// TestShipRetentionPerObject: with Retain, each object is written under
// its own retention (the seven years of a real deployment; a day here),
// which the bucket reports back and enforces.
func TestShipRetentionPerObject(t *testing.T) {
	srv, dir, b := setup(t, "worm", 1, "", 20)
	now := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	ship(t, &objstore.Shipper{Dir: dir, Replica: "gw-1", Bucket: b, Retain: 48 * time.Hour, RetainMode: "GOVERNANCE", Now: func() time.Time { return now }})
	ctx := await.Context(t)
	keys, _ := b.List(ctx, "")
	if len(keys) != 4 { // records of two days, a checkpoint, a key
		t.Fatalf("objects: %v", keys)
	}
	c := srv.Client(t)
	for _, k := range keys {
		r, err := c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String("worm"), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("retention of %s: %v", k, err)
		}
		if r.Retention == nil || r.Retention.Mode != "GOVERNANCE" || !aws.ToTime(r.Retention.RetainUntilDate).Equal(now.Add(48*time.Hour)) {
			t.Fatalf("retention of %s: %+v", k, r.Retention)
		}
	}
}
