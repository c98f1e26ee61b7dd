package sfnapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/crossbuild/crossbuild/local/asl"
)

// busRecorder is a default bus that keeps what it is given.
type busRecorder struct {
	mu     sync.Mutex
	events []published
}

type published struct {
	account, region string
	event           events.CloudWatchEvent
}

func (b *busRecorder) PublishDefault(_ context.Context, account, region string, raw json.RawMessage) error {
	var ev events.CloudWatchEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, published{account, region, ev})
	return nil
}

func (b *busRecorder) snapshot() []published {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]published(nil), b.events...)
}

// TestStatusChangeEvents: every execution that ends puts one "Step Functions Execution
// Status Change" event on its account's default bus in its Region, with the detail AWS
// documents: the execution and state machine ARNs, the name, the final status and the dates.
func TestStatusChangeEvents(t *testing.T) {
	bus := &busRecorder{}
	eng := asl.New(asl.Options{TimeScale: 1000})
	srv := httptest.NewServer(New(eng, Options{Publisher: bus}))
	t.Cleanup(func() { srv.Close(); eng.Close() })
	e := &env{srv: srv, engine: eng, client: newClient(srv, "eu-west-1", "222222222222")}

	machine := e.create(t, "events", `{"StartAt":"Choose","States":{
		"Choose":{"Type":"Choice","Choices":[{"Variable":"$.wait","BooleanEquals":true,"Next":"Wait"}],"Default":"Done"},
		"Wait":{"Type":"Wait","Seconds":3600,"End":true},
		"Done":{"Type":"Pass","End":true}}}`)
	done := e.start(t, machine, "quick", `{"wait":false}`)
	e.await(t, done)
	stopped := e.start(t, machine, "stopped", `{"wait":true}`)
	if _, err := e.client.StopExecution(context.Background(), &sfn.StopExecutionInput{ExecutionArn: aws.String(stopped),
		Error: aws.String("Test.Stop")}); err != nil {
		t.Fatalf("stop: %v", err)
	}

	want := map[string]string{done: "SUCCEEDED", stopped: "ABORTED"}
	var got []published
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		got = bus.snapshot()
		time.Sleep(5 * time.Millisecond)
	}
	if len(got) != len(want) {
		t.Fatalf("%d events published, want %d", len(got), len(want))
	}
	for _, p := range got {
		var d statusChangeDetail
		if err := json.Unmarshal(p.event.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if p.account != "222222222222" || p.region != "eu-west-1" || p.event.Source != "aws.states" ||
			p.event.DetailType != "Step Functions Execution Status Change" || len(p.event.Resources) != 1 || p.event.Resources[0] != d.ExecutionArn {
			t.Errorf("envelope %+v in %s/%s", p.event, p.account, p.region)
		}
		if want[d.ExecutionArn] != d.Status || d.StateMachineArn != machine || d.StopDate == nil || d.StartDate == 0 || d.Input == nil {
			t.Errorf("detail %+v", d)
		}
		if (d.Output != nil) != (d.Status == "SUCCEEDED") {
			t.Errorf("%s output %v", d.Status, d.Output)
		}
	}
}
