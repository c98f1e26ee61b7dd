package tracing

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

const (
	// TraceHeaderEnv is where Lambda puts the trace header of the current invocation.
	TraceHeaderEnv = "_X_AMZN_TRACE_ID"
	// traceHeaderContextKey is the plain string key aws-lambda-go stores the same header under.
	traceHeaderContextKey = "x-amzn-trace-id"

	maxHeaderLen = 1024 // a real header is about 90 bytes; anything longer is not one
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

// ParseTraceHeader parses an X-Ray trace header. Root and Parent are required: without
// a parent there is nothing to attach a subsegment to.
func ParseTraceHeader(s string) (TraceHeader, error) {
	var h TraceHeader
	if len(s) > maxHeaderLen {
		return h, &HeaderError{Field: "header", Reason: "too long"}
	}
	var root, parent bool
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue // X-Ray ignores fields it does not know; so do we
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "root":
			id, err := ParseXRayTraceID(strings.TrimSpace(v))
			if err != nil {
				return TraceHeader{}, err
			}
			h.TraceID, root = id, true
		case "parent":
			id, err := parseSpanID(strings.TrimSpace(v))
			if err != nil {
				return TraceHeader{}, err
			}
			h.ParentID, parent = id, true
		case "sampled":
			h.Sampled = strings.TrimSpace(v) == "1"
		}
	}
	switch {
	case !root:
		return TraceHeader{}, &HeaderError{Field: "Root", Reason: "missing"}
	case !parent:
		return TraceHeader{}, &HeaderError{Field: "Parent", Reason: "missing"}
	}
	return h, nil
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
	sampled := "0"
	if h.Sampled {
		sampled = "1"
	}
	return "Root=" + XRayTraceID(h.TraceID) + ";Parent=" + h.ParentID.String() + ";Sampled=" + sampled
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

func parseSpanID(s string) (trace.SpanID, error) {
	var id trace.SpanID
	if len(s) != 16 {
		return id, &HeaderError{Field: "Parent", Reason: "not 16 hex digits"}
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return trace.SpanID{}, &HeaderError{Field: "Parent", Reason: "not hex"}
	}
	if !id.IsValid() {
		return trace.SpanID{}, &HeaderError{Field: "Parent", Reason: "all zero"}
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
