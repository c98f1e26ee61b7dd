package eventbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ebsdk "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/local/eventbridge"
	"github.com/crossbuild/crossbuild/local/localaws"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// wireWorld serves the stand-in through localaws.Router on 127.0.0.1 and
// returns SDK clients signed as the roots of accounts 222222222222 (target)
// and 111111111111 (source).
func wireWorld(t *testing.T, lambda eventbridge.LambdaInvoker) (s *eventbridge.Service, target, source *ebsdk.Client) {
	t.Helper()
	s = eventbridge.New(eventbridge.Options{
		Evaluator: &fakeEvaluator{}, Lambda: lambda, RetryBackoff: tinyBackoff, Logger: quietLogger(t),
		Clock: fixedClock{time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)},
	})
	t.Cleanup(func() { closeService(t, s) })
	mustAddBus(t, s, eventbridge.Bus{Account: "222222222222", Region: "eu-west-1", Name: "builds"})
	mustAddBus(t, s, eventbridge.Bus{Account: "111111111111", Region: "eu-west-1", Name: "crossbuild", Policy: readFixture(t, "policies/source-bus-custom-source.json")})
	prefix := json.RawMessage(`{"source":[{"prefix":"com.example"}]}`)
	mustAddRule(t, s, eventbridge.Rule{Account: "222222222222", Region: "eu-west-1", Name: "example-default", Pattern: prefix,
		Targets: []eventbridge.Target{{ID: "fn", ARN: "arn:aws:lambda:eu-west-1:222222222222:function:example-default"}}})
	mustAddRule(t, s, eventbridge.Rule{Account: "222222222222", Region: "eu-west-1", Bus: "builds", Name: "example-builds", Pattern: prefix,
		Targets: []eventbridge.Target{{ID: "fn", ARN: "arn:aws:lambda:eu-west-1:222222222222:function:example-builds"}}})
	mustAddRule(t, s, eventbridge.Rule{Account: "111111111111", Region: "eu-west-1", Bus: "crossbuild", Name: "crossbuild-callback",
		Pattern: json.RawMessage(`{"source":["com.example.crossbuild"]}`), State: "ENABLED",
		Targets: []eventbridge.Target{{ID: "fn", ARN: "arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-callback"}}})

	ids := localaws.NewIdentities()
	router := localaws.NewRouter(ids)
	router.Handle("events", s)
	srv := httptest.NewServer(router) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	client := func(account string) *ebsdk.Client {
		root := "arn:aws:iam::" + account + ":root"
		c := ids.LongTerm(localaws.Principal{Account: account, ARN: root, RoleARN: root})
		return ebsdk.NewFromConfig(aws.Config{
			Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
		})
	}
	return s, client("222222222222"), client("111111111111")
}

// PutEvents through the real SDK: the envelope is assembled as AWS does,
// entries fail one by one with AWS's codes, cross-account puts obey the
// receiving bus's policy.
func TestPutEventsWire(t *testing.T) {
	var fixture struct {
		Requests [][]struct {
			Entry struct {
				Source, DetailType, Detail, EventBusName string
				Resources                                []string
				Time                                     *time.Time
			}
			WantTarget       string
			WantEvent        json.RawMessage
			WantErrorCode    string
			WantErrorMessage string
		}
	}
	if err := json.Unmarshal(readFixture(t, "putevents.json"), &fixture); err != nil {
		t.Fatal(err)
	}
	lambda := newFakeLambda(nil)
	s, client, _ := wireWorld(t, lambda)
	type delivery struct {
		id, target string
		want       json.RawMessage
		detail     string
	}
	var wantDelivered []delivery
	for i, req := range fixture.Requests {
		in := &ebsdk.PutEventsInput{}
		wantFailed := int32(0)
		for _, c := range req {
			e := types.PutEventsRequestEntry{Resources: c.Entry.Resources, Time: c.Entry.Time}
			for dst, v := range map[**string]string{&e.Source: c.Entry.Source, &e.DetailType: c.Entry.DetailType, &e.Detail: c.Entry.Detail, &e.EventBusName: c.Entry.EventBusName} {
				if v != "" {
					*dst = aws.String(v)
				}
			}
			in.Entries = append(in.Entries, e)
			if c.WantErrorCode != "" {
				wantFailed++
			}
		}
		out, err := client.PutEvents(context.Background(), in)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if out.FailedEntryCount != wantFailed || len(out.Entries) != len(req) {
			t.Fatalf("request %d: FailedEntryCount %d, %d entries; want %d, %d", i, out.FailedEntryCount, len(out.Entries), wantFailed, len(req))
		}
		for j, c := range req {
			got := out.Entries[j]
			code, msg, id := aws.ToString(got.ErrorCode), aws.ToString(got.ErrorMessage), aws.ToString(got.EventId)
			if c.WantErrorCode != "" {
				if code != c.WantErrorCode || !strings.Contains(msg, c.WantErrorMessage) || id != "" {
					t.Errorf("request %d entry %d: got %q %q id %q, want %q containing %q", i, j, code, msg, id, c.WantErrorCode, c.WantErrorMessage)
				}
				continue
			}
			if code != "" || len(id) != 36 {
				t.Errorf("request %d entry %d: got %q %q id %q, want an event id", i, j, code, msg, id)
				continue
			}
			wantDelivered = append(wantDelivered, delivery{id: id, target: c.WantTarget, want: c.WantEvent, detail: c.Entry.Detail})
		}
	}
	idle(t, s)
	_, payloads := lambda.snapshot()
	delivered := 0
	for _, p := range payloads {
		delivered += len(p)
	}
	if delivered != len(wantDelivered) {
		t.Errorf("%d events delivered, want %d: %s", delivered, len(wantDelivered), payloads)
	}
	for _, d := range wantDelivered {
		var want map[string]any
		if err := json.Unmarshal(d.want, &want); err != nil {
			t.Fatal(err)
		}
		want["id"] = d.id
		wantJSON, _ := json.Marshal(want)
		found := false
		for _, p := range payloads[d.target] {
			if sameJSON(t, p, wantJSON) {
				found = true
				// Details reach the target as they were put, not HTML-escaped.
				if strings.Contains(d.detail, "<") && !strings.Contains(string(p), `a<b & c>d`) {
					t.Errorf("detail was re-escaped: %s", p)
				}
			}
		}
		if !found {
			t.Errorf("%s did not receive %s; got %s", d.target, wantJSON, payloads[d.target])
		}
	}
}

func TestPutEventsWireRequestErrors(t *testing.T) {
	_, client, _ := wireWorld(t, newFakeLambda(nil))
	entry := types.PutEventsRequestEntry{Source: aws.String("com.example.crossbuild"), DetailType: aws.String("x"), Detail: aws.String("{}")}
	eleven := make([]types.PutEventsRequestEntry, 11)
	for i := range eleven {
		eleven[i] = entry
	}
	big := entry
	big.Detail = aws.String(`{"blob":"` + strings.Repeat("x", eventbridge.MaxRequestSize) + `"}`)
	cases := []struct {
		name    string
		entries []types.PutEventsRequestEntry
		want    string
	}{
		{"no entries", []types.PutEventsRequestEntry{}, "ValidationException"},
		{"eleven entries", eleven, "ValidationException"},
		{"over the size limit", []types.PutEventsRequestEntry{big}, "ValidationException"},
	}
	for _, tc := range cases {
		_, err := client.PutEvents(context.Background(), &ebsdk.PutEventsInput{Entries: tc.entries})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.want {
			t.Errorf("%s: error %v, want %s", tc.name, err, tc.want)
		}
	}
}

func TestDescribeEventBusAndListRulesWire(t *testing.T) {
	_, target, source := wireWorld(t, newFakeLambda(nil))
	ctx := context.Background()

	bus, err := source.DescribeEventBus(ctx, &ebsdk.DescribeEventBusInput{Name: aws.String("crossbuild")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(bus.Arn) != "arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild" ||
		!sameJSON(t, []byte(aws.ToString(bus.Policy)), readFixture(t, "policies/source-bus-custom-source.json")) {
		t.Errorf("DescribeEventBus = %s %s", aws.ToString(bus.Arn), aws.ToString(bus.Policy))
	}
	def, err := target.DescribeEventBus(ctx, &ebsdk.DescribeEventBusInput{})
	if err != nil || aws.ToString(def.Name) != "default" || def.Policy != nil {
		t.Errorf("default bus: %+v %v", def, err)
	}
	_, err = target.DescribeEventBus(ctx, &ebsdk.DescribeEventBusInput{Name: aws.String("missing")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("missing bus: %v", err)
	}

	rules, err := target.ListRules(ctx, &ebsdk.ListRulesInput{EventBusName: aws.String("builds"), NamePrefix: aws.String("example")})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules.Rules) != 1 || aws.ToString(rules.Rules[0].Arn) != "arn:aws:events:eu-west-1:222222222222:rule/builds/example-builds" ||
		rules.Rules[0].State != types.RuleStateEnabled || aws.ToString(rules.Rules[0].EventPattern) != `{"source":[{"prefix":"com.example"}]}` {
		t.Errorf("ListRules = %+v", rules.Rules)
	}
	none, err := target.ListRules(ctx, &ebsdk.ListRulesInput{NamePrefix: aws.String("zzz")})
	if err != nil || len(none.Rules) != 0 {
		t.Errorf("ListRules with no match = %+v %v", none, err)
	}

	_, err = target.ListEventBuses(ctx, &ebsdk.ListEventBusesInput{})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
		t.Errorf("operation not emulated: %v", err)
	}
}

// Without a caller resolved by localaws.Router the stand-in refuses to act.
func TestServeHTTPWithoutCaller(t *testing.T) {
	s := eventbridge.New(eventbridge.Options{Logger: quietLogger(t)})
	defer closeService(t, s)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"Entries":[]}`))
	req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
}
