package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeStore makes a closed store of n records in segments of about 8 KiB.
func writeStore(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, Options{MaxSegmentBytes: 8 << 10, CheckpointEvery: 50})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, n, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func editSegment(t *testing.T, dir string, num int, edit func(lines [][]byte) [][]byte) {
	t.Helper()
	path := filepath.Join(dir, SegmentName(num))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines = lines[:len(lines)-1] // the empty piece after the last newline
	if err := os.WriteFile(path, bytes.Join(edit(lines), nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(dir string)
		want string // in the error, besides the segment name
	}{
		{"flip a byte", func(dir string) {
			editSegment(t, dir, 2, func(l [][]byte) [][]byte {
				l[3] = bytes.Replace(l[3], []byte(`"allowed"`), []byte(`"denied!"`), 1)
				return l
			})
		}, "line 4 (record seq"},
		{"delete a line", func(dir string) {
			editSegment(t, dir, 2, func(l [][]byte) [][]byte { return append(l[:2], l[3:]...) })
		}, "line 3 (record seq"},
		{"reorder two lines", func(dir string) {
			editSegment(t, dir, 2, func(l [][]byte) [][]byte { l[1], l[2] = l[2], l[1]; return l })
		}, "line 2 (record seq"},
		{"truncate the last segment", func(dir string) {
			segs, _ := ListSegments(dir)
			editSegment(t, dir, segs[len(segs)-1].Num, func(l [][]byte) [][]byte { return l[:len(l)-2] })
		}, "records were removed"},
		{"truncate mid-line", func(dir string) {
			path := filepath.Join(dir, SegmentName(1))
			fi, _ := os.Stat(path)
			os.Truncate(path, fi.Size()-40)
		}, "incomplete line"},
		{"delete a segment", func(dir string) { os.Remove(filepath.Join(dir, SegmentName(2))) }, "segment is missing"},
		{"forge a checkpoint", func(dir string) {
			path := filepath.Join(dir, checkpointsName)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, bytes.Replace(b, []byte("\\n50\\n"), []byte("\\n51\\n"), 1), 0o600)
		}, "checkpoint does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeStore(t, 200)
			if segs, _ := ListSegments(dir); len(segs) < 4 {
				t.Fatalf("only %d segments", len(segs))
			}
			tc.edit(dir)
			_, err := Verify(dir, VerifyOptions{})
			if err == nil {
				t.Fatal("verify passed a tampered store")
			}
			if !strings.Contains(err.Error(), "audit-000000") || !strings.Contains(err.Error(), tc.want) {
				if !(strings.Contains(err.Error(), checkpointsName) && strings.Contains(tc.want, "checkpoint")) {
					t.Fatalf("error %q does not name the segment and %q", err, tc.want)
				}
			}
			t.Log(err)
		})
	}
}

// A rewritten and re-signed history passes with the store's own key but
// not against the key an auditor pinned.
func TestVerifyPinnedKey(t *testing.T) {
	dir := writeStore(t, 20)
	pub, _ := os.ReadFile(filepath.Join(dir, PubName))
	other := writeStore(t, 20)
	if _, err := Verify(other, VerifyOptions{Key: strings.TrimSpace(string(pub))}); err == nil {
		t.Fatal("a store signed by another key verified against the pinned key")
	}
	if _, err := Verify(dir, VerifyOptions{Key: strings.TrimSpace(string(pub))}); err != nil {
		t.Fatal(err)
	}
}

// A lost signing key is replaced, and the old key's checkpoints still
// verify: signing.pub keeps both.
func TestLostKeyKeepsOldCheckpoints(t *testing.T) {
	dir := writeStore(t, 120)
	os.Remove(filepath.Join(dir, KeyName))
	s, err := Open(dir, Options{CheckpointEvery: 50})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 100, 4)
	s.Close()
	rep := mustVerify(t, dir)
	pub, _ := os.ReadFile(filepath.Join(dir, PubName))
	if n := strings.Count(string(pub), "\n"); n != 2 || rep.Records != 220 {
		t.Fatalf("%d keys, %d records", n, rep.Records)
	}
}
