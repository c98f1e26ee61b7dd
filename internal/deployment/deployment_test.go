package deployment

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
)

type fakeCF struct {
	outputs map[string]string
	err     error
	calls   int
}

func (f *fakeCF) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	st := cftypes.Stack{StackName: in.StackName}
	for k, v := range f.outputs {
		st.Outputs = append(st.Outputs, cftypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{st}}, nil
}

const smARN = "arn:aws:states:eu-west-1:111111111111:stateMachine:crossbuild"

func TestFind(t *testing.T) {
	full := map[string]string{
		"StateMachineArn": smARN, "RunsBucketName": "bucket", "TokenTableName": "table",
		"EventBusArn": "arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild", "DeadLetterQueueUrl": "https://sqs/q",
	}
	for _, tt := range []struct {
		name      string
		outputs   map[string]string
		err       error
		given     Deployment
		need      []Field
		want      Deployment
		wantCalls int
		wantErr   string // a substring; with the fix of a typed error
	}{
		{name: "from the outputs", outputs: full, need: []Field{StateMachine, Bucket, Table},
			want: Deployment{StateMachineARN: smARN, Bucket: "bucket", Table: "table"}, wantCalls: 1},
		{name: "a given value wins", outputs: full, given: Deployment{Bucket: "mine"}, need: []Field{Bucket, Table},
			want: Deployment{Bucket: "mine", Table: "table"}, wantCalls: 1},
		{name: "everything given: the stack is not read", err: errors.New("not called"), given: Deployment{DeadLetterQueue: "u"},
			need: []Field{DeadLetterQueue}, want: Deployment{DeadLetterQueue: "u"}},
		{name: "an older stack", outputs: map[string]string{"RunsBucketName": "bucket"}, need: []Field{StateMachine},
			wantErr: "has no output StateMachineArn: redeploy the source stack with this version (make deploy-source), or pass --state-machine", wantCalls: 1},
		{name: "no stack", err: &smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id crossbuild-source does not exist"},
			need: []Field{Table}, wantErr: "stack crossbuild-source not found in eu-west-1: use the source account's profile", wantCalls: 1},
		{name: "access denied", err: &smithy.GenericAPIError{Code: "AccessDenied"}, need: []Field{Table},
			wantErr: "read stack crossbuild-source: api error AccessDenied", wantCalls: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cf := &fakeCF{outputs: tt.outputs, err: tt.err}
			f := &Finder{CloudFormation: cf, Given: tt.given, Region: "eu-west-1"}
			got, err := f.Find(t.Context(), tt.need...)
			if tt.wantErr != "" {
				msg := ""
				if err != nil {
					msg = err.Error()
					if fx, ok := err.(interface{ Fix() string }); ok {
						msg += ": " + fx.Fix()
					}
				}
				if !strings.Contains(msg, tt.wantErr) {
					t.Fatalf("error %q, want %q", msg, tt.wantErr)
				}
			} else if err != nil || got != tt.want {
				t.Fatalf("Find = %+v, %v; want %+v", got, err, tt.want)
			}
			// A second look does not read the stack again.
			_, _ = f.Find(t.Context(), tt.need...)
			if want := tt.wantCalls; tt.wantErr == "" && cf.calls != want {
				t.Errorf("%d DescribeStacks calls, want %d", cf.calls, want)
			}
		})
	}
}

func TestExecutionARN(t *testing.T) {
	for _, tt := range []struct{ ref, want, wantErr string }{
		{ref: "release-42", want: "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:release-42"},
		{ref: "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:x", want: "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:x"},
		{ref: "arn:aws:states:eu-west-1:111111111111:stateMachine:crossbuild", wantErr: "not an execution"},
		{ref: "two words", wantErr: "not an execution"},
		{ref: "", wantErr: "not an execution"},
	} {
		got, err := ExecutionARN(tt.ref, smARN)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !IsUsage(err) {
				t.Errorf("ExecutionARN(%q) = %q, %v", tt.ref, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ExecutionARN(%q) = %q, %v", tt.ref, got, err)
		}
	}
	if n := ExecutionName("arn:aws:states:eu-west-1:111111111111:execution:crossbuild:release-42"); n != "release-42" {
		t.Errorf("ExecutionName = %q", n)
	}
}
