package execution

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

const smARN = "arn:aws:states:eu-west-1:111111111111:stateMachine:crossbuild"

type fakeSFN struct {
	status  sfntypes.ExecutionStatus
	started *sfn.StartExecutionInput
	stopped *sfn.StopExecutionInput
	err     error
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.started = in
	if f.err != nil {
		return nil, f.err
	}
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String("arn:aws:states:eu-west-1:111111111111:execution:crossbuild:" + aws.ToString(in.Name))}, nil
}

func (f *fakeSFN) DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	return &sfn.DescribeExecutionOutput{Status: f.status}, f.err
}

func (f *fakeSFN) StopExecution(_ context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	f.stopped = in
	return &sfn.StopExecutionOutput{}, nil
}

func TestStart(t *testing.T) {
	for _, tt := range []struct {
		name, input, execName string
		err                   error
		wantARN, wantErr      string
	}{
		{name: "a named execution", input: `{"crossAccountTargetRoleArns":[]}`, execName: "release-42",
			wantARN: "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:release-42"},
		{name: "not an object", input: `[1]`, wantErr: "execution input: not a JSON object"},
		{name: "not JSON", input: `{`, wantErr: "not a JSON object"},
		{name: "too large", input: `{"x":"` + strings.Repeat("a", MaxInputBytes) + `"}`, wantErr: "more than Step Functions' 262144"},
		{name: "refused", input: `{}`, err: errors.New("ExecutionAlreadyExists"), wantErr: "start an execution of " + smARN + ": ExecutionAlreadyExists"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSFN{err: tt.err}
			arn, err := Start(t.Context(), f, smARN, tt.execName, []byte(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				var ie *InputError
				if errors.As(err, &ie) && (f.started != nil || ie.Fix() == "") {
					t.Errorf("a refused input was sent, or has no fix")
				}
				return
			}
			if err != nil || arn != tt.wantARN || aws.ToString(f.started.Input) != tt.input {
				t.Fatalf("Start = %q, %v", arn, err)
			}
		})
	}
}

type fakeRecords struct {
	recs    []tokenstore.Record
	intents []tokenstore.Intent
	err     error
}

func (f *fakeRecords) ListExecution(context.Context, string) ([]tokenstore.Record, []tokenstore.Intent, error) {
	return f.recs, f.intents, f.err
}

func TestStop(t *testing.T) {
	open := &fakeRecords{
		recs: []tokenstore.Record{
			{BuildARN: "b0", State: tokenstore.Waiting}, {BuildARN: "b1", State: tokenstore.Claimed},
			{BuildARN: "b2", State: tokenstore.Completed}, {BuildARN: "b3", State: tokenstore.Stopped},
		},
		// b0 is recorded; b4 is started but not recorded yet; the last one started nothing.
		intents: []tokenstore.Intent{{BuildARN: "b0"}, {BuildARN: "b4"}, {}},
	}
	for _, tt := range []struct {
		name    string
		status  sfntypes.ExecutionStatus
		recs    Records
		want    Stopped
		stopped bool
	}{
		{"a running execution", sfntypes.ExecutionStatusRunning, open, Stopped{Running: 3}, true},
		{"records unreadable", sfntypes.ExecutionStatusRunning, &fakeRecords{err: errors.New("AccessDenied")}, Stopped{Running: -1}, true},
		{"no table", sfntypes.ExecutionStatusRunning, nil, Stopped{Running: -1}, true},
		{"already ended", sfntypes.ExecutionStatusSucceeded, open, Stopped{Already: "SUCCEEDED"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSFN{status: tt.status}
			got, err := Stop(t.Context(), f, tt.recs, "arn:x")
			if err != nil || got != tt.want || (f.stopped != nil) != tt.stopped {
				t.Fatalf("Stop = %+v, %v; stopped %v", got, err, f.stopped != nil)
			}
			if tt.stopped && aws.ToString(f.stopped.Error) != StopError {
				t.Errorf("stopped with %+v", f.stopped)
			}
		})
	}
}
