package asl

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// Error names defined by the Amazon States Language.
const (
	ErrorAll               = "States.ALL"
	ErrorTimeout           = "States.Timeout"
	ErrorHeartbeatTimeout  = "States.HeartbeatTimeout"
	ErrorTaskFailed        = "States.TaskFailed"
	ErrorRuntime           = "States.Runtime"
	ErrorDataLimitExceeded = "States.DataLimitExceeded"
	// ErrorNoChoiceMatched fails a Choice state without a matching rule or
	// Default. The Step Functions guide calls it a runtime error, a kind
	// States.ALL does not catch; unlike States.Runtime it is not documented
	// as always fatal, so an enclosing Parallel or Map may name it.
	ErrorNoChoiceMatched = "States.NoChoiceMatched"
)

// UnsupportedError reports a definition that uses a state type, field or
// field value this engine does not implement. State is empty for top-level
// fields; Field is a dotted path inside the state, such as "Retry[0].Foo".
type UnsupportedError struct {
	State  string
	Field  string
	Reason string
}

func (e *UnsupportedError) Error() string {
	where := "definition"
	if e.State != "" {
		where = fmt.Sprintf("state %q", e.State)
	}
	msg := fmt.Sprintf("%s: field %q is not supported", where, e.Field)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// ValidationError reports a definition that breaks a rule of the language:
// a missing required field, a wrong type, a dangling transition.
type ValidationError struct {
	State   string
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	where := "definition"
	if e.State != "" {
		where = fmt.Sprintf("state %q", e.State)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: field %q: %s", where, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", where, e.Message)
}

// TaskError is a named failure returned by a TaskInvoker. Error becomes the
// error name that Retry and Catch match; Cause is free text.
type TaskError struct {
	Name  string
	Cause string
}

func (e *TaskError) Error() string {
	if e.Cause == "" {
		return e.Name
	}
	return e.Name + ": " + e.Cause
}

// FunctionError is the error a Lambda function returned, as the Lambda
// runtime reports it. Step Functions names the failure after Type and passes
// the error document as the cause.
type FunctionError struct {
	Type    string
	Message string
	// Payload, when set, is the function's error document as the runtime
	// produced it; otherwise one is built from Type and Message.
	Payload json.RawMessage
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Message)
}

// FunctionErrorFrom describes a Go handler's error as the Go Lambda runtime
// does: the type name of the error value becomes errorType.
func FunctionErrorFrom(err error) *FunctionError {
	if err == nil {
		return nil
	}
	return &FunctionError{Type: typeName(err), Message: err.Error()}
}

// typeName names a value's type as the Go Lambda runtime names errors.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// document returns the error document Lambda returns for a failed invocation.
func (e *FunctionError) document() string {
	if len(e.Payload) > 0 && json.Valid(e.Payload) {
		return string(e.Payload)
	}
	return mustEncode(map[string]any{"errorMessage": e.Message, "errorType": e.Type})
}

// Errors returned by the task-token methods carry the names and messages of
// the Step Functions API exceptions they stand for.

// InvalidTokenError: the token was not issued by this engine.
type InvalidTokenError struct{ Message string }

func (e *InvalidTokenError) Error() string { return "InvalidToken: " + e.Message }

// TaskDoesNotExistError: the token is well formed but names no task.
type TaskDoesNotExistError struct{ Message string }

func (e *TaskDoesNotExistError) Error() string { return "TaskDoesNotExist: " + e.Message }

// TaskTimedOutError: the task is closed: it completed, timed out or its
// execution ended.
type TaskTimedOutError struct{ Message string }

func (e *TaskTimedOutError) Error() string { return "TaskTimedOut: " + e.Message }

// ExecutionDoesNotExistError: no execution has the ARN.
type ExecutionDoesNotExistError struct{ Arn string }

func (e *ExecutionDoesNotExistError) Error() string {
	return fmt.Sprintf("ExecutionDoesNotExist: Execution Does Not Exist: '%s'", e.Arn)
}

// stateError is a failure raised while a state runs: it carries the error
// name Retry and Catch match and the cause.
type stateError struct {
	name  string
	cause string
}

func (e *stateError) Error() string {
	if e.cause == "" {
		return e.name
	}
	return e.name + ": " + e.cause
}

func newStateError(name, cause string) *stateError { return &stateError{name: name, cause: cause} }

// errorMatches reports whether an ErrorEquals entry matches an error name.
// States.Runtime never reaches this function: it ends the execution whatever
// the state's Retry and Catch say.
func errorMatches(pattern, name string) bool {
	if pattern == name {
		return true
	}
	switch pattern {
	case ErrorAll:
		return !namedOnly(name)
	case ErrorTaskFailed:
		// A wildcard for task failures; timeouts are deliberately excluded.
		return name != ErrorTimeout && name != ErrorHeartbeatTimeout && !namedOnly(name)
	case ErrorTimeout:
		// Before States.HeartbeatTimeout existed, States.Timeout caught both
		// kinds of timeout; definitions relying on that keep working.
		return name == ErrorHeartbeatTimeout
	}
	return false
}

// namedOnly reports whether only an ErrorEquals entry naming the error
// matches it: the terminal States.DataLimitExceeded and the runtime error
// States.NoChoiceMatched escape the wildcards.
func namedOnly(name string) bool {
	return name == ErrorDataLimitExceeded || name == ErrorNoChoiceMatched
}
