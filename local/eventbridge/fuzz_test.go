package eventbridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/crossbuild/crossbuild/local/eventbridge"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// fuzzTarget is the function the fuzz rule of account 222222222222 invokes.
const fuzzTarget = "arn:aws:lambda:eu-west-1:222222222222:function:f"

// fuzzService routes every event whose detail has no "x" to a Lambda that
// accepts it, so fuzzed events travel the whole path.
func fuzzService(f *testing.F) (*eventbridge.Service, *fakeLambda) {
	fn := newFakeLambda(nil)
	s := eventbridge.New(eventbridge.Options{Lambda: fn, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.Cleanup(func() { _ = s.Close() })
	for _, account := range []string{"111111111111", "222222222222"} {
		if err := s.AddRule(eventbridge.Rule{Account: account, Region: "eu-west-1", Name: "all",
			Pattern: json.RawMessage(`{"detail":{"x":[{"exists":false}]}}`),
			Targets: []eventbridge.Target{{ID: "fn", ARN: "arn:aws:lambda:eu-west-1:" + account + ":function:f"}}}); err != nil {
			f.Fatal(err)
		}
	}
	return s, fn
}

// The wire protocol never panics and always answers JSON.
func FuzzServeHTTP(f *testing.F) {
	for _, seed := range []string{
		`{"Entries":[{"Source":"com.example","DetailType":"t","Detail":"{\"a\":1}","Time":1795600000.5}]}`,
		`{"Entries":[{"Source":"com.example","DetailType":"t","Detail":"{","EventBusName":"arn:aws:events:eu-west-1:111111111111:event-bus/default"}]}`,
		`{"Entries":[{"Time":"2026-11-26T08:00:00Z"},{"Time":1e300},{"Time":null}]}`,
		`{"Entries":null}`, `[]`, `null`, `{"Entries":[{"Resources":[""]}]}`, ``,
	} {
		f.Add("PutEvents", []byte(seed))
	}
	f.Add("ListRules", []byte(`{"NextToken":"-1","Limit":3}`))
	f.Add("DescribeEventBus", []byte(`{"Name":"arn:aws:events:eu-west-1:111111111111:event-bus/x"}`))
	s, _ := fuzzService(f)
	caller := localaws.Caller{Principal: localaws.Principal{Account: "222222222222", ARN: "arn:aws:iam::222222222222:root"}, Region: "eu-west-1", Service: "events"}
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "AWSEvents."+op)
		req = req.WithContext(localaws.WithCaller(req.Context(), caller))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if !json.Valid(rec.Body.Bytes()) {
			t.Errorf("response is not JSON: %q", rec.Body)
		}
	})
}

// PublishDefault never panics; what it accepts and the rule matches is
// delivered once, as a JSON object carrying the event's detail; what it
// rejects is not delivered.
func FuzzPublishDefault(f *testing.F) {
	f.Add([]byte(`{"source":"aws.codebuild","detail-type":"x","detail":{"y":[1,2,{"z":null}]}}`))
	f.Add([]byte(`{"source":"aws.codebuild","detail-type":"x","detail":{},"account":"222222222222","time":5}`))
	f.Add([]byte(`{"source":1,"detail-type":"x","detail":{}}`))
	f.Add([]byte(`[[[[[[[[[[]]]]]]]]]]`))
	s, fn := fuzzService(f)
	f.Fuzz(func(t *testing.T, event []byte) {
		_, before := fn.snapshot()
		err := s.PublishDefault(context.Background(), "222222222222", "eu-west-1", event)
		idle(t, s)
		_, after := fn.snapshot()
		delivered := after[fuzzTarget][len(before[fuzzTarget]):]
		if err != nil {
			if len(delivered) > 0 {
				t.Fatalf("rejected event (%v) was delivered: %s", err, delivered)
			}
			return
		}
		var in struct {
			Detail json.RawMessage `json:"detail"`
		}
		var detail map[string]json.RawMessage
		if json.Unmarshal(event, &in) == nil && json.Unmarshal(in.Detail, &detail) == nil &&
			detail != nil && detail["x"] == nil && len(delivered) != 1 {
			t.Fatalf("accepted event %q matching the rule was delivered %d times", event, len(delivered))
		}
		for _, p := range delivered {
			var out struct {
				Detail json.RawMessage `json:"detail"`
			}
			if !json.Valid(p) || json.Unmarshal(p, &out) != nil {
				t.Fatalf("accepted event %q delivered as %q: not a JSON object", event, p)
			}
			if detail != nil && !sameJSON(t, out.Detail, in.Detail) {
				t.Errorf("detail %s delivered as %s", in.Detail, out.Detail)
			}
		}
	})
}
