package tracing

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const (
	// TraceHeaderEnv is where Lambda puts the trace header of the current invocation.
	TraceHeaderEnv = "_X_AMZN_TRACE_ID"
	// traceHeaderContextKey is the plain string key aws-lambda-go stores the same header under.
	traceHeaderContextKey = "x-amzn-trace-id"

	maxHeaderLen = 1024 // a real header is about 90 bytes; anything longer is not one

	traceHeaderHTTPHeader = "X-Amzn-Trace-Id"
)

// TraceHeader is a parsed X-Ray trace header
// (Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1).
type TraceHeader struct {
	TraceID  trace.TraceID
	ParentID trace.SpanID
	// Sampled is true only for Sampled=1. Inside Lambda the decision is always made
	// before the function runs, so a missing or "?" value is treated as not sampled.
	Sampled bool
}

// HeaderError reports why a trace header or trace id was refused.
type HeaderError struct {
	Field  string // "Root", "Parent" or "header"
	Reason string
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("trace header: %s: %s", e.Field, e.Reason)
}

// ParseTraceHeader parses an X-Ray trace header with the contrib X-Ray propagator. Root and
// Parent are required: without a parent there is nothing to attach a subsegment to. White
// space around the fields is dropped first, since the propagator reads them verbatim; hex
// digits must be lower case, as the propagator and W3C ids want them and AWS writes them.
func ParseTraceHeader(s string) (TraceHeader, error) {
	if len(s) > maxHeaderLen {
		return TraceHeader{}, &HeaderError{Field: "header", Reason: "too long"}
	}
	s = strings.Join(strings.Fields(s), "")
	carrier := propagation.MapCarrier{traceHeaderHTTPHeader: s}
	sc := trace.SpanContextFromContext(xray.Propagator{}.Extract(context.Background(), carrier))
	switch {
	case sc.IsValid():
		return TraceHeader{TraceID: sc.TraceID(), ParentID: sc.SpanID(), Sampled: sc.IsSampled()}, nil
	case !strings.Contains(s, "Root="):
		return TraceHeader{}, &HeaderError{Field: "Root", Reason: "missing"}
	case !strings.Contains(s, "Parent="):
		return TraceHeader{}, &HeaderError{Field: "Parent", Reason: "missing"}
	}
	return TraceHeader{}, &HeaderError{Field: "header", Reason: "not a valid X-Ray trace header"}
}

// SpanContext returns the header as the remote parent of the invocation span.
func (h TraceHeader) SpanContext() trace.SpanContext {
	var flags trace.TraceFlags
	if h.Sampled {
		flags = trace.FlagsSampled
	}
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    h.TraceID,
		SpanID:     h.ParentID,
		TraceFlags: flags,
		Remote:     true,
	})
}

// String formats the header the way AWS services accept it in X-Amzn-Trace-Id.
func (h TraceHeader) String() string {
	carrier := propagation.MapCarrier{}
	xray.Propagator{}.Inject(trace.ContextWithSpanContext(context.Background(), h.SpanContext()), carrier)
	return carrier.Get(traceHeaderHTTPHeader)
}

// XRayTraceID formats an OpenTelemetry trace id as an X-Ray trace id: the first 8 hex
// digits are the epoch seconds, the remaining 24 the random part.
func XRayTraceID(id trace.TraceID) string {
	h := id.String()
	return "1-" + h[:8] + "-" + h[8:]
}

// ParseXRayTraceID is the inverse of XRayTraceID.
func ParseXRayTraceID(s string) (trace.TraceID, error) {
	var id trace.TraceID
	if len(s) != 35 || s[:2] != "1-" || s[10] != '-' {
		return id, &HeaderError{Field: "Root", Reason: "not of the form 1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy"}
	}
	if _, err := hex.Decode(id[:4], []byte(s[2:10])); err != nil {
		return trace.TraceID{}, &HeaderError{Field: "Root", Reason: "epoch part is not hex"}
	}
	if _, err := hex.Decode(id[4:], []byte(s[11:])); err != nil {
		return trace.TraceID{}, &HeaderError{Field: "Root", Reason: "random part is not hex"}
	}
	if !id.IsValid() {
		return trace.TraceID{}, &HeaderError{Field: "Root", Reason: "all zero"}
	}
	return id, nil
}

// headerFor returns the trace header of the invocation in ctx: aws-lambda-go puts it in
// the context and in the environment; the context wins because it is per invocation even
// when a test or a local runner never touches the environment.
func headerFor(ctx context.Context) string {
	if v, ok := ctx.Value(traceHeaderContextKey).(string); ok && v != "" {
		return v
	}
	return os.Getenv(TraceHeaderEnv)
}
