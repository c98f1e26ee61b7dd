package asl

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
)

type InvalidTarget struct{ msg string }

func (e *InvalidTarget) Error() string { return e.msg }

func TestLambdaFunctions(t *testing.T) {
	fns := LambdaFunctions{
		"starter": func(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
			var in struct {
				Fail string `json:"fail"`
			}
			if err := json.Unmarshal(event, &in); err != nil {
				return nil, err
			}
			switch in.Fail {
			case "typed":
				return nil, &InvalidTarget{msg: "target 0: field region: not allowed"}
			case "task":
				return nil, &TaskError{Name: "Lambda.TooManyRequestsException", Cause: "Rate exceeded"}
			case "panic":
				panic("handler bug")
			}
			return event, nil
		},
	}
	eng := newTestEngine(t, fns)
	def := mustParse(t, `{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
		"Parameters": {"FunctionName.$": "$.fn", "Payload.$": "$"}, "End": true}}}`)
	for _, tc := range []struct {
		name, input, status, errName, cause string
	}{
		{"ok", `{"fn":"arn:aws:lambda:eu-west-1:123456789012:function:starter:live"}`, "SUCCEEDED", "", ""},
		{"typed", `{"fn":"starter","fail":"typed"}`, "FAILED", "InvalidTarget",
			`{"errorMessage":"target 0: field region: not allowed","errorType":"InvalidTarget"}`},
		{"task", `{"fn":"starter","fail":"task"}`, "FAILED", "Lambda.TooManyRequestsException", "Rate exceeded"},
		{"missing", `{"fn":"nope"}`, "FAILED", "Lambda.ResourceNotFoundException", ""},
		{"panic", `{"fn":"starter","fail":"panic"}`, "FAILED", "string", `{"errorMessage":"handler bug","errorType":"string"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := waitEnd(t, startRun(t, eng, def, "lambda-"+tc.name, tc.input))
			if string(info.Status) != tc.status || info.Error != tc.errName {
				t.Fatalf("got %s %s %s", info.Status, info.Error, info.Cause)
			}
			if tc.cause != "" && info.Cause != tc.cause {
				t.Fatalf("cause %q, want %q", info.Cause, tc.cause)
			}
		})
	}
	// A panicking invoker fails the task instead of the process.
	boom := newTestEngine(t, TaskInvokerFunc(func(context.Context, TaskRequest) (json.RawMessage, error) { panic("boom") }))
	info := waitEnd(t, startRun(t, boom, def, "invoker-panic", `{"fn":"x"}`))
	if info.Error != ErrorTaskFailed || info.Cause == "" {
		t.Fatalf("invoker panic: %s %s", info.Error, info.Cause)
	}
	_, err := fns.Invoke(context.Background(), TaskRequest{Resource: "arn:aws:states:::sqs:sendMessage"})
	var te *TaskError
	if !errors.As(err, &te) || te.Name != ErrorTaskFailed {
		t.Fatalf("non-Lambda resource: %v", err)
	}
}
