// Package tracing gives every Lambda function of crossbuild its traces: a span per
// invocation, a span per AWS SDK call, X-Ray annotations that let an operator find the
// traces of one build or one execution, and documents written into an older trace (Emit)
// for work that happened outside the function: a build, its phases, its completion.
//
// What comes from OpenTelemetry's contrib modules: the X-Ray trace header is parsed and
// written by the X-Ray propagator, trace ids are made by its X-Ray id generator (X-Ray
// wants the epoch second in the first 32 bits), and the spans of SDK calls are otelaws'.
// Both modules are marked deprecated upstream ("no longer supported") as of the versions
// in go.mod; they are small, and what this package relies on is covered by its tests.
//
// What stays ours, because no Go library does it: the exporter. Exporter turns each ended
// span into a classic X-Ray segment document and sends it as one UDP datagram to the
// X-Ray daemon endpoint that Lambda runs inside every sandbox (AWS_XRAY_DAEMON_ADDRESS).
// AWS's distribution of OpenTelemetry publishes X-Ray UDP span exporters for Java,
// JavaScript and Ruby, not for Go; the collector's awsxrayexporter is a collector component,
// not a library for a function; and aws-xray-sdk-go is in maintenance and pulls in SDK v1. This transport needs nothing beyond active tracing on the function: no
// collector layer, no extension, no SigV4-signed OTLP, and no CloudWatch Transaction
// Search in the account. Emit's documents go the same way.
//
// Inside Lambda the function's own segment is written by Lambda. Its id arrives in the
// trace header (_X_AMZN_TRACE_ID, also in the invocation context), so the invocation span
// is sent as a subsegment of it, and every span below the invocation span as a subsegment
// of its parent. Sampling is Lambda's: Sampled=1 exports, Sampled=0 exports nothing. A
// missing or malformed header starts a new trace that is not sampled, so nothing is sent
// for that invocation; the handler still runs unchanged. Emit sends regardless of the
// invocation's own sampling: its documents belong to a trace that was sampled when it
// began.
//
// Spans are exported synchronously when they end and flushed before Wrap returns, because
// Lambda freezes the sandbox as soon as the handler returns.
//
// What is recorded: span names, times, the X-Ray annotations set with Annotate and Link,
// the service, operation, Region, HTTP status and request id of SDK calls, the type and
// message of returned errors, and what callers put into Emit's documents. Nothing in this
// package reads request or response payloads or environment variables other than the two
// above, so task tokens, credentials and build environment values never reach a trace
// unless a caller puts one into an annotation, a document or an error message — which, as
// with logs, callers must not do.
package tracing
