package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/crossbuild/crossbuild/internal/deployment"
	"github.com/crossbuild/crossbuild/internal/redrive"
	"github.com/crossbuild/crossbuild/local/eventbridge"
	"github.com/crossbuild/crossbuild/local/world"
)

// refusingInvoker refuses, without retries, every delivery to the callback while refuse is
// set: EventBridge puts those events in the callback rule's dead-letter queue at once.
type refusingInvoker struct {
	next   eventbridge.LambdaInvoker
	refuse *atomic.Bool
}

func (r refusingInvoker) InvokeAsync(ctx context.Context, arn string, payload []byte) error {
	if r.refuse.Load() && strings.HasSuffix(arn, ":function:crossbuild-callback") {
		return &eventbridge.TargetError{Code: "SDK_CLIENT_ERROR", Err: errors.New("refused by the test")}
	}
	return r.next.InvokeAsync(ctx, arn, payload)
}

// TestRedriveDeadLetters: every event of a build reaches the callback's dead-letter queue
// instead of the callback, so the target waits. redrive-dlq's logic, through the SQS and
// Lambda APIs as an operator calls them, hands each event to the callback (the message's
// TARGET_ARN) and deletes it: the queue empties and the target is completed by its events.
func TestRedriveDeadLetters(t *testing.T) {
	var refuse atomic.Bool
	refuse.Store(true)
	tw := startWorld(t, world.Options{EventTargets: func(next eventbridge.LambdaInvoker) eventbridge.LambdaInvoker {
		return refusingInvoker{next: next, refuse: &refuse}
	}})
	arn := tw.start(t, "redrive-1", map[string]any{"crossAccountTargetRoleArns": defaultTargets(t)[:1]})

	// Wait until the build's terminal event is a dead letter.
	terminal := func() (bool, error) {
		for _, q := range tw.deadLetter {
			for _, d := range tw.Events.DeadLetters(q) {
				var ev struct {
					Detail struct {
						Status string `json:"build-status"`
					} `json:"detail"`
				}
				if json.Unmarshal(d.Body, &ev) == nil && ev.Detail.Status == "SUCCEEDED" {
					return true, nil
				}
			}
		}
		return false, nil
	}
	if err := poll(2*time.Minute, terminal); err != nil {
		t.Fatalf("no terminal event in the dead-letter queues: %v", err)
	}
	if d := tw.describe(t, arn); d.Status != "RUNNING" {
		t.Fatalf("the execution ended %s without its events", d.Status)
	}
	refuse.Store(false)

	cfg := tw.Operator(sourceAccount, sourceRegion)
	d, err := (&deployment.Finder{CloudFormation: cloudformation.NewFromConfig(cfg)}).Find(t.Context(), deployment.DeadLetterQueue)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&redrive.Redriver{SQS: sqs.NewFromConfig(cfg), Lambda: lambda.NewFromConfig(cfg), QueueURL: d.DeadLetterQueue}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Outcomes) == 0 || rep.Left() != 0 {
		t.Fatalf("redrive: %+v", rep.Outcomes)
	}
	for _, o := range rep.Outcomes {
		if !strings.HasSuffix(o.Function, ":function:crossbuild-callback") {
			t.Errorf("%s went to %s", o.Event, o.Function)
		}
	}
	tw.waitEnded(t, arn)
	x := tw.read(t, arn)
	if r := tw.exported(t, x).result(t, 0); x.desc.Status != "SUCCEEDED" || r.Status != "SUCCEEDED" || r.CompletedBy != "event" {
		t.Fatalf("execution %s, result %+v", x.desc.Status, r)
	}
	tw.noDeadLetters(t)
	t.Logf("%d dead letters redriven to the callback", len(rep.Outcomes))
}
