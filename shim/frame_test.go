package shim

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFrameReaderLines(t *testing.T) {
	fr := NewFrameReader(strings.NewReader("a\r\n\n  \nb\nlast"), 0)
	for _, want := range []string{"a", "b", "last"} {
		got, err := fr.ReadFrame()
		if err != nil || string(got) != want {
			t.Fatalf("ReadFrame = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := fr.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v, want EOF", err)
	}
}

// TestFrameReader64MiB: frames of 64 MiB pass (go-sdk's framing stops at
// 16 MiB and kills the connection).
func TestFrameReader64MiB(t *testing.T) {
	big := bytes.Repeat([]byte("x"), DefaultMaxFrame)
	in := io.MultiReader(bytes.NewReader(big), strings.NewReader("\nnext\n"))
	fr := NewFrameReader(in, 0)
	got, err := fr.ReadFrame()
	if err != nil || len(got) != DefaultMaxFrame {
		t.Fatalf("64 MiB frame: len %d, err %v", len(got), err)
	}
	if got, err := fr.ReadFrame(); err != nil || string(got) != "next" {
		t.Fatalf("frame after the big one = %q, %v", got, err)
	}
}

// TestFrameReaderOversize: a frame over the limit is a clear error, its
// rest is skipped and the next frame reads normally.
func TestFrameReaderOversize(t *testing.T) {
	for _, size := range []int{100, 200 << 10} { // within and beyond bufio's buffer
		in := strings.Repeat("y", size) + "\nok\n"
		fr := NewFrameReader(strings.NewReader(in), 50)
		if _, err := fr.ReadFrame(); !errors.Is(err, ErrFrameTooLarge) || !strings.Contains(err.Error(), "50 bytes") {
			t.Fatalf("size %d: err = %v, want ErrFrameTooLarge naming the limit", size, err)
		}
		if got, err := fr.ReadFrame(); err != nil || string(got) != "ok" {
			t.Fatalf("size %d: next frame = %q, %v", size, got, err)
		}
	}
}

func TestFrameWriter(t *testing.T) {
	var b bytes.Buffer
	fw := NewFrameWriter(&b)
	if err := fw.WriteFrame([]byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if b.String() != "{\"a\":1}\n" {
		t.Fatalf("wrote %q", b.String())
	}
}
