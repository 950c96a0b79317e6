package shim

import (
	"context"
	"errors"
	"github.com/mcpgov/mcpgov/policy/rpc"
	"io"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/policy/enforce"
)

// Refuse answers every call of the client with e, without any upstream,
// until the client closes its input or ctx is done. A client that starts
// a refused server so learns why from the initialize error. first, when
// set, is called once with the client's name and version from initialize
// (or an empty one if the client never sent it), so that the refusal is
// recorded with the client.
func Refuse(ctx context.Context, in io.Reader, out io.Writer, e *jsonrpc.Error, first func(audit.Client)) error {
	ide := NewFrameWriter(out)
	done := make(chan error, 1)
	var once sync.Once
	seen := func(cl audit.Client) {
		if first != nil {
			once.Do(func() { first(cl) })
		}
	}
	defer seen(audit.Client{})
	go func() {
		fr := NewFrameReader(in, 0)
		for {
			frame, err := fr.ReadFrame()
			var tooLarge *FrameTooLargeError
			if errors.As(err, &tooLarge) {
				if werr := ide.WriteFrame(rpc.ErrorResponse(tooLarge.ID(), e)); werr != nil {
					done <- werr
					return
				}
				continue
			}
			if err != nil {
				done <- err
				return
			}
			m, err := rpc.Parse(frame)
			switch {
			case err != nil:
				err = ide.WriteFrame(rpc.ParseErrorResponse(err, rpc.LenientID(frame)))
			case m.IsCall():
				if m.Method == "initialize" {
					seen(enforce.ClientInfo(m.Params))
				}
				err = ide.WriteFrame(rpc.ErrorResponse(m.ID, e))
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
