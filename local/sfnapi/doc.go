// Package sfnapi serves the AWS Step Functions JSON API over the local
// Amazon States Language engine in package asl, so the aws-sdk-go-v2 sfn
// client (with BaseEndpoint) and the AWS CLI (with --endpoint-url) can
// create state machines, run executions and complete callback tasks
// locally. It is part of the local runtime; production code never imports
// it.
//
// The Handler speaks the AWS JSON 1.0 protocol (X-Amz-Target:
// AWSStepFunctions.<Operation>, Content-Type application/x-amz-json-1.0) and
// answers errors as the service does: a 400 response whose body is
// {"__type": "<Exception>", "message": "..."}. It implements
// CreateStateMachine, DescribeStateMachine, ListStateMachines,
// StartExecution, DescribeExecution, ListExecutions, GetExecutionHistory,
// StopExecution, SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat,
// DescribeMapRun and ListMapRuns. The child executions of a distributed Map
// are listed by ListExecutions with mapRunArn (with mapRunArn and
// itemCount), not with the state machine's executions, and answer
// DescribeExecution (with mapRunArn), GetExecutionHistory and
// StopExecution like any execution. With Options.Publisher, every execution
// that ends (child executions included) puts a "Step Functions Execution
// Status Change" event on its account's default bus in its Region, as Step
// Functions does for Standard workflows.
//
// Requests are not authenticated: SigV4 signatures are not verified. The
// Region and account a request addresses, which go into the ARNs it
// creates, come from its Authorization header: the Region from the
// credential scope, the account from the access key id when that is a
// 12-digit account id (otherwise Options.DefaultAccount).
//
// Task resources run through the asl.TaskInvoker the embedder gives the
// engine, typically asl.LambdaFunctions wrapping the Lambda handlers.
package sfnapi
