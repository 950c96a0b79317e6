package cli

import (
	"bytes"
	"testing"
)

// TestTableWriterIgnoresColour: coloured and plain cells line up, as a
// terminal shows them; text/tabwriter counted the colour codes.
func TestTableWriterIgnoresColour(t *testing.T) {
	var b bytes.Buffer
	w := newTableWriter(&b)
	p := palette{on: true}
	_, _ = w.Write([]byte(p.bold("NAME\tSEVERITY\tFILE") + "\n"))
	_, _ = w.Write([]byte("github\t" + p.severity("high", "high (2)") + "\t" + p.dim("a.json:3") + "\n"))
	_, _ = w.Write([]byte("データ\t-\tb.json:1\n"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "\x1b[1mNAME    SEVERITY  FILE\x1b[0m\n" +
		"github  \x1b[31mhigh (2)\x1b[0m  \x1b[2ma.json:3\x1b[0m\n" +
		"データ  -         b.json:1\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
}
