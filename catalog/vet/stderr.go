package vet

import (
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/mcpgov/mcpgov/policy/guard/review"
)

// stderrTail passes a child's stderr on and keeps its last lines.
type stderrTail struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []string
	part []byte
}

const (
	stderrKeepLines = 8
	stderrLineMax   = 300
)

func newStderrTail(w io.Writer) *stderrTail {
	if w == nil {
		w = io.Discard
	}
	return &stderrTail{w: w}
}

func (s *stderrTail) Write(p []byte) (int, error) {
	n := len(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.w.Write(p) // a failing diagnostics sink must not kill the server
	for len(p) > 0 {
		i := slices.Index(p, '\n')
		if i < 0 {
			if len(s.part) < stderrLineMax {
				s.part = append(s.part, p[:min(len(p), stderrLineMax-len(s.part))]...)
			}
			break
		}
		if len(s.part) < stderrLineMax {
			s.part = append(s.part, p[:min(i, stderrLineMax-len(s.part))]...)
		}
		s.push()
		p = p[i+1:]
	}
	return n, nil
}

func (s *stderrTail) push() {
	line := strings.TrimRight(string(s.part), "\r")
	s.part = s.part[:0]
	if strings.TrimSpace(line) == "" {
		return
	}
	s.buf = append(s.buf, review.Visible(line))
	if len(s.buf) > stderrKeepLines {
		s.buf = s.buf[1:]
	}
}

func (s *stderrTail) lines() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.buf)
	if len(s.part) > 0 && strings.TrimSpace(string(s.part)) != "" {
		out = append(out, review.Visible(string(s.part)))
	}
	if len(out) > stderrKeepLines {
		out = out[len(out)-stderrKeepLines:]
	}
	return out
}
