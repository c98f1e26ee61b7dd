// Package redrive hands the messages of the source stack's dead-letter queue back to the
// function they were meant for.
//
// The queue holds events EventBridge could not deliver to the callback, the canceller or
// the reconciler (the event as the body, ERROR_CODE, RULE_ARN, TARGET_ARN, ... as message
// attributes), and events those functions failed on when invoked asynchronously (the event
// as the body, RequestID, ErrorCode and ErrorMessage as attributes). Neither way back that
// AWS offers for a queue fits: SQS moves messages back (StartMessageMoveTask) only to an
// SQS queue whose dead-letter queue it is, and EventBridge's PutEvents refuses events whose
// source starts with aws., which all of these have (aws.codebuild, aws.states,
// aws.events). What remains is what EventBridge would have done: invoke the function with
// the event. A message is deleted only when the function succeeded; every function is
// idempotent, so an event delivered twice does no harm.
package redrive

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Queue reads and deletes the dead letters.
type Queue interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// Functions invokes the functions the events were for.
type Functions interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// The source stack's functions (infra/stacks: "crossbuild-" + name) by the events they get:
// used when a message does not name its target (a failed asynchronous invocation).
var DefaultFunctions = map[string]string{
	"aws.codebuild": "crossbuild-callback",
	"aws.states":    "crossbuild-canceller",
	"aws.events":    "crossbuild-reconciler",
}

// Redriver empties one queue.
type Redriver struct {
	SQS      Queue
	Lambda   Functions
	QueueURL string
	// Functions maps an event's source to the function it is for; default DefaultFunctions.
	Functions map[string]string
	// Max bounds the messages handled in one run (default 100).
	Max int
	// DryRun says what would be done and leaves every message in the queue.
	DryRun bool
	// Visibility hides a received message from other readers while it is handled
	// (seconds; default 60, longer than a function's synchronous invocation takes).
	Visibility int32
}

// Outcome is what happened to one message.
type Outcome struct {
	MessageID string
	Event     string // detail-type and the build or execution it is about
	Function  string // where it went (or would go)
	Done      bool   // invoked successfully and deleted (or, in a dry run, routable)
	Reason    string // why it was left in the queue
}

// Report is one run.
type Report struct {
	Outcomes []Outcome
}

// Left counts the messages left in the queue for a reason.
func (r Report) Left() int {
	n := 0
	for _, o := range r.Outcomes {
		if !o.Done {
			n++
		}
	}
	return n
}

// Run receives messages until the queue answers none (or Max were handled) and redrives
// each.
func (r *Redriver) Run(ctx context.Context) (Report, error) {
	max := r.Max
	if max <= 0 {
		max = 100
	}
	vis := r.Visibility
	if vis <= 0 {
		vis = 60
	}
	if r.DryRun {
		// Seen messages come back at once; the ids below stop the loop instead.
		vis = 0
	}
	seen := map[string]bool{}
	var rep Report
	// Each receive returns at least one new message or ends the run: max+1 receives at most.
	for range max + 1 {
		n := min(10, max-len(rep.Outcomes))
		if n <= 0 {
			break
		}
		out, err := r.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(r.QueueURL), MaxNumberOfMessages: int32(n), VisibilityTimeout: vis, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return rep, fmt.Errorf("receive from %s: %w", r.QueueURL, err)
		}
		fresh := 0
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id] = true
			fresh++
			rep.Outcomes = append(rep.Outcomes, r.redrive(ctx, m))
		}
		if fresh == 0 {
			break
		}
	}
	return rep, nil
}

// redrive invokes the function a message is for and deletes the message when it succeeded.
func (r *Redriver) redrive(ctx context.Context, m sqstypes.Message) Outcome {
	o := Outcome{MessageID: aws.ToString(m.MessageId)}
	body := aws.ToString(m.Body)
	var ev struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal([]byte(body), &ev); err != nil || ev.Source == "" {
		o.Reason = "the body is not an EventBridge event"
		return o
	}
	o.Event = describe(ev.DetailType, ev.Resources, ev.Detail)
	o.Function = r.functionFor(m, ev.Source)
	if o.Function == "" {
		o.Reason = fmt.Sprintf("no function takes events of %s", ev.Source)
		return o
	}
	if r.DryRun {
		o.Done = true
		return o
	}
	out, err := r.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(o.Function), Payload: []byte(body),
		InvocationType: lambdatypes.InvocationTypeRequestResponse})
	switch {
	case err != nil:
		o.Reason = fmt.Sprintf("invoke %s: %v", o.Function, err)
		return o
	case out.FunctionError != nil:
		o.Reason = fmt.Sprintf("%s failed (%s): %s", o.Function, aws.ToString(out.FunctionError), cut(string(out.Payload), 300))
		return o
	}
	if _, err := r.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.QueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
		// Delivered, but it will be delivered again: harmless, and said.
		o.Reason = fmt.Sprintf("delivered to %s, but not deleted: %v", o.Function, err)
		return o
	}
	o.Done = true
	return o
}

// functionFor returns the function a message is for: its TARGET_ARN when EventBridge put it
// there, the function that takes the event's source otherwise.
func (r *Redriver) functionFor(m sqstypes.Message, source string) string {
	if a, ok := m.MessageAttributes["TARGET_ARN"]; ok {
		if arn := aws.ToString(a.StringValue); strings.Contains(arn, ":lambda:") && strings.Contains(arn, ":function:") {
			return arn
		}
	}
	fns := r.Functions
	if fns == nil {
		fns = DefaultFunctions
	}
	return fns[source]
}

// describe names an event for the report: its type and the build or execution it is about.
func describe(detailType string, resources []string, detail json.RawMessage) string {
	var d struct {
		BuildID      string `json:"build-id"`
		ExecutionArn string `json:"executionArn"`
	}
	_ = json.Unmarshal(detail, &d)
	what := d.BuildID
	if what == "" {
		what = d.ExecutionArn
	}
	if what == "" && len(resources) > 0 {
		what = resources[0]
	}
	return strings.TrimSpace(detailType + " " + what)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
