package redrive

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/crossbuild/crossbuild/internal/testfixtures"
)

const callbackARN = "arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-callback"

// fakeQueue hands out its messages as SQS does: a received message is invisible for the
// visibility timeout (here: for good, unless it is 0) until deleted.
type fakeQueue struct {
	msgs     []sqstypes.Message
	hidden   map[string]bool
	deleted  []string
	receives int
}

func (q *fakeQueue) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.receives++
	if q.hidden == nil {
		q.hidden = map[string]bool{}
	}
	out := &sqs.ReceiveMessageOutput{}
	for _, m := range q.msgs {
		id := aws.ToString(m.MessageId)
		if q.hidden[id] || len(out.Messages) == int(in.MaxNumberOfMessages) {
			continue
		}
		if in.VisibilityTimeout > 0 {
			q.hidden[id] = true
		}
		out.Messages = append(out.Messages, m)
	}
	return out, nil
}

func (q *fakeQueue) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	h := aws.ToString(in.ReceiptHandle)
	q.deleted = append(q.deleted, h)
	var kept []sqstypes.Message
	for _, m := range q.msgs {
		if aws.ToString(m.ReceiptHandle) != h {
			kept = append(kept, m)
		}
	}
	q.msgs = kept
	return &sqs.DeleteMessageOutput{}, nil
}

type fakeLambda struct {
	invoked []string
	failing map[string]bool
}

func (f *fakeLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	name := aws.ToString(in.FunctionName)
	f.invoked = append(f.invoked, name)
	if f.failing[name] {
		return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"), Payload: []byte(`{"errorType":"TransientError"}`)}, nil
	}
	if name == "gone" {
		return nil, errors.New("ResourceNotFoundException")
	}
	return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`null`)}, nil
}

func message(id, body string, attrs map[string]string) sqstypes.Message {
	m := sqstypes.Message{MessageId: aws.String(id), ReceiptHandle: aws.String("rh-" + id), Body: aws.String(body),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{}}
	for k, v := range attrs {
		m.MessageAttributes[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return m
}

func TestRun(t *testing.T) {
	buildEvent, err := testfixtures.Raw(testfixtures.StateSucceeded)
	if err != nil {
		t.Fatal(err)
	}
	sfnEvent := `{"version":"0","id":"1","detail-type":"Step Functions Execution Status Change","source":"aws.states","account":"111111111111",` +
		`"time":"2026-11-26T08:00:00Z","region":"eu-west-1","resources":["arn:aws:states:eu-west-1:111111111111:execution:crossbuild:x"],` +
		`"detail":{"executionArn":"arn:aws:states:eu-west-1:111111111111:execution:crossbuild:x","status":"ABORTED"}}`
	fromRule := message("m1", string(buildEvent), map[string]string{"ERROR_CODE": "SDK_CLIENT_ERROR", "TARGET_ARN": callbackARN,
		"RULE_ARN": "arn:aws:events:eu-west-1:111111111111:rule/crossbuild/CallbackRule"})
	fromAsync := message("m2", sfnEvent, map[string]string{"RequestID": "r", "ErrorCode": "200", "ErrorMessage": "TransientError"})
	notEvent := message("m3", "hello", nil)
	custom := message("m4", `{"source":"my.app","detail-type":"x","detail":{}}`, nil)

	for _, tt := range []struct {
		name        string
		msgs        []sqstypes.Message
		failing     map[string]bool
		dryRun      bool
		max         int
		wantInvoked []string
		wantDeleted []string
		wantLeft    int
		wantReason  string
		wantEvent   string
	}{
		{name: "an undelivered event goes to its TARGET_ARN, a failed invocation to the function of its source",
			msgs: []sqstypes.Message{fromRule, fromAsync}, wantInvoked: []string{callbackARN, "crossbuild-canceller"},
			wantDeleted: []string{"rh-m1", "rh-m2"}, wantEvent: "CodeBuild Build State Change arn:aws:codebuild:"},
		{name: "what no function takes stays", msgs: []sqstypes.Message{notEvent, custom}, wantLeft: 2, wantReason: "no function takes events of my.app"},
		{name: "a failing function keeps its message", msgs: []sqstypes.Message{fromAsync}, failing: map[string]bool{"crossbuild-canceller": true},
			wantInvoked: []string{"crossbuild-canceller"}, wantLeft: 1, wantReason: "crossbuild-canceller failed (Unhandled)"},
		{name: "a dry run invokes and deletes nothing", msgs: []sqstypes.Message{fromRule, fromAsync, custom}, dryRun: true, wantLeft: 1},
		{name: "at most max messages", msgs: []sqstypes.Message{fromRule, fromAsync}, max: 1, wantInvoked: []string{callbackARN}, wantDeleted: []string{"rh-m1"}},
		{name: "an empty queue", msgs: nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeQueue{msgs: tt.msgs}
			fl := &fakeLambda{failing: tt.failing}
			r := &Redriver{SQS: q, Lambda: fl, QueueURL: "https://sqs/q", DryRun: tt.dryRun, Max: tt.max}
			rep, err := r.Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(fl.invoked, ",") != strings.Join(tt.wantInvoked, ",") || strings.Join(q.deleted, ",") != strings.Join(tt.wantDeleted, ",") {
				t.Errorf("invoked %v, deleted %v", fl.invoked, q.deleted)
			}
			if rep.Left() != tt.wantLeft {
				t.Errorf("left %d, want %d: %+v", rep.Left(), tt.wantLeft, rep.Outcomes)
			}
			all := ""
			for _, o := range rep.Outcomes {
				all += o.Event + "|" + o.Reason + "\n"
			}
			if !strings.Contains(all, tt.wantReason) || !strings.Contains(all, tt.wantEvent) {
				t.Errorf("outcomes %s", all)
			}
			if q.receives > len(tt.msgs)+2 {
				t.Errorf("%d receives for %d messages", q.receives, len(tt.msgs))
			}
		})
	}
}

// TestRunBounded: a queue that never empties (every message fails and comes back at once)
// ends the run after max messages.
func TestRunBounded(t *testing.T) {
	var msgs []sqstypes.Message
	for i := range 30 {
		msgs = append(msgs, message("m"+strconv.Itoa(i), `{"source":"aws.states","detail":{}}`, nil))
	}
	q := &fakeQueue{msgs: msgs}
	r := &Redriver{SQS: q, Lambda: &fakeLambda{failing: map[string]bool{"crossbuild-canceller": true}}, QueueURL: "q", Max: 25}
	rep, err := r.Run(t.Context())
	if err != nil || len(rep.Outcomes) != 25 || rep.Left() != 25 || q.receives > 4 {
		t.Fatalf("%d outcomes, %d left, %d receives, %v", len(rep.Outcomes), rep.Left(), q.receives, err)
	}
}
