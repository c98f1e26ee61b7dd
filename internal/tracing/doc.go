// Package tracing gives every Lambda function of crossbuild its traces: a span per
// invocation, a span per AWS SDK call, and X-Ray annotations that let an operator find the
// traces of one build or one execution.
//
// The spans are OpenTelemetry spans; the export is our own. Exporter turns each ended span
// into a classic X-Ray segment document and sends it as one UDP datagram to the X-Ray
// daemon endpoint that Lambda runs inside every sandbox (AWS_XRAY_DAEMON_ADDRESS). That
// transport was chosen because it needs nothing beyond active tracing on the function: no
// collector layer, no extension, no SigV4-signed OTLP, and no CloudWatch Transaction Search
// in the account. It also keeps aws-xray-sdk-go (in maintenance, and it pulls in SDK v1)
// out of the binaries.
//
// Inside Lambda the function's own segment is written by Lambda. Its id arrives in the
// trace header (_X_AMZN_TRACE_ID, also in the invocation context), so the invocation span
// is sent as a subsegment of it, and every span below the invocation span as a subsegment
// of its parent. Sampling is Lambda's: Sampled=1 exports, Sampled=0 exports nothing. A
// missing or malformed header starts a new trace that is not sampled, so nothing is sent
// for that invocation; the handler still runs unchanged.
//
// Spans are exported synchronously when they end and flushed before Wrap returns, because
// Lambda freezes the sandbox as soon as the handler returns.
//
// What is recorded: span names, times, the X-Ray annotations set with Annotate and Link,
// the service, operation, Region, HTTP status and request id of SDK calls, and the type and
// message of returned errors. Nothing in this package reads request or response payloads
// or environment variables other than the two above, so task tokens, credentials and build
// environment values never reach a trace unless a caller puts one into an annotation or an
// error message — which, as with logs, callers must not do.
package tracing
