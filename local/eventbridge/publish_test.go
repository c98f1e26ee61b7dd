package eventbridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/local/eventbridge"
	"github.com/crossbuild/crossbuild/local/localaws"
)

const callbackARN = "arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-callback"

// An event CodeBuild emits reaches the callback byte for byte (compacted):
// same id, time, account and Region as the producer's.
func TestPublishDefaultDeliversUnchanged(t *testing.T) {
	lambda := newFakeLambda(nil)
	s := callbackWorld(t, eventbridge.Options{Lambda: lambda}, eventbridge.Target{})
	in := readFixture(t, "events/state-succeeded.json")
	if err := s.PublishDefault(context.Background(), "222222222222", "eu-west-1", in); err != nil {
		t.Fatal(err)
	}
	idle(t, s)
	_, payloads := lambda.snapshot()
	var want bytes.Buffer
	if err := json.Compact(&want, in); err != nil {
		t.Fatal(err)
	}
	if got := payloads[callbackARN]; len(got) != 1 || !bytes.Equal(got[0], want.Bytes()) {
		t.Errorf("callback received %s\nwant %s", got, want.Bytes())
	}
}

// Envelope fields a service leaves out get EventBridge's values, in AWS's
// field order.
func TestPublishDefaultCompletesEnvelope(t *testing.T) {
	lambda := newFakeLambda(nil)
	now := time.Date(2026, 11, 26, 8, 30, 0, 0, time.UTC)
	s := eventbridge.New(eventbridge.Options{Lambda: lambda, Clock: fixedClock{now}, Logger: quietLogger(t)})
	defer closeService(t, s)
	mustAddRule(t, s, eventbridge.Rule{Account: "222222222222", Region: "eu-west-1", Name: "all-codebuild",
		Pattern: json.RawMessage(`{"source":["aws.codebuild"]}`), Targets: []eventbridge.Target{{ID: "fn", ARN: callbackARN}}})
	in := `{"detail":{"build-status":"IN_PROGRESS"},"detail-type":"CodeBuild Build State Change","source":"aws.codebuild","extra":1}`
	if err := s.PublishDefault(context.Background(), "222222222222", "eu-west-1", json.RawMessage(in)); err != nil {
		t.Fatal(err)
	}
	idle(t, s)
	_, payloads := lambda.snapshot()
	got := payloads[callbackARN]
	if len(got) != 1 {
		t.Fatalf("delivered %d events", len(got))
	}
	re := regexp.MustCompile(`^\{"version":"0","id":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}","detail-type":"CodeBuild Build State Change","source":"aws.codebuild","account":"222222222222","time":"2026-11-26T08:30:00Z","region":"eu-west-1","resources":\[\],"detail":\{"build-status":"IN_PROGRESS"\},"extra":1\}$`)
	if !re.Match(got[0]) {
		t.Errorf("envelope = %s", got[0])
	}
}

func TestPublishDefaultErrors(t *testing.T) {
	s := eventbridge.New(eventbridge.Options{Logger: quietLogger(t)})
	cases := []struct {
		name, account, region, event, want string
	}{
		{"not JSON", "222222222222", "eu-west-1", `{`, "JSON object"},
		{"array", "222222222222", "eu-west-1", `[]`, "JSON object"},
		{"no source", "222222222222", "eu-west-1", `{"detail-type":"x","detail":{}}`, "source"},
		{"no detail", "222222222222", "eu-west-1", `{"source":"aws.codebuild","detail-type":"x"}`, "detail"},
		{"detail not an object", "222222222222", "eu-west-1", `{"source":"aws.codebuild","detail-type":"x","detail":"s"}`, "detail"},
		{"other account", "222222222222", "eu-west-1", `{"source":"aws.codebuild","detail-type":"x","detail":{},"account":"333333333333"}`, "account"},
		{"other Region", "222222222222", "eu-west-1", `{"source":"aws.codebuild","detail-type":"x","detail":{},"region":"us-east-1"}`, "region"},
		{"bad account", "22", "eu-west-1", `{"source":"aws.codebuild","detail-type":"x","detail":{}}`, "12-digit"},
	}
	for _, tc := range cases {
		err := s.PublishDefault(context.Background(), tc.account, tc.region, json.RawMessage(tc.event))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	closeService(t, s)
	if err := s.PublishDefault(context.Background(), "222222222222", "eu-west-1", readFixture(t, "events/state-succeeded.json")); !errors.Is(err, eventbridge.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	caller := localaws.Principal{Account: "222222222222", ARN: "arn:aws:iam::222222222222:root"}
	if _, err := s.PutEvents(context.Background(), caller, "eu-west-1", []eventbridge.Entry{{Source: "a", DetailType: "b", Detail: "{}"}}); !errors.Is(err, eventbridge.ErrClosed) {
		t.Errorf("PutEvents after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// blockingLambda blocks every invocation until released or its context ends.
type blockingLambda struct {
	started   chan struct{}
	release   chan struct{}
	ignoreCtx bool
	calls     chan struct{}
}

func newBlockingLambda(ignoreCtx bool) *blockingLambda {
	return &blockingLambda{started: make(chan struct{}, 10), release: make(chan struct{}), ignoreCtx: ignoreCtx, calls: make(chan struct{}, 10)}
}

func (l *blockingLambda) InvokeAsync(ctx context.Context, _ string, _ []byte) error {
	l.calls <- struct{}{}
	l.started <- struct{}{}
	if l.ignoreCtx {
		<-l.release
		return nil
	}
	select {
	case <-l.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func waitStarted(t *testing.T, l *blockingLambda) {
	t.Helper()
	select {
	case <-l.started:
	case <-time.After(5 * time.Second):
		t.Fatal("no invocation started")
	}
}

func TestClose(t *testing.T) {
	publish := func(t *testing.T, s *eventbridge.Service) {
		t.Helper()
		if err := s.PublishDefault(context.Background(), "222222222222", "eu-west-1", readFixture(t, "events/state-succeeded.json")); err != nil {
			t.Fatal(err)
		}
	}
	dlq := "arn:aws:sqs:eu-west-1:111111111111:callback-dlq"

	t.Run("ends waits between retries at once", func(t *testing.T) {
		lambda := newFakeLambda(map[string]any{callbackARN: float64(-1)})
		s := callbackWorld(t, eventbridge.Options{Lambda: lambda, RetryBackoff: func(int) time.Duration { return time.Hour }},
			eventbridge.Target{DeadLetterARN: dlq})
		publish(t, s)
		deadline := time.Now().Add(5 * time.Second)
		for calls, _ := lambda.snapshot(); calls[callbackARN] == 0; calls, _ = lambda.snapshot() {
			if time.Now().After(deadline) {
				t.Fatal("first attempt never ran")
			}
			time.Sleep(time.Millisecond)
		}
		start := time.Now()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close took %s", d)
		}
		if dl := s.DeadLetters(dlq); len(dl) != 0 {
			t.Errorf("an event abandoned at close was dead-lettered: %+v", dl)
		}
	})

	t.Run("cancels running attempts after the grace period", func(t *testing.T) {
		lambda := newBlockingLambda(false)
		s := callbackWorld(t, eventbridge.Options{Lambda: lambda, CloseGrace: 20 * time.Millisecond}, eventbridge.Target{DeadLetterARN: dlq})
		publish(t, s)
		waitStarted(t, lambda)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if len(lambda.calls) != 1 || len(s.DeadLetters(dlq)) != 0 {
			t.Errorf("%d calls, dead letters %+v", len(lambda.calls), s.DeadLetters(dlq))
		}
	})

	t.Run("lets running attempts finish within the grace period", func(t *testing.T) {
		lambda := newBlockingLambda(false)
		s := callbackWorld(t, eventbridge.Options{Lambda: lambda, CloseGrace: 5 * time.Second}, eventbridge.Target{})
		publish(t, s)
		waitStarted(t, lambda)
		time.AfterFunc(20*time.Millisecond, func() { close(lambda.release) })
		start := time.Now()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Close took %s", d)
		}
	})

	t.Run("reports attempts that ignore cancellation", func(t *testing.T) {
		lambda := newBlockingLambda(true)
		s := callbackWorld(t, eventbridge.Options{Lambda: lambda, CloseGrace: 10 * time.Millisecond}, eventbridge.Target{})
		publish(t, s)
		waitStarted(t, lambda)
		err := s.Close()
		close(lambda.release)
		if err == nil || !strings.Contains(err.Error(), "1 deliveries still running") {
			t.Errorf("Close = %v", err)
		}
		idle(t, s)
	})

	t.Run("bounds pending deliveries", func(t *testing.T) {
		lambda := newBlockingLambda(false)
		s := eventbridge.New(eventbridge.Options{Lambda: lambda, MaxPending: 1, Logger: quietLogger(t)})
		defer closeService(t, s)
		mustAddRule(t, s, eventbridge.Rule{Account: "222222222222", Region: "eu-west-1", Name: "direct",
			Pattern: json.RawMessage(`{"source":["aws.codebuild"]}`), Targets: []eventbridge.Target{{ID: "fn", ARN: callbackARN}}})
		publish(t, s)
		waitStarted(t, lambda)
		publish(t, s) // the blocked delivery holds the only place: this one is refused
		close(lambda.release)
		idle(t, s)
		if n := len(lambda.calls); n != 1 {
			t.Errorf("%d invocations, want 1", n)
		}
	})
}
