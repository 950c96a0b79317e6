package rpc

import (
	"bytes"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// pooledDecoder is a jsontext.Decoder with its reader, reused across
// messages: a new decoder costs a few KB of state per message, more than
// the rest of a relay hop allocates.
type pooledDecoder struct {
	dec    *jsontext.Decoder
	r      bytes.Reader
	pooled bool
	// names is CheckNames's stack of member names, kept for the next
	// value (empty between uses).
	names []nameSet
}

// maxPooled bounds the inputs a pooled decoder reads: its buffer grows
// to the input, and a pool must not keep a 64 MiB result alive.
const maxPooled = 256 << 10

var decoders = sync.Pool{New: func() any {
	d := &pooledDecoder{}
	d.dec = jsontext.NewDecoder(&d.r)
	return d
}}

// getDecoder returns a decoder reading b; give it back with putDecoder
// once nothing read from it is used any more.
func getDecoder(b []byte) *pooledDecoder {
	if len(b) > maxPooled {
		d := &pooledDecoder{}
		d.r.Reset(b)
		d.dec = jsontext.NewDecoder(&d.r)
		return d
	}
	d := decoders.Get().(*pooledDecoder)
	d.pooled = true
	d.r.Reset(b)
	d.dec.Reset(&d.r)
	return d
}

func putDecoder(d *pooledDecoder) {
	if !d.pooled {
		return
	}
	d.r.Reset(nil)
	d.dec.Reset(&d.r)
	decoders.Put(d)
}
