// Package lambda is the local stand-in for AWS Lambda: it runs each function's real
// bootstrap binary under the AWS Lambda Runtime Interface Emulator (RIE), one emulator
// process per execution environment, and offers the Invoke API both to Go callers (the
// Step Functions and EventBridge stand-ins) and over HTTP (the Lambda REST-JSON protocol,
// for SDKs and the AWS CLI behind a localaws.Router).
//
// Each execution environment ("instance") is one RIE process in classic mode, started with
// its own free 127.0.0.1 ports for the invoke endpoint and the Runtime API, so functions and
// several instances of one function run side by side. A function's Concurrency is its pool
// of instances: an invocation takes a free one, so parallelism is bounded as reserved
// concurrency bounds it in AWS.
//
// Between the runtime and the emulator's Runtime API sits a small in-process proxy. It is
// how the runtime gets what the classic emulator leaves out or gets wrong: the X-Ray trace
// header (Lambda-Runtime-Trace-Id, hence _X_AMZN_TRACE_ID), the function's real ARN, and
// a reliable signal of whether the function returned a result or an error.
//
// It runs on Linux only: it relies on process groups, the parent-death signal and /proc
// to leave no process behind.
package lambda
