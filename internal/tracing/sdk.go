package tracing

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

const (
	callSpanMiddlewareID   = "crossbuild.tracing.CallSpan"
	traceHeaderMiddleware  = "crossbuild.tracing.TraceHeader"
	traceHeaderHTTPHeader  = "X-Amzn-Trace-Id"
	sdkSpanNameSeparator   = "."
	unknownServiceOrMethod = "unknown"
)

// InstrumentSDK makes every client built from cfg open one span per operation call
// (retries included) as a child of the span in the call's context, named after the
// service, with the operation, Region, HTTP status, request id and error; and send the
// span's trace header to the service. Calls outside a recording span cost nothing.
//
// It is a middleware rather than the SDK's TracerProvider hook because that hook opens a
// span for every internal step (serialize, sign, resolve endpoint, each attempt...), ten
// or more per call, and reports the HTTP status on an inner span, not on the call.
// Calling InstrumentSDK twice on the same config adds the spans once.
func InstrumentSDK(cfg *aws.Config) {
	if cfg == nil {
		return
	}
	cfg.APIOptions = append(cfg.APIOptions, addCallSpan)
}

func addCallSpan(stack *middleware.Stack) error {
	if _, ok := stack.Initialize.Get(callSpanMiddlewareID); ok {
		return nil
	}
	if err := stack.Initialize.Add(callSpan{}, middleware.Before); err != nil {
		return fmt.Errorf("add tracing middleware: %w", err)
	}
	// Before the SDK's recursion detection, which only fills the header when it is empty.
	if err := stack.Build.Add(traceHeader{}, middleware.Before); err != nil {
		return fmt.Errorf("add trace header middleware: %w", err)
	}
	return nil
}

type callSpan struct{}

func (callSpan) ID() string { return callSpanMiddlewareID }

func (callSpan) HandleInitialize(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return next.HandleInitialize(ctx, in)
	}
	service := orUnknown(awsmiddleware.GetServiceID(ctx))
	op := orUnknown(awsmiddleware.GetOperationName(ctx))
	attrs := []attribute.KeyValue{
		attribute.String(attrRPCSystem, rpcSystemAWS),
		attribute.String(attrRPCService, service),
		attribute.String(attrRPCMethod, op),
	}
	if r := awsmiddleware.GetRegion(ctx); r != "" {
		attrs = append(attrs, attribute.String(attrRegion, r))
	}
	ctx, span := parent.TracerProvider().Tracer(scopeName).Start(ctx, service+sdkSpanNameSeparator+op,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()

	out, md, err := next.HandleInitialize(ctx, in)

	status, requestID := responseInfo(md, err)
	if status > 0 {
		span.SetAttributes(attribute.Int(attrHTTPStatus, status))
	}
	if requestID != "" {
		span.SetAttributes(attribute.String(attrRequestID, requestID))
	}
	if err != nil {
		typ := ErrorType(err)
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode() != "" {
			typ = apiErr.ErrorCode()
		}
		recordError(span, err, typ)
	} else {
		span.SetStatus(codes.Ok, "")
	}
	return out, md, err
}

// responseInfo finds the HTTP status and request id of the last attempt: in the metadata
// on success, in the error chain on failure.
func responseInfo(md middleware.Metadata, err error) (status int, requestID string) {
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && raw != nil && raw.Response != nil {
		status = raw.StatusCode
	}
	requestID, _ = awsmiddleware.GetRequestIDMetadata(md)
	var withStatus interface{ HTTPStatusCode() int }
	if errors.As(err, &withStatus) {
		status = withStatus.HTTPStatusCode()
	}
	var withID interface{ ServiceRequestID() string }
	if requestID == "" && errors.As(err, &withID) {
		requestID = withID.ServiceRequestID()
	}
	return status, requestID
}

func orUnknown(s string) string {
	if s == "" {
		return unknownServiceOrMethod
	}
	return s
}

// traceHeader sends the call span's context to the service, so AWS services that take
// part in X-Ray attach their segments under the call.
type traceHeader struct{}

func (traceHeader) ID() string { return traceHeaderMiddleware }

func (traceHeader) HandleBuild(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
	sc := trace.SpanContextFromContext(ctx)
	if req, ok := in.Request.(*smithyhttp.Request); ok && sc.IsValid() && sc.IsSampled() {
		h := TraceHeader{TraceID: sc.TraceID(), ParentID: sc.SpanID(), Sampled: true}
		req.Header.Set(traceHeaderHTTPHeader, h.String())
	}
	return next.HandleBuild(ctx, in)
}
