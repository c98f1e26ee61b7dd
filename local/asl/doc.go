// Package asl executes Amazon States Language state machines locally. It is
// part of the local runtime that stands in for AWS in demos and end-to-end
// tests; production code never imports it.
//
// Parse validates a definition and reports anything outside the supported
// subset as an *UnsupportedError naming the state and field, so a definition
// that parses runs as Step Functions would run it. The subset is the
// JSONPath query language with the Task, Pass, Wait, Choice, Succeed, Fail,
// Map (inline and distributed) and Parallel states; InputPath, Parameters
// (paths, context object paths and intrinsic functions), ResultSelector,
// ResultPath and OutputPath; Retry (with MaxDelaySeconds and
// JitterStrategy) and Catch; task timeouts and heartbeats; and the
// .waitForTaskToken callback pattern. JSONPath queries are evaluated by
// github.com/theory/jsonpath (RFC 9535).
//
// An Engine runs executions. Task resources are delegated to a TaskInvoker
// the embedder provides; LambdaFunctions adapts in-process handlers. The
// engine records a history with the event types, ids, previousEventId links
// and detail objects of the Step Functions GetExecutionHistory API, and
// answers SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat with the
// same errors the service returns.
//
// Behaviour follows the service where the language specification leaves
// room:
//   - A lambda:invoke result is the Lambda Invoke response (Payload,
//     StatusCode, ExecutedVersion and SDK metadata); a function error is
//     named after its errorType (Lambda.Unknown without one) and its cause
//     is the function's error document.
//   - States.Runtime ends the execution: no Retry or Catch applies to it, not
//     even one naming it. Paths that select nothing (InputPath, Parameters,
//     OutputPath, ItemsPath), a ResultPath that cannot be applied to the
//     input (an array, say) and failing intrinsic functions are reported as
//     States.Runtime: a recorded service execution shows it for a Parameters
//     path, and the service's guide does not say when it uses
//     States.ParameterPathFailure, States.ResultPathMatchFailure or
//     States.IntrinsicFailure, which stay reserved names.
//   - A Choice state without a matching rule or Default fails with
//     States.NoChoiceMatched. The guide calls it a runtime error, which
//     States.ALL does not catch; unlike States.Runtime it is not said to be
//     always fatal, so a Parallel or Map around the Choice may catch or retry
//     it by name.
//   - States.ALL matches everything except States.DataLimitExceeded and
//     States.NoChoiceMatched, which only a catcher or retrier naming them
//     handles. States.TaskFailed matches everything except timeouts and
//     those two.
//   - A Parallel state fails with its branch's error; States.BranchFailed,
//     States.Permissions and States.QueryEvaluationError (JSONata, which
//     is refused) are never raised.
//   - A missed heartbeat fails the task with States.HeartbeatTimeout, which
//     ErrorEquals ["States.Timeout"] also matches, as it did before the
//     service introduced the narrower name.
//   - Inline Map runs at most 40 iterations at once; MaxConcurrency 0 means
//     that limit.
//   - A distributed Map (ProcessorConfig Mode DISTRIBUTED, ExecutionType
//     STANDARD; EXPRESS is refused, as Express workflows cannot wait for a
//     task token) starts a Map Run and runs each item as a child execution:
//     a real Execution with its own history, 25,000-event quota, payload
//     limits and task tokens, named with a UUID, as
//     <state machine>/<label>:<uuid> (the label is Label, or a UUID). Its
//     ItemSelector is evaluated in the parent's context; its $$.Execution
//     is the child's. At most 10,000 children run at once (MaxConcurrency
//     0 means that). The parent records MapStateStarted, MapRunStarted and
//     MapRunSucceeded or MapRunFailed, never the iterations.
//   - Items come from the state input or from an ItemReader reading a JSON
//     array or JSON Lines object from S3 through Options.Objects as the
//     execution's role; ItemsPath is ignored next to an ItemReader, as the
//     service ignores it. A failure to read is States.ItemReaderFailed.
//   - Without a ResultWriter the result is the children's outputs in item
//     order, a failed child's execution result (Status, Error, Cause, ...)
//     in its place. With one it is {MapRunArn, ResultWriterDetails}, and
//     <Prefix>/<map run id>/ holds manifest.json and the SUCCEEDED, FAILED
//     and PENDING files, written also when the tolerance is exceeded; a
//     failure to write is States.ResultWriterFailed.
//   - Failed, timed-out and aborted children count as failed items. The Map
//     Run fails with States.ExceedToleratedFailureThreshold as soon as they
//     exceed ToleratedFailureCount or ToleratedFailurePercentage (either;
//     any failure when neither is set); the running children are then
//     aborted and no more start. Ending the parent aborts its children.
//   - States.MathRandom returns an integer between start and end inclusive.
//   - An execution fails with States.Runtime when its history reaches 25,000
//     events, which also bounds definitions that loop forever.
//
// Engine.MapRun and Execution.MapRuns expose Map Runs for DescribeMapRun,
// ListMapRuns and ListExecutions by Map Run.
//
// Time comes from a Clock. Options.TimeScale runs Waits, retries, timeouts
// and heartbeats faster while history timestamps keep the durations the
// definition asked for, which keeps tests fast.
package asl
