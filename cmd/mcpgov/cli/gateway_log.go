package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// jsonLog is the gateway's stderr with --log-format json: every line the
// gateway writes ("mcpgov: warning: …", the records' lines, a stdio
// upstream's own stderr) becomes one JSON object from log/slog, with the
// level its prefix says (error, warning, else info) and the prefix's kind
// (hint, reload, identity) as an attribute. A message continued on lines
// indented by two spaces stays one object.
type jsonLog struct {
	mu     sync.Mutex
	buf    []byte
	logger *slog.Logger
}

func newJSONLog(w io.Writer) *jsonLog {
	return &jsonLog{logger: slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// Write implements io.Writer; a line is logged once it is complete.
func (l *jsonLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		end := messageEnd(l.buf)
		if end < 0 {
			return len(p), nil
		}
		l.log(string(l.buf[:end]))
		l.buf = l.buf[end+1:]
	}
}

// messageEnd is the index of the newline that ends the first message in
// b (one not followed by a two-space continuation), or -1 while it may
// still continue.
func messageEnd(b []byte) int {
	off := 0
	for {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return -1
		}
		i += off
		rest := b[i+1:]
		if len(rest) >= 2 && rest[0] == ' ' && rest[1] == ' ' {
			off = i + 1
			continue
		}
		if len(rest) < 2 && (len(rest) == 0 || rest[0] == ' ') {
			// The next write may continue it; a lone line ends with its
			// newline when nothing follows in the same write.
			if len(rest) == 0 {
				return i
			}
			return -1
		}
		return i
	}
}

func (l *jsonLog) log(line string) {
	line = strings.ReplaceAll(line, "\n  ", "\n")
	level, attrs := slog.LevelInfo, []slog.Attr{}
	msg, ok := strings.CutPrefix(line, "mcpgov: ")
	if !ok {
		attrs = append(attrs, slog.String("source", "upstream"))
	} else if kind, rest, found := strings.Cut(msg, ": "); found && !strings.ContainsAny(kind, " \t") {
		switch kind {
		case "error":
			level, msg = slog.LevelError, rest
		case "warning":
			level, msg = slog.LevelWarn, rest
		case "hint", "reload", "identity", "notice":
			msg = rest
			attrs = append(attrs, slog.String("kind", kind))
		}
	}
	l.logger.LogAttrs(context.Background(), level, msg, attrs...)
}
