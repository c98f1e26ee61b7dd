package tracing

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-sdk-go-v2/otelaws"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// errorCodeMiddlewareID names the middleware InstrumentSDK adds next to otelaws'; finding it
// on a stack means the stack is instrumented already.
const errorCodeMiddlewareID = "crossbuild.tracing.ErrorCode"

// InstrumentSDK makes every client built from cfg open one span per operation call
// (retries included) as a child of the span in the call's context, named after the
// service and operation, with the Region, HTTP status, request id and error; and send the
// span's trace header to the service. Calls outside a recording span cost nothing.
//
// The spans are otelaws' (OpenTelemetry contrib): it starts them once the SDK has put the
// service and operation into the context, so every service is named, whichever generation
// of the SDK's code generator built its client. Three things are ours:
//   - the tracer is the one of the span in the call's context, not a global, so a client
//     built at cold start traces into whichever invocation uses it;
//   - the trace header goes out for sampled calls only, as the X-Ray propagator would
//     otherwise also send Sampled=0 headers for calls nobody traces;
//   - the exception: otelaws sets only the Go type of the error, we record the API error
//     code (ThrottlingException, TaskTimedOut, ...) that X-Ray shows and filters on.
//
// No request or response attribute is recorded (otelaws' default adds DynamoDB table
// names, S3 keys, SQS queue URLs and the like). Calling InstrumentSDK twice on the same
// config adds the spans once.
func InstrumentSDK(cfg *aws.Config) {
	if cfg == nil {
		return
	}
	var adds []func(*middleware.Stack) error
	otelaws.AppendMiddlewares(&adds,
		otelaws.WithTracerProvider(contextTracerProvider{}),
		otelaws.WithTextMapPropagator(sampledOnly{}),
		otelaws.WithAttributeBuilder(noAttributes))
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		if _, ok := stack.Initialize.Get(errorCodeMiddlewareID); ok {
			return nil
		}
		for _, add := range adds {
			if err := add(stack); err != nil {
				return fmt.Errorf("add tracing middleware: %w", err)
			}
		}
		// After otelaws' own, so it runs inside the call span.
		if err := stack.Initialize.Add(errorCode{}, middleware.After); err != nil {
			return fmt.Errorf("add tracing middleware: %w", err)
		}
		return nil
	})
}

func noAttributes(context.Context, middleware.InitializeInput, middleware.InitializeOutput) []attribute.KeyValue {
	return nil
}

// errorCode records a failed call's error on the call span with the API error code as its
// type, and the request id when only the error carries it.
type errorCode struct{}

func (errorCode) ID() string { return errorCodeMiddlewareID }

func (errorCode) HandleInitialize(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleInitialize(ctx, in)
	span := trace.SpanFromContext(ctx)
	if err == nil || !span.IsRecording() {
		return out, md, err
	}
	typ := errorName(err)
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() != "" {
		typ = apiErr.ErrorCode()
	}
	var withID interface{ ServiceRequestID() string }
	if errors.As(err, &withID) && withID.ServiceRequestID() != "" {
		span.SetAttributes(otelaws.RequestIDAttr(withID.ServiceRequestID()))
	}
	recordError(span, err, typ)
	return out, md, err
}

// contextTracerProvider hands otelaws tracers that start spans with the tracer provider of
// the span in the call's context: the invocation's, set up by Wrap. Without a recording
// span there, no span is started.
type contextTracerProvider struct{ embedded.TracerProvider }

func (contextTracerProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return contextTracer{name: name, opts: opts}
}

type contextTracer struct {
	embedded.Tracer
	name string
	opts []trace.TracerOption
}

func (t contextTracer) Start(ctx context.Context, spanName string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent // ending or annotating a span that does not record does nothing
	}
	return parent.TracerProvider().Tracer(t.name, t.opts...).Start(ctx, spanName, opts...)
}

// sampledOnly is the X-Ray propagator, injecting only for sampled spans: an untraced call
// then carries what it would carry without this package (in Lambda, the SDK's recursion
// detection sends the function's own header).
type sampledOnly struct{ xray.Propagator }

var _ propagation.TextMapPropagator = sampledOnly{}

func (p sampledOnly) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	if trace.SpanContextFromContext(ctx).IsSampled() {
		p.Propagator.Inject(ctx, carrier)
	}
}
