package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

const anchorOrigin = "mcpgov-audit-anchor"

func anchorText(a *Anchor) string {
	return fmt.Sprintf("%s\n%d\n%d\n%s\n", anchorOrigin, a.Segment, a.Seq, a.Prev)
}

func checkAnchor(a *Anchor, verifiers note.Verifiers) error {
	n, err := note.Open([]byte(a.Note), verifiers)
	if err != nil {
		return fmt.Errorf("anchor signature: %w", err)
	}
	if n.Text != anchorText(a) {
		return fmt.Errorf("anchor fields differ from what was signed (edited)")
	}
	return nil
}

// PruneReport is what Prune removed.
type PruneReport struct {
	Removed []string `json:"removed"`
	Kept    int      `json:"kept"`
	Anchor  *Anchor  `json:"anchor,omitempty"`
}

// Prune removes whole segments whose newest record is older than before,
// oldest first, never the segment being written. It verifies the store
// first (it never deletes a broken history) and writes a signed anchor
// naming where the remaining chain starts, so Verify still passes.
func Prune(dir string, before time.Time, opts Options) (*PruneReport, error) {
	if err := opts.fill(dir); err != nil {
		return nil, err
	}
	rep := &PruneReport{Removed: []string{}}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR, 0o600)
	if err != nil {
		return rep, fmt.Errorf("open audit store %s: %w", dir, err)
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return rep, fmt.Errorf("lock audit dir %s: %w", dir, err)
	}
	defer unlockFile(lock)
	if _, err := Verify(dir, VerifyOptions{}); err != nil {
		return rep, fmt.Errorf("refusing to prune a store that does not verify: %w", err)
	}
	signer, _, err := loadOrCreateKey(opts.KeyPath, filepath.Join(dir, PubName), opts.createKey)
	if err != nil {
		return rep, err
	}
	segs, err := ListSegments(dir)
	if err != nil {
		return rep, err
	}
	cut := 0
	for i := 0; i < len(segs)-1; i++ {
		line, _, _, err := lastLine(segs[i].Path)
		if err != nil {
			return rep, fmt.Errorf("read %s: %w", segs[i].Path, err)
		}
		var h lineHead
		if line == nil || json.Unmarshal(line, &h) != nil || !h.Time.Before(before) {
			break
		}
		next, err := firstLine(segs[i+1].Path)
		if err != nil || next == nil {
			break // keep the chain's head findable for writers
		}
		cut = i + 1
	}
	rep.Kept = len(segs) - cut
	if cut == 0 {
		return rep, nil
	}
	first, err := firstLine(segs[cut].Path)
	if err != nil {
		return rep, fmt.Errorf("read %s: %w", segs[cut].Path, err)
	}
	var h lineHead
	if err := json.Unmarshal(first, &h); err != nil {
		return rep, fmt.Errorf("%s: first record: %w", segs[cut].Name(), err)
	}
	a := &Anchor{Segment: segs[cut].Num, Seq: h.Seq, Prev: h.Prev}
	msg, err := note.Sign(&note.Note{Text: anchorText(a)}, signer)
	if err != nil {
		return rep, fmt.Errorf("sign anchor: %w", err)
	}
	a.Note = string(msg)
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return rep, err
	}
	// The anchor lands before anything is deleted: a crash in between
	// leaves extra segments before the anchor, which verify reports and a
	// second prune removes.
	if err := writeFileSync(filepath.Join(dir, anchorName), append(b, '\n'), 0o644); err != nil {
		return rep, fmt.Errorf("write anchor: %w", err)
	}
	rep.Anchor = a
	for _, seg := range segs[:cut] {
		if err := os.Remove(seg.Path); err != nil {
			return rep, fmt.Errorf("remove %s: %w", seg.Path, err)
		}
		rep.Removed = append(rep.Removed, seg.Name())
	}
	return rep, syncDir(dir)
}

// ParseAge parses a retention age: a Go duration ("36h") or days ("90d").
func ParseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid age %q: want days like 90d or a duration like 36h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur < 0 {
		return 0, fmt.Errorf("invalid age %q: want days like 90d or a duration like 36h", s)
	}
	return dur, nil
}
