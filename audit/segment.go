package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SegmentName is the file name of segment n: numbered, so order never
// depends on clocks.
func SegmentName(n int) string { return fmt.Sprintf("audit-%08d.jsonl", n) }

// Segment is one segment file of a store.
type Segment struct {
	Num  int
	Path string
}

// Name is the segment's file name.
func (s Segment) Name() string { return filepath.Base(s.Path) }

// ListSegments returns dir's segments in chain order.
func ListSegments(dir string) ([]Segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read audit dir: %w", err)
	}
	var segs []Segment
	for _, e := range ents {
		name := e.Name()
		num, ok := strings.CutPrefix(name, "audit-")
		if !ok {
			continue
		}
		num, ok = strings.CutSuffix(num, ".jsonl")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n <= 0 {
			continue
		}
		segs = append(segs, Segment{Num: n, Path: filepath.Join(dir, name)})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].Num < segs[j].Num })
	return segs, nil
}

// Anchor is where a pruned chain starts: the first kept segment, the Seq
// of its first record and that record's Prev. prune writes it, signed,
// before it deletes anything.
type Anchor struct {
	Segment int    `json:"segment"`
	Seq     uint64 `json:"seq"`
	Prev    string `json:"prev"`
	Note    string `json:"note,omitempty"` // signed note over the three fields
}

func readAnchor(dir string) (*Anchor, error) {
	b, err := os.ReadFile(filepath.Join(dir, anchorName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", anchorName, err)
	}
	var a Anchor
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s: %w", anchorName, err)
	}
	return &a, nil
}

// lineHead is the part of a stored line the chain needs.
type lineHead struct {
	Seq  uint64    `json:"seq"`
	Prev string    `json:"prev"`
	Time time.Time `json:"time"`
}

func hashLine(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// lastLine returns the last complete line of the file at path and the size
// of its complete part (the file may end in a torn line after a crash).
func lastLine(path string) (line []byte, complete int64, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, 0, err
	}
	size = fi.Size()
	const chunk = 64 << 10
	var tail []byte
	end := size
	for end > 0 {
		start := max(end-chunk, 0)
		buf := make([]byte, end-start)
		if _, err := f.ReadAt(buf, start); err != nil && err != io.EOF {
			return nil, 0, size, err
		}
		tail = append(buf, tail...)
		end = start
		// Need the last '\n' (end of the last complete line) and the one
		// before it (its start).
		last := bytes.LastIndexByte(tail, '\n')
		if last < 0 {
			continue
		}
		before := bytes.LastIndexByte(tail[:last], '\n')
		if before < 0 && start > 0 {
			continue
		}
		complete = start + int64(last) + 1
		return tail[before+1 : last], complete, size, nil
	}
	return nil, 0, size, nil
}

// firstLine returns the first line of the file at path, if complete.
func firstLine(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	for {
		n, err := f.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			return buf[:i], nil
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// catchUp brings the writer's view of the chain head up to date with the
// directory: another process may have appended or rotated since our last
// batch, or a crashed writer may have left a torn line. Callers hold the
// lock. The fast path is one fstat and two stats.
func (s *Store) catchUp() error {
	if s.seg != nil {
		// Still ours alone: the same size as we left it, still linked under
		// its name (prune may have removed an idle writer's old segment),
		// and no newer segment.
		if s.pathCur == "" || s.pathNum != s.segNum {
			s.pathNum, s.pathCur, s.pathNext = s.segNum, s.segPath(s.segNum), s.segPath(s.segNum+1)
		}
		fi, err := s.seg.Stat()
		if err == nil && fi.Size() == s.segSize {
			named, err := os.Stat(s.pathCur)
			if err == nil && os.SameFile(fi, named) {
				if _, err := os.Lstat(s.pathNext); errors.Is(err, fs.ErrNotExist) {
					return nil
				}
			}
		}
	}
	return s.load()
}

func (s *Store) load() error {
	segs, err := ListSegments(s.dir)
	if err != nil {
		return err
	}
	if s.seg != nil {
		s.seg.Close()
		s.seg = nil
	}
	s.seq, s.prev, s.segNum = 0, genesis, 0
	if len(segs) == 0 {
		if a, err := readAnchor(s.dir); err != nil {
			return err
		} else if a != nil {
			s.seq, s.prev, s.segNum = a.Seq-1, a.Prev, a.Segment-1
		}
		return s.rotate()
	}
	last := segs[len(segs)-1]
	f, err := s.open(last.Path, os.O_RDWR|os.O_APPEND)
	if err != nil {
		return fmt.Errorf("open audit segment %s: %w", last.Path, err)
	}
	s.seg, s.segNum, s.reservedTo = f, last.Num, 0
	line, complete, size, err := lastLine(last.Path)
	if err != nil {
		return fmt.Errorf("read audit segment %s: %w", last.Path, err)
	}
	if complete < size {
		// A writer died mid-write. Its batch was never acknowledged, so
		// the torn line is dropped.
		if err := f.Truncate(complete); err != nil {
			return fmt.Errorf("drop torn tail of audit segment %s: %w", last.Path, err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync audit segment %s: %w", last.Path, err)
		}
	}
	s.segSize, s.segStart = complete, time.Time{}
	if line == nil {
		// An empty segment continues the previous one's chain.
		switch {
		case len(segs) > 1:
			prevSeg := segs[len(segs)-2]
			if line, _, _, err = lastLine(prevSeg.Path); err != nil {
				return fmt.Errorf("read audit segment %s: %w", prevSeg.Path, err)
			}
			if line == nil {
				return fmt.Errorf("audit segment %s is empty; run mcpgov audit verify", prevSeg.Path)
			}
		default:
			if a, err := readAnchor(s.dir); err != nil {
				return err
			} else if a != nil {
				s.seq, s.prev = a.Seq-1, a.Prev
			}
			return nil
		}
	} else if first, err := firstLine(last.Path); err == nil && first != nil {
		var h lineHead
		if json.Unmarshal(first, &h) == nil {
			s.segStart = h.Time
		}
	}
	var h lineHead
	if err := json.Unmarshal(line, &h); err != nil || h.Seq == 0 {
		return fmt.Errorf("audit store %s: the last record is unreadable; run mcpgov audit verify", s.dir)
	}
	s.seq, s.prev = h.Seq, hashLine(line)
	return nil
}
