package failure

import (
	"context"
	"errors"
	"slices"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// Names of the failure types: each is the Go type's own name, which is what Step Functions
// matches in Retry and Catch (see Report).
const (
	NameInvalidTarget      = "InvalidTarget"
	NameTargetNotAllowed   = "TargetNotAllowed"
	NameAssumeRoleFailed   = "AssumeRoleFailed"
	NameStartBuildFailed   = "StartBuildFailed"
	NameBuildQuotaExceeded = "BuildQuotaExceeded"
	NameTransientError     = "TransientError"
	NamePollFailed         = "PollFailed"
	NameBuildNotFound      = "BuildNotFound"
	NameRecordNotFound     = "RecordNotFound"
	NameInvalidInput       = "InvalidInput"
	NameBucketUnusable     = "BucketUnusable"
	NameResultsUnreadable  = "ResultsUnreadable"
)

// Names the state machine raises itself or matches from Step Functions.
const (
	NameTargetsFailed          = "TargetsFailed" // the definition's own Fail state
	StatesALL                  = "States.ALL"
	StatesTimeout              = "States.Timeout"
	StatesHeartbeatTimeout     = "States.HeartbeatTimeout"
	StatesToleratedFailureExit = "States.ExceedToleratedFailureThreshold"
)

// Names the Lambda service and the function's sandbox raise around an invocation.
const (
	LambdaServiceException                = "Lambda.ServiceException"
	LambdaAWSLambdaException              = "Lambda.AWSLambdaException"
	LambdaSdkClientException              = "Lambda.SdkClientException"
	LambdaTooManyRequestsException        = "Lambda.TooManyRequestsException"
	LambdaUnknown                         = "Lambda.Unknown"
	LambdaClientExecutionTimeoutException = "Lambda.ClientExecutionTimeoutException"
	SandboxTimedout                       = "Sandbox.Timedout"
	RuntimeExitError                      = "Runtime.ExitError"
)

// CodeBuildPrefix starts the name of a failed build's error: CodeBuild.<terminal status>.
const CodeBuildPrefix = "CodeBuild."

// Error names of the terminal statuses a build fails with.
const (
	CodeBuildFailed   = CodeBuildPrefix + "FAILED"
	CodeBuildFault    = CodeBuildPrefix + "FAULT"
	CodeBuildStopped  = CodeBuildPrefix + "STOPPED"
	CodeBuildTimedOut = CodeBuildPrefix + "TIMED_OUT"
)

// CodeBuild returns the error name of a build that ended with status, e.g. "CodeBuild.FAILED".
func CodeBuild(status string) string { return CodeBuildPrefix + status }

// Origin says who raises a name.
type Origin int

const (
	FromFunction      Origin = iota // a failure type a function returns
	FromStepFunctions               // Step Functions, or a Fail state of the definition
	FromLambda                      // the Lambda service or the sandbox
	FromCodeBuild                   // a build's terminal status, sent by the callback or the poller
)

// Entry is one error name of the contract.
type Entry struct {
	Name   string
	Origin Origin
	// CatchAll marks a name the definition does not name, on purpose: inside a target its
	// States.ALL catcher takes it (the target fails after its build is stopped), outside one
	// it fails the execution. Every other name appears in a Retry, Catch or Fail state.
	CatchAll bool
	// Zero is a value of the failure type, for FromFunction names.
	Zero error
	is   func(error) bool
}

// as reports whether err's chain holds a T.
func as[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

func fn[T error](name string, zero T, catchAll bool) Entry {
	return Entry{Name: name, Origin: FromFunction, CatchAll: catchAll, Zero: zero, is: as[T]}
}

// Table is every error name the functions, the state machine and the Lambda boundary agree
// on. Function names come first, in the order Name tries them: a failure that wraps another
// is named by the outer one, TransientError last.
var Table = slices.Concat([]Entry{
	fn(NameInvalidTarget, &InvalidTarget{}, false),
	fn(NameTargetNotAllowed, &TargetNotAllowed{}, false),
	fn(NameAssumeRoleFailed, &AssumeRoleFailed{}, false),
	fn(NameStartBuildFailed, &StartBuildFailed{}, true),
	fn(NameBuildQuotaExceeded, &BuildQuotaExceeded{}, false),
	fn(NameBuildNotFound, &BuildNotFound{}, true),
	fn(NameRecordNotFound, &RecordNotFound{}, true),
	fn(NamePollFailed, &PollFailed{}, true),
	fn(NameInvalidInput, &InvalidInput{}, false),
	fn(NameBucketUnusable, &BucketUnusable{}, true),
	fn(NameResultsUnreadable, &ResultsUnreadable{}, true),
	fn(NameTransientError, &TransientError{}, false),
},
	raisedBy(FromStepFunctions, NameTargetsFailed, StatesALL, StatesTimeout, StatesHeartbeatTimeout, StatesToleratedFailureExit),
	raisedBy(FromLambda, LambdaServiceException, LambdaAWSLambdaException, LambdaSdkClientException,
		LambdaTooManyRequestsException, LambdaUnknown, LambdaClientExecutionTimeoutException, SandboxTimedout, RuntimeExitError),
	raisedBy(FromCodeBuild, CodeBuildFailed, CodeBuildFault, CodeBuildStopped, CodeBuildTimedOut),
)

// raisedBy lists names that have no Go type of ours.
func raisedBy(o Origin, names ...string) []Entry {
	out := make([]Entry, len(names))
	for i, n := range names {
		out[i] = Entry{Name: n, Origin: o}
	}
	return out
}

// Lookup returns the table entry of name.
func Lookup(name string) (Entry, bool) {
	for _, e := range Table {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Name returns the error name Step Functions will see for err: the name of the failure type
// found in its chain, or "" when err carries none.
func Name(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range Table {
		if e.is != nil && e.is(err) {
			return e.Name
		}
	}
	return ""
}

// Report returns h with every failure leaving the function under its table name, however
// deeply the handler wrapped it. It belongs outermost, at the Lambda boundary: aws-lambda-go
// sends a messages.InvokeResponse_Error as it is, and names any other error after its Go
// type, which for a wrapped failure would be "wrapError". Errors with no failure in their
// chain go out unchanged.
func Report[In, Out any](h func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		out, err := h(ctx, in)
		if name := Name(err); name != "" {
			return out, messages.InvokeResponse_Error{Type: name, Message: err.Error()}
		}
		return out, err
	}
}
