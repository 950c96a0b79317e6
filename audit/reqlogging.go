package audit

import "context"

// A request's own choice of logging (a gateway's X-Mcpgov-Logging
// header), within what the configured mode lets a request choose.
const (
	RequestLoggingOn  = "on"
	RequestLoggingOff = "off"
)

type requestLoggingKey struct{}

// WithRequestLogging returns ctx carrying a request's logging choice (on
// or off) for the calls it carries.
func WithRequestLogging(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, requestLoggingKey{}, v)
}

// RequestLoggingFrom is the logging choice ctx carries, or "".
func RequestLoggingFrom(ctx context.Context) string {
	v, _ := ctx.Value(requestLoggingKey{}).(string)
	return v
}

type requestRefKey struct{}

// WithRequestRef returns ctx carrying ref, an opaque reference to the
// transport's request (a gateway's trace span), which the records of the
// calls it carries hold as RequestRef.
func WithRequestRef(ctx context.Context, ref string) context.Context {
	return context.WithValue(ctx, requestRefKey{}, ref)
}

// RequestRefFrom is the request reference ctx carries, or "".
func RequestRefFrom(ctx context.Context) string {
	v, _ := ctx.Value(requestRefKey{}).(string)
	return v
}
