package lambda

import (
	"encoding/json"
	"errors"
	"fmt"
)

// FunctionError is a failed invocation as Lambda reports it: the function returned an
// error (Type is the Go type name aws-lambda-go reports), the runtime exited
// (Runtime.ExitError) or the invocation timed out (Sandbox.Timedout).
type FunctionError struct {
	Type    string `json:"errorType,omitempty"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// payload is the JSON body Lambda returns for the error.
func (e *FunctionError) payload() []byte {
	b, err := json.Marshal(e)
	if err != nil {
		return []byte(`{"errorMessage":"unencodable error"}`)
	}
	return b
}

// parseFunctionError reads an error document ({"errorType", "errorMessage"}); ok is false
// when b is not one.
func parseFunctionError(b []byte) (*FunctionError, bool) {
	var doc struct {
		Type    *string `json:"errorType"`
		Message *string `json:"errorMessage"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.Message == nil && doc.Type == nil {
		return nil, false
	}
	fe := &FunctionError{}
	if doc.Type != nil {
		fe.Type = *doc.Type
	}
	if doc.Message != nil {
		fe.Message = *doc.Message
	}
	return fe, true
}

// NotFoundError says no function matches a name or ARN.
type NotFoundError struct{ Function string }

func (e *NotFoundError) Error() string { return "Function not found: " + e.Function }

// AccessDeniedError says the caller's account may not invoke the function.
type AccessDeniedError struct{ Caller, Function string }

func (e *AccessDeniedError) Error() string {
	return fmt.Sprintf("User: %s is not authorized to perform: lambda:InvokeFunction on resource: %s because no resource-based policy allows the lambda:InvokeFunction action", e.Caller, e.Function)
}

// TooManyRequestsError says every instance of the function stayed busy for longer than
// an invocation may wait.
type TooManyRequestsError struct{ Function string }

func (e *TooManyRequestsError) Error() string {
	return "Rate Exceeded: no free instance of " + e.Function + " (its concurrency is exhausted)"
}

// ErrClosed is returned once the service or the function's context has been stopped.
var ErrClosed = errors.New("lambda stand-in is stopped")
