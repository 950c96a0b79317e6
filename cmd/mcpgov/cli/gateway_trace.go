package cli

import (
	"context"
	"time"

	"github.com/mcpgov/mcpgov/shim/gateway"
	"github.com/mcpgov/mcpgov/shim/trace"
)

// startTracing starts the span exporter of --otlp-traces (nil without
// one) and counts its spans in metrics; stop flushes what is queued and
// says what was sent and dropped.
func startTracing(opts *GatewayServeOptions, metrics *gateway.Metrics) (*gateway.Tracing, func(), error) {
	if opts.OTLPTraces == "" {
		return nil, func() {}, nil
	}
	exp, err := trace.NewExporter(trace.Options{
		Endpoint:    opts.OTLPTraces,
		ServiceName: "mcpgov-gateway",
		Resource:    map[string]string{"service.version": opts.Factory.Version.Version},
		Errors: func(err error) {
			if err != nil {
				opts.IO.Warnf("traces: %v (spans are dropped until it answers)", err)
				return
			}
			opts.IO.Notef("traces: the OTLP endpoint accepts spans again")
		},
	})
	if err != nil {
		return nil, nil, withHint(err, "give --otlp-traces (or [gateway] otlp_traces) as http(s)://host:port")
	}
	metrics.Spans(func() (uint64, uint64, uint64) {
		st := exp.Stats()
		return st.Sent, st.Dropped, st.Failed
	})
	opts.IO.Notef("traces to %s", exp.URL())
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = exp.Close(ctx)
		st := exp.Stats()
		opts.IO.Notef("traces: %d spans sent, %d dropped (queue full), %d failed", st.Sent, st.Dropped, st.Failed)
	}
	return gateway.NewTracing(exp), stop, nil
}
