// Package deployment finds what the crossbuild command works on: the source stack's state
// machine, bucket, token table, bus and dead-letter queue, from the stack's outputs
// (infra/config *Output) or from values the operator gives, and turns the name of an
// execution into its ARN.
package deployment

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/internal/awserr"
)

// CloudFormation reads the source stack.
type CloudFormation interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// Deployment is what a command needs of one installation; a command uses only some of it.
type Deployment struct {
	StateMachineARN string
	Bucket          string
	Table           string
	EventBusARN     string
	DeadLetterQueue string // URL
}

// Field names a value of a Deployment by the stack output that holds it.
type Field string

// The fields, by output.
const (
	StateMachine    Field = config.StateMachineOutput
	Bucket          Field = config.RunsBucketOutput
	Table           Field = config.TokenTableOutput
	EventBus        Field = config.EventBusOutput
	DeadLetterQueue Field = config.DeadLetterQueueOutput
)

// flags name the command-line flag that gives each field instead of the stack.
var flags = map[Field]string{
	StateMachine: "--state-machine", Bucket: "--bucket", Table: "--table",
	EventBus: "--event-bus", DeadLetterQueue: "--queue-url",
}

func (d *Deployment) field(f Field) *string {
	switch f {
	case StateMachine:
		return &d.StateMachineARN
	case Bucket:
		return &d.Bucket
	case Table:
		return &d.Table
	case EventBus:
		return &d.EventBusARN
	case DeadLetterQueue:
		return &d.DeadLetterQueue
	}
	return nil
}

// Finder looks the deployment up once, lazily.
type Finder struct {
	CloudFormation CloudFormation
	Stack          string     // default config.SourceStackName
	Given          Deployment // values the operator gave; they win over the stack's
	Region         string     // for messages

	outputs map[string]string // nil until read
}

// Find returns the deployment with every field in need set. The stack is read only when
// something needed was not given.
func (f *Finder) Find(ctx context.Context, need ...Field) (Deployment, error) {
	d := f.Given
	var missing []Field
	for _, n := range need {
		if *d.field(n) == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return d, nil
	}
	if f.outputs == nil {
		if err := f.read(ctx); err != nil {
			return Deployment{}, err
		}
	}
	for _, n := range missing {
		v := f.outputs[string(n)]
		if v == "" {
			return Deployment{}, &MissingOutputError{Stack: f.stack(), Output: string(n), Flag: flags[n]}
		}
		*d.field(n) = v
	}
	return d, nil
}

func (f *Finder) stack() string {
	if f.Stack == "" {
		return config.SourceStackName
	}
	return f.Stack
}

func (f *Finder) read(ctx context.Context) error {
	out, err := f.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(f.stack())})
	if err != nil {
		// CloudFormation answers a missing stack with ValidationError.
		if awserr.Code(err) == "ValidationError" {
			return &StackNotFoundError{Stack: f.stack(), Region: f.Region, Err: err}
		}
		return fmt.Errorf("read stack %s: %w", f.stack(), err)
	}
	if len(out.Stacks) == 0 {
		return &StackNotFoundError{Stack: f.stack(), Region: f.Region}
	}
	f.outputs = map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		f.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return nil
}

// StackNotFoundError: the source stack is not in this account and Region.
type StackNotFoundError struct {
	Stack, Region string
	Err           error
}

func (e *StackNotFoundError) Error() string {
	where := ""
	if e.Region != "" {
		where = " in " + e.Region
	}
	return fmt.Sprintf("stack %s not found%s", e.Stack, where)
}

func (e *StackNotFoundError) Unwrap() error { return e.Err }

// Fix says what to do about it.
func (e *StackNotFoundError) Fix() string {
	return "use the source account's profile and Region (--profile, --region, AWS_PROFILE, AWS_REGION), --stack for another name, or deploy it (make deploy-source)"
}

// MissingOutputError: the stack lacks an output, as one deployed by an older version does.
type MissingOutputError struct {
	Stack, Output, Flag string
}

func (e *MissingOutputError) Error() string {
	return fmt.Sprintf("stack %s has no output %s", e.Stack, e.Output)
}

// Fix says what to do about it.
func (e *MissingOutputError) Fix() string {
	return fmt.Sprintf("redeploy the source stack with this version (make deploy-source), or pass %s", e.Flag)
}

// ExecutionARN turns what the operator typed into an execution ARN: an ARN is kept; a name
// is an execution of the state machine.
func ExecutionARN(ref, stateMachineARN string) (string, error) {
	if strings.HasPrefix(ref, "arn:") {
		if !strings.Contains(ref, ":execution:") {
			return "", &BadExecutionError{Ref: ref}
		}
		return ref, nil
	}
	if ref == "" || strings.ContainsAny(ref, " :/") {
		return "", &BadExecutionError{Ref: ref}
	}
	prefix, name, ok := strings.Cut(stateMachineARN, ":stateMachine:")
	if !ok || name == "" {
		return "", fmt.Errorf("state machine ARN %q: want arn:<partition>:states:<region>:<account>:stateMachine:<name>", stateMachineARN)
	}
	return prefix + ":execution:" + name + ":" + ref, nil
}

// CheckRef refuses what can be neither an execution's name nor its ARN.
func CheckRef(ref string) error {
	_, err := ExecutionARN(ref, "arn:aws:states:region:account:stateMachine:name")
	return err
}

// NeedsStateMachine reports whether ExecutionARN needs the state machine for ref.
func NeedsStateMachine(ref string) bool { return !strings.HasPrefix(ref, "arn:") }

// ExecutionName is the last part of an execution ARN (runs/<name>/ in the bucket).
func ExecutionName(arn string) string {
	return arn[strings.LastIndexByte(arn, ':')+1:]
}

// BadExecutionError: what was typed is neither an execution ARN nor a name.
type BadExecutionError struct{ Ref string }

func (e *BadExecutionError) Error() string {
	return fmt.Sprintf("%q is not an execution name or ARN", e.Ref)
}

// Fix says what to do about it.
func (e *BadExecutionError) Fix() string {
	return "give the execution's name (as crossbuild run printed it) or its ARN (arn:...:execution:crossbuild:<name>)"
}

// IsUsage reports an error in what the operator typed rather than in AWS.
func IsUsage(err error) bool {
	var bad *BadExecutionError
	return errors.As(err, &bad)
}
