package tracing

import (
	"context"
	"reflect"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Annotation keys of the project. X-Ray indexes annotations, so these are what an
// operator filters on, e.g. annotation.build_arn = "arn:aws:codebuild:...".
const (
	KeyBuildARN      = "build_arn"
	KeyExecutionARN  = "execution_arn"
	KeyAccount       = "account"
	KeyProject       = "project"
	KeyRegion        = "region"
	KeyOriginTraceID = "origin_trace_id" // set by Link
)

// projectKeys survive when a document must shrink to fit a datagram.
var projectKeys = map[string]bool{
	KeyBuildARN: true, KeyExecutionARN: true, KeyAccount: true,
	KeyProject: true, KeyRegion: true, KeyOriginTraceID: true,
}

// AnnotationValue lists the value types X-Ray indexes.
type AnnotationValue interface {
	~string | ~bool | ~int | ~int32 | ~int64 | ~uint32 | ~float64
}

// Annotate records an indexed X-Ray annotation on the current span (inside Wrap, the
// invocation span unless a child was started). Characters outside [A-Za-z0-9_] in key
// become "_", string values are cut at 1000 characters. Outside a recording span it does
// nothing. Never annotate secrets: annotations are stored and shown as they are.
func Annotate[V AnnotationValue](ctx context.Context, key string, value V) {
	span := trace.SpanFromContext(ctx)
	key = sanitizeKey(key)
	if !span.IsRecording() || key == "" {
		return
	}
	k := attribute.Key(annotationPrefix + key)
	rv := reflect.ValueOf(value)
	switch rv.Kind() {
	case reflect.String:
		span.SetAttributes(k.String(truncate(rv.String(), maxValueRunes)))
	case reflect.Bool:
		span.SetAttributes(k.Bool(rv.Bool()))
	case reflect.Int, reflect.Int32, reflect.Int64:
		span.SetAttributes(k.Int64(rv.Int()))
	case reflect.Uint32:
		span.SetAttributes(k.Int64(int64(rv.Uint())))
	case reflect.Float64:
		span.SetAttributes(k.Float64(rv.Float()))
	}
}

// TraceID returns the X-Ray trace id (1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy) of the span in
// ctx, or "" when there is none. It works when tracing is off too, as long as the
// invocation carried a trace header.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.TraceID().IsValid() {
		return ""
	}
	return XRayTraceID(sc.TraceID())
}

// Link records on the current span that it continues the work of the trace originID (an
// X-Ray trace id, as TraceID returns it): as the annotation origin_trace_id, so that
// annotation.origin_trace_id = "<id>" finds it, and in metadata. An empty or malformed id
// is ignored; the trace is then simply not linked.
func Link(ctx context.Context, originID string) {
	if _, err := ParseXRayTraceID(originID); err != nil {
		return
	}
	Annotate(ctx, KeyOriginTraceID, originID)
	trace.SpanFromContext(ctx).SetAttributes(attribute.StringSlice("links", []string{originID}))
}
