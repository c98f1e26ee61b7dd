// Package execution starts and stops executions of the crossbuild state machine.
package execution

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// MaxInputBytes is Step Functions' limit on StartExecution's input (256 KiB, UTF-8).
const MaxInputBytes = 256 * 1024

// Starter starts executions.
type Starter interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// InputError: the input cannot be an execution's input; nothing was started.
type InputError struct {
	Reason, Hint string
}

func (e *InputError) Error() string { return "execution input: " + e.Reason }

// Fix says what to do about it.
func (e *InputError) Fix() string { return e.Hint }

// CheckInput refuses what StartExecution would refuse, before anything is sent: an input
// that is not a JSON object, or larger than MaxInputBytes. The planner checks the rest
// (docs/reference.md, "Execution input").
func CheckInput(input []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(input, &obj); err != nil || obj == nil {
		return &InputError{Reason: "not a JSON object", Hint: `give {"crossAccountTargetRoleArns": [...]} (docs/reference.md, "Execution input")`}
	}
	if len(input) > MaxInputBytes {
		return &InputError{Reason: fmt.Sprintf("%d bytes, more than Step Functions' %d", len(input), MaxInputBytes),
			Hint: "upload the targets to the runs bucket and give targetsS3Uri instead (docs/reference.md)"}
	}
	return nil
}

// Start starts an execution named name (a generated name when empty) and returns its ARN.
func Start(ctx context.Context, sf Starter, stateMachineARN, name string, input []byte) (string, error) {
	if err := CheckInput(input); err != nil {
		return "", err
	}
	in := &sfn.StartExecutionInput{StateMachineArn: aws.String(stateMachineARN), Input: aws.String(string(input))}
	if name != "" {
		in.Name = aws.String(name)
	}
	out, err := sf.StartExecution(ctx, in)
	if err != nil {
		return "", fmt.Errorf("start an execution of %s: %w", stateMachineARN, err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

// StepFunctions stops an execution after looking at it.
type StepFunctions interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	StopExecution(ctx context.Context, in *sfn.StopExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
}

// Records lists the token records of an execution (tokenstore.Store).
type Records interface {
	ListExecution(ctx context.Context, executionARN string) ([]tokenstore.Record, []tokenstore.Intent, error)
}

// Stopped is what Stop did.
type Stopped struct {
	// Already is the status of an execution that had ended: nothing was stopped.
	Already string
	// Running counts the builds whose records were still open when the execution was
	// stopped; the canceller stops them. -1 when the records could not be read.
	Running int
}

// StopError is the error and cause recorded on a stopped execution.
const (
	StopError = "crossbuild.Stopped"
	StopCause = "stopped with crossbuild stop"
)

// Stop aborts a running execution. Step Functions does not stop the builds it started
// elsewhere; the canceller does, from the execution's status change (docs/operations.md,
// "Stopping builds"), so Stop only counts them.
func Stop(ctx context.Context, sf StepFunctions, recs Records, arn string) (Stopped, error) {
	x, err := sf.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return Stopped{}, fmt.Errorf("describe execution %s: %w", arn, err)
	}
	if x.Status != sfntypes.ExecutionStatusRunning {
		return Stopped{Already: string(x.Status)}, nil
	}
	if _, err := sf.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(arn),
		Error: aws.String(StopError), Cause: aws.String(StopCause)}); err != nil {
		return Stopped{}, fmt.Errorf("stop execution %s: %w", arn, err)
	}
	res := Stopped{Running: -1}
	if recs == nil {
		return res, nil
	}
	rs, intents, err := recs.ListExecution(ctx, arn)
	if err != nil {
		return res, nil
	}
	res.Running = 0
	recorded := map[string]bool{}
	for _, r := range rs {
		recorded[r.BuildARN] = true
		if r.State == tokenstore.Waiting || r.State == tokenstore.Claimed {
			res.Running++
		}
	}
	// A build an intent holds whose record is not written yet runs too.
	for _, in := range intents {
		if in.BuildARN != "" && !recorded[in.BuildARN] {
			res.Running++
		}
	}
	return res, nil
}
