// Package logbuf has the buffer a test gives a child process or a
// handler as its log, to read while they still write: a bytes.Buffer
// read and written at once is a data race.
package logbuf

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer whose writes and reads may come from
// different goroutines. The zero value is an empty buffer.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
