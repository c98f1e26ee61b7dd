// Package faults injects the faults of docs/reliability.md into a local world, between the
// real functions and the stand-ins, without a hook in the functions themselves:
//
//   - in front of dynalite, a write is applied and its answer lost: replaced by a 500
//     (InternalServerError) or by a closed connection, which the SDK retries; or a write
//     is held for a while before it reaches the table;
//   - Step Functions, STS and CodeBuild answer chosen operations with their throttling
//     errors (ThrottlingException; Throttling for STS's query protocol);
//   - events on their way to a function are dropped, duplicated, reordered or delayed;
//   - the process of a function is killed when it sends a chosen write, before the write
//     reaches the table or once it is applied. The Lambda stand-in then reports the
//     invocation as Lambda reports a runtime that exited (Runtime.ExitError), which is
//     the error Step Functions sees, and the next invocation gets a new runtime.
//
// An Injector holds the Plan of the current run. World options wire it in: Intercept
// wraps each service's handler, Events wraps the invoker EventBridge delivers through.
// Every choice is a seeded draw over the request itself (its operation and body, or the
// event id) and how many times it was seen, so a seed gives the same choices however
// requests interleave, and a retried request draws again. Every fault injected is counted
// per rule and logged. The injector also records Step Functions' answer to every
// SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat, by task token, which is how a
// double completion is counted.
package faults
