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

// fuzzService routes every event to a Lambda that accepts it, so fuzzed
// events travel the whole path.
func fuzzService(f *testing.F) *eventbridge.Service {
	s := eventbridge.New(eventbridge.Options{Lambda: newFakeLambda(nil), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.Cleanup(func() { _ = s.Close() })
	for _, account := range []string{"111111111111", "222222222222"} {
		if err := s.AddRule(eventbridge.Rule{Account: account, Region: "eu-west-1", Name: "all",
			Pattern: json.RawMessage(`{"detail":{"x":[{"exists":false}]}}`),
			Targets: []eventbridge.Target{{ID: "fn", ARN: "arn:aws:lambda:eu-west-1:" + account + ":function:f"}}}); err != nil {
			f.Fatal(err)
		}
	}
	return s
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
	s := fuzzService(f)
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

// PublishDefault never panics; what it accepts is delivered as valid JSON.
func FuzzPublishDefault(f *testing.F) {
	f.Add([]byte(`{"source":"aws.codebuild","detail-type":"x","detail":{"y":[1,2,{"z":null}]}}`))
	f.Add([]byte(`{"source":"aws.codebuild","detail-type":"x","detail":{},"account":"222222222222","time":5}`))
	f.Add([]byte(`{"source":1,"detail-type":"x","detail":{}}`))
	f.Add([]byte(`[[[[[[[[[[]]]]]]]]]]`))
	s := fuzzService(f)
	f.Fuzz(func(t *testing.T, event []byte) {
		_ = s.PublishDefault(context.Background(), "222222222222", "eu-west-1", event)
	})
}
