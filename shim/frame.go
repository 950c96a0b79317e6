// Package shim is the stdio relay between an MCP client (the IDE) and one
// upstream MCP server: two pumps move newline-delimited JSON-RPC messages
// in each direction, byte for byte, and intercept only the few messages the
// enforcement core governs (DESIGN §3). Stdout carries MCP frames and
// nothing else; diagnostics go to the stderr writer the caller supplies.
package shim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// DefaultMaxFrame is the largest message the shim accepts by default. MCP
// tool results (images, files) can be large; the go-sdk's 16 MiB cap has
// broken real sessions, so ours is four times that.
const DefaultMaxFrame = 64 << 20

// ErrFrameTooLarge is returned by FrameReader.ReadFrame for a line longer
// than its limit. The rest of that line is discarded, so the next call
// reads the next frame.
var ErrFrameTooLarge = errors.New("message exceeds the frame size limit")

// FrameReader reads newline-delimited frames. It is not safe for
// concurrent use; each pump owns one.
type FrameReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewFrameReader reads frames of at most max bytes (DefaultMaxFrame when
// max <= 0) from r.
func NewFrameReader(r io.Reader, max int) *FrameReader {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// ReadFrame returns the next non-blank line without its line ending. The
// slice is valid until the next call. A final line without a newline is a
// frame; io.EOF comes after it.
func (fr *FrameReader) ReadFrame() ([]byte, error) {
	for {
		line, err := fr.readLine()
		if err != nil && (len(line) == 0 || !errors.Is(err, io.EOF)) {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			if err != nil {
				return nil, err
			}
			continue
		}
		return line, nil
	}
}

func (fr *FrameReader) readLine() ([]byte, error) {
	line, err := fr.r.ReadSlice('\n')
	if err == nil {
		if len(line)-1 > fr.max {
			line = line[:len(line)-1]
			return nil, fr.tooLarge(edge(line, true), edge(line, false))
		}
		return line[:len(line)-1], nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	// Long line: accumulate in our own buffer up to the limit.
	fr.buf = append(fr.buf[:0], line...)
	for {
		line, err = fr.r.ReadSlice('\n')
		if len(fr.buf)+len(line) > fr.max+1 {
			head := edge(fr.buf, true)
			tail := appendTail(edge(fr.buf, false), line)
			fr.buf = fr.buf[:0]
			if err == nil {
				return nil, fr.tooLarge(head, bytes.TrimSuffix(tail, []byte("\n")))
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, fr.skipLine(head, tail)
			}
			return nil, err
		}
		fr.buf = append(fr.buf, line...)
		switch {
		case err == nil:
			return fr.buf[:len(fr.buf)-1], nil
		case !errors.Is(err, bufio.ErrBufferFull):
			return fr.buf, err
		}
	}
}

// edgeSize is how much of an oversized frame's start and end is kept, to
// find its id: JSON-RPC writers put the id either before the result or
// after it (the TypeScript SDK writes result, jsonrpc, id).
const edgeSize = 4 << 10

// edge returns a copy of the first (head) or last edgeSize bytes of b.
func edge(b []byte, head bool) []byte {
	if len(b) > edgeSize {
		if head {
			b = b[:edgeSize]
		} else {
			b = b[len(b)-edgeSize:]
		}
	}
	return bytes.Clone(b)
}

// appendTail appends more to tail and keeps the last edgeSize bytes.
func appendTail(tail, more []byte) []byte {
	tail = append(tail, more...)
	if len(tail) > edgeSize {
		tail = append(tail[:0], tail[len(tail)-edgeSize:]...)
	}
	return tail
}

// skipLine discards the rest of an oversized line, keeping its tail.
func (fr *FrameReader) skipLine(head, tail []byte) error {
	for {
		line, err := fr.r.ReadSlice('\n')
		tail = appendTail(tail, line)
		switch {
		case err == nil:
			return fr.tooLarge(head, bytes.TrimSuffix(tail, []byte("\n")))
		case !errors.Is(err, bufio.ErrBufferFull):
			return err
		}
	}
}

func (fr *FrameReader) tooLarge(head, tail []byte) error {
	return &FrameTooLargeError{Limit: fr.max, Head: head, Tail: bytes.TrimRight(tail, "\r")}
}

// FrameTooLargeError is the error for a frame over the limit. It keeps
// the frame's first and last few KiB, so that the id of the call it
// carried can be found and the call answered (FrameID).
type FrameTooLargeError struct {
	Limit      int
	Head, Tail []byte
}

func (e *FrameTooLargeError) Error() string {
	return fmt.Sprintf("%v of %d bytes", ErrFrameTooLarge, e.Limit)
}

// Is makes errors.Is(err, ErrFrameTooLarge) true.
func (e *FrameTooLargeError) Is(target error) bool { return target == ErrFrameTooLarge }

// FrameWriter writes newline-terminated frames; it is safe for concurrent
// use, so both pumps can answer the IDE.
type FrameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewFrameWriter writes frames to w.
func NewFrameWriter(w io.Writer) *FrameWriter { return &FrameWriter{w: w} }

// WriteFrame writes msg and a newline as one write.
func (fw *FrameWriter) WriteFrame(msg []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	buf := make([]byte, 0, len(msg)+1)
	buf = append(append(buf, msg...), '\n')
	_, err := fw.w.Write(buf)
	return err
}
