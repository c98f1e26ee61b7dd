package tracing

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/crossbuild/crossbuild/internal/failure"
)

const (
	scopeName    = "github.com/crossbuild/crossbuild/internal/tracing"
	flushTimeout = time.Second
	// attrValueLimit bounds any single attribute so one span cannot approach the datagram
	// size on its own.
	attrValueLimit = 4096
)

// Provider creates the invocation spans of one Lambda function. The zero of it, and a nil
// *Provider, trace nothing.
type Provider struct {
	tp     *sdktrace.TracerProvider // nil when tracing is off
	tracer trace.Tracer
	docs   *Exporter // sends Emit's documents; nil when there is no daemon
}

// Setup reads AWS_XRAY_DAEMON_ADDRESS once, at cold start. Set, spans go to that daemon;
// unset (tests, local runs), the provider traces nothing but still carries the trace id
// of the Lambda trace header, so TraceID keeps working.
func Setup(_ context.Context, service string) (*Provider, error) {
	addr := os.Getenv(DaemonAddressEnv)
	if addr == "" {
		return NewProvider(nil, service), nil
	}
	exp, err := DialExporter(addr)
	if err != nil {
		return nil, fmt.Errorf("tracing setup from %s: %w", DaemonAddressEnv, err)
	}
	return NewProvider(exp, service), nil
}

// NewProvider builds a provider exporting through exp, or a non-exporting one when exp
// is nil. Spans are exported synchronously as they end; sampling follows the Lambda
// trace header and spans without one are never sampled.
func NewProvider(exp sdktrace.SpanExporter, service string) *Provider {
	if exp == nil {
		return &Provider{tracer: noop.NewTracerProvider().Tracer(scopeName)}
	}
	limits := sdktrace.NewSpanLimits()
	limits.AttributeValueLengthLimit = attrValueLimit
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())),
		// X-Ray refuses a trace id whose first 32 bits are not a recent epoch second.
		sdktrace.WithIDGenerator(xray.NewIDGenerator()),
		sdktrace.WithRawSpanLimits(limits),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))),
	)
	docs, _ := exp.(*Exporter)
	return &Provider{tp: tp, tracer: tp.Tracer(scopeName), docs: docs}
}

// Shutdown flushes and closes the exporter. Lambda functions need not call it: Wrap
// flushes after every invocation.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.tp == nil {
		return nil
	}
	return p.tp.Shutdown(ctx)
}

func (p *Provider) tracerOrNoop() trace.Tracer {
	if p == nil || p.tracer == nil {
		return noop.NewTracerProvider().Tracer(scopeName)
	}
	return p.tracer
}

// Wrap returns h with an invocation span named name around every call: parented on the
// invocation's trace header, marked failed when h returns an error or panics, and flushed
// before the wrapped handler returns. A panic is recorded and then re-raised unchanged.
func Wrap[In, Out any](p *Provider, name string, h func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (out Out, err error) {
		ctx, span := p.startInvocation(ctx, name)
		if p != nil && p.docs != nil {
			ctx = context.WithValue(ctx, emitterKey{}, p.docs)
		}
		defer func() {
			if r := recover(); r != nil {
				span.AddEvent(exceptionEvent, trace.WithAttributes(
					attribute.String(attrExcType, "panic"),
					attribute.String(attrExcMessage, fmt.Sprint(r)),
				))
				span.SetStatus(codes.Error, "panic")
				span.End()
				p.flush(ctx)
				panic(r)
			}
			recordError(span, err, errorName(err))
			span.End()
			p.flush(ctx)
		}()
		return h(ctx, in)
	}
}

func (p *Provider) startInvocation(ctx context.Context, name string) (context.Context, trace.Span) {
	if h, err := ParseTraceHeader(headerFor(ctx)); err == nil {
		ctx = trace.ContextWithRemoteSpanContext(ctx, h.SpanContext())
	}
	// Without a valid header the span starts a new trace, which the sampler drops.
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		opts = append(opts, trace.WithAttributes(attribute.String("faas.invocation_id", lc.AwsRequestID)))
	}
	return p.tracerOrNoop().Start(ctx, name, opts...)
}

func (p *Provider) flush(ctx context.Context) {
	if p == nil || p.tp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	_ = p.tp.ForceFlush(ctx) // export errors already went to the OpenTelemetry error handler
}

// Start opens a child span of the span in ctx, for work worth seeing on its own in a
// trace. It uses the provider that created the span in ctx, so it traces nothing outside
// Wrap. End it with End.
func Start(ctx context.Context, name string) (context.Context, trace.Span) {
	return trace.SpanFromContext(ctx).TracerProvider().Tracer(scopeName).Start(ctx, name)
}

// End marks span failed when err is not nil and ends it.
func End(span trace.Span, err error) {
	recordError(span, err, errorName(err))
	span.End()
}

// errorName is the type recorded for err: its name in failure's table, the name Step
// Functions sees; for any other error, a label for the trace view: its Go type without
// pointer or package.
func errorName(err error) string {
	if name := failure.Name(err); name != "" {
		return name
	}
	typ := strings.TrimLeft(fmt.Sprintf("%T", err), "*")
	return typ[strings.LastIndex(typ, ".")+1:]
}

// recordError adds err to span as an exception with the given type. The SDK's own
// RecordError names types with their package path; X-Ray shows the short name better.
func recordError(span trace.Span, err error, typ string) {
	if err == nil {
		return
	}
	span.AddEvent(exceptionEvent, trace.WithAttributes(
		attribute.String(attrExcType, typ),
		attribute.String(attrExcMessage, err.Error()),
	))
	span.SetStatus(codes.Error, typ)
}
