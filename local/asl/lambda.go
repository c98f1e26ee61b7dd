package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// LambdaHandler is a Lambda function's handler as a Go function: the event
// in, the response out.
type LambdaHandler func(ctx context.Context, event json.RawMessage) (json.RawMessage, error)

// LambdaFunctions is a TaskInvoker that runs Lambda resources with in-process
// handlers, keyed by function name. FunctionName may also be a function ARN,
// with or without a version or alias, as Lambda allows.
//
// A handler error becomes the function error the Go Lambda runtime would
// report (its type name is the error name), unless it already is a
// *FunctionError or *TaskError. An unknown function fails the task with
// Lambda.ResourceNotFoundException, as Step Functions reports it.
type LambdaFunctions map[string]LambdaHandler

// Invoke runs the handler named by req.FunctionName.
func (fns LambdaFunctions) Invoke(ctx context.Context, req TaskRequest) (json.RawMessage, error) {
	if req.FunctionName == "" {
		return nil, &TaskError{Name: ErrorTaskFailed, Cause: "resource " + req.Resource + " is not a Lambda function"}
	}
	name := lambdaFunctionName(req.FunctionName)
	h, ok := fns[name]
	if !ok {
		return nil, &TaskError{
			Name:  "Lambda.ResourceNotFoundException",
			Cause: "Function not found: " + req.FunctionName + " (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException)",
		}
	}
	out, err := runHandler(ctx, h, req.Payload)
	if err == nil {
		return out, nil
	}
	var fe *FunctionError
	var te *TaskError
	if errors.As(err, &fe) || errors.As(err, &te) {
		return nil, err
	}
	return nil, FunctionErrorFrom(err)
}

// runHandler calls a handler and reports a panic as the Go Lambda runtime
// does: a function error named after the panic value's type.
func runHandler(ctx context.Context, h LambdaHandler, event json.RawMessage) (out json.RawMessage, err error) {
	defer func() {
		if v := recover(); v != nil {
			out = nil
			err = &FunctionError{Type: typeName(v), Message: fmt.Sprint(v)}
		}
	}()
	return h(ctx, event)
}

// lambdaFunctionName reduces "name", "name:alias", "arn:aws:lambda:r:a:function:name[:q]"
// and "a:function:name" forms to the function name.
func lambdaFunctionName(s string) string {
	parts := strings.Split(s, ":")
	for i, p := range parts {
		if p == "function" && i+1 < len(parts) {
			return parts[i+1]
		}
	}
	return parts[0]
}
