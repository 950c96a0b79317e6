package shim

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
	"github.com/mcpgov/mcpgov/policy/enforce"
)

// BenchmarkRelayHop measures the relay's own cost for one tools/call round
// trip (framing, envelope decode, enforcement, both directions) over
// in-memory pipes, without any process hop.
func BenchmarkRelayHop(b *testing.B) {
	srv := &catalog.Server{ID: "s", Status: catalog.StatusApproved, Tools: catalog.ToolRules{Deny: []string{"rm*"}}}
	benchRelay(b, enforce.Config{Server: srv, VersionApproved: true})
}

// BenchmarkRelayHopRecorded is BenchmarkRelayHop with the per-call work
// of a governed connection: the call followed to its reply
// and one audit record built and handed to an Auditor (in memory here;
// the store's own cost is audit's benchmark).
func BenchmarkRelayHopRecorded(b *testing.B) {
	srv := &catalog.Server{ID: "s", Status: catalog.StatusApproved, Tools: catalog.ToolRules{Deny: []string{"rm*"}}}
	benchRelay(b, enforce.Config{Server: srv, VersionApproved: true, Sink: enforce.Tee{Store: discardAuditor{}}})
}

type discardAuditor struct{}

func (discardAuditor) Append(context.Context, *audit.Record) error { return nil }

// MayBlock says the store does not wait for the disk, as the shim's
// default (write durability) does not: the call is recorded on the
// goroutine that read the answer.
func (discardAuditor) MayBlock() bool { return false }

func benchRelay(b *testing.B, cfg enforce.Config) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	up := newMemUpstream()
	r := &Relay{In: inR, Out: outW, Stderr: io.Discard, Core: enforce.New(cfg), Drain: time.Millisecond}
	go r.Run(context.Background(), up)
	defer inW.Close()
	client, out := NewFrameWriter(inW), NewFrameReader(outR, 0)
	call := []byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}`)
	go func() { // the server: answer every call, under the id it was sent
		for {
			frame, err := up.fromRelay.ReadFrame()
			if err != nil {
				return
			}
			// The relay writes `{"jsonrpc":"2.0","id":N,…`: a cheap cut
			// keeps the server's own cost out of the measurement.
			_, rest, _ := bytes.Cut(frame, []byte(`"id":`))
			id, _, _ := bytes.Cut(rest, []byte(","))
			result := append(append([]byte(`{"jsonrpc":"2.0","id":`), id...), `,"result":{"content":[{"type":"text","text":"hello"}]}}`...)
			if up.toRelay.WriteFrame(result) != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		if err := client.WriteFrame(call); err != nil {
			b.Fatal(err)
		}
		if _, err := out.ReadFrame(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipeHop is BenchmarkRelayHop's baseline: the same round trip
// over the same pipes and framing with nothing in between.
func BenchmarkPipeHop(b *testing.B) {
	up := newMemUpstream()
	call := []byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}`)
	result := []byte(`{"jsonrpc":"2.0","id":42,"result":{"content":[{"type":"text","text":"hello"}]}}`)
	go func() {
		for {
			if _, err := up.fromRelay.ReadFrame(); err != nil {
				return
			}
			if up.toRelay.WriteFrame(result) != nil {
				return
			}
		}
	}()
	defer up.Shutdown(0)
	b.ReportAllocs()
	for b.Loop() {
		if err := up.WriteFrame(call); err != nil {
			b.Fatal(err)
		}
		if _, err := up.ReadFrame(); err != nil {
			b.Fatal(err)
		}
	}
}
