package audit

import (
	"context"
	"encoding/json"
	"testing"
)

// A request's logging choice (X-Mcpgov-Logging) decides only under
// header_controlled, and a call's _meta wins over it.
func TestApplyLoggingRequestChoice(t *testing.T) {
	for _, c := range []struct {
		mode, request, meta string
		want                string
	}{
		{LoggingHeaderControlled, RequestLoggingOn, "", KindToolCall},
		{LoggingHeaderControlled, RequestLoggingOff, "", KindPlaceholder},
		{LoggingHeaderControlled, "", "", KindPlaceholder},
		{LoggingHeaderControlled, RequestLoggingOff, `{"io.mcpgov/logging":"on"}`, KindToolCall},
		{LoggingHeaderControlled, RequestLoggingOn, `{"io.mcpgov/logging":false}`, KindPlaceholder},
		{LoggingNever, RequestLoggingOn, "", KindPlaceholder},
		{LoggingAlways, RequestLoggingOff, "", KindToolCall},
	} {
		rec := &Record{Kind: KindToolCall, Tool: "t", RequestLogging: c.request, Arguments: json.RawMessage(`{"a":1}`)}
		if c.meta != "" {
			rec.RequestMeta = json.RawMessage(c.meta)
		}
		ApplyLogging(rec, c.mode)
		if rec.Kind != c.want {
			t.Errorf("mode %s, request %q, meta %s: kind %s, want %s", c.mode, c.request, c.meta, rec.Kind, c.want)
		}
	}
	ctx := WithRequestLogging(context.Background(), RequestLoggingOn)
	if got := RequestLoggingFrom(ctx); got != RequestLoggingOn {
		t.Errorf("RequestLoggingFrom = %q", got)
	}
	if got := RequestLoggingFrom(context.Background()); got != "" {
		t.Errorf("RequestLoggingFrom(empty) = %q", got)
	}
}
