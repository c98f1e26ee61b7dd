package tracing

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"
)

// fakeDynamoDB answers every request with one fixture and remembers the trace header.
type fakeDynamoDB struct {
	status int
	body   []byte

	mu          sync.Mutex
	calls       int
	traceHeader string
	target      string
}

func (f *fakeDynamoDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	f.traceHeader = r.Header.Get("X-Amzn-Trace-Id")
	f.target = r.Header.Get("X-Amz-Target")
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", "REQ-"+http.StatusText(f.status))
	w.WriteHeader(f.status)
	_, _ = w.Write(f.body)
}

func newDynamoDB(t *testing.T, fake *fakeDynamoDB) *dynamodb.Client {
	t.Helper()
	srv := httptest.NewServer(fake) // binds 127.0.0.1
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "not-a-secret", ""),
		BaseEndpoint:     aws.String(srv.URL),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
	}
	InstrumentSDK(&cfg)
	InstrumentSDK(&cfg) // a second call must not double the spans
	InstrumentSDK(nil)
	return dynamodb.NewFromConfig(cfg)
}

func getItem(ctx context.Context, c *dynamodb.Client) error {
	_, err := c.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String("crossbuild-tokens"),
		Key:       map[string]types.AttributeValue{"buildArn": &types.AttributeValueMemberS{Value: "arn:aws:codebuild:eu-west-1:222222222222:build/p:1"}},
	})
	return err
}

func TestInstrumentSDKCallSubsegment(t *testing.T) {
	tests := []struct {
		name                     string
		fixture                  string
		status                   int
		isError, fault, throttle bool
		excType                  string
	}{
		{name: "success", fixture: "get_item_ok.json", status: 200},
		{name: "validation error", fixture: "validation_error.json", status: 400, isError: true, excType: "ValidationException"},
		{name: "throttled", fixture: "throttled_429.json", status: 429, isError: true, throttle: true, excType: "ThrottlingException"},
		{name: "server error", fixture: "internal_error.json", status: 500, fault: true, excType: "InternalServerError"},
	}
	p, sink := setupSink(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "dynamodb", tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			fake := &fakeDynamoDB{status: tc.status, body: body}
			client := newDynamoDB(t, fake)
			h := Wrap(p, "callback", func(ctx context.Context, _ int) (int, error) {
				return 0, getItem(ctx, client)
			})
			_, err = h(lambdaContext(testHeader), 0)
			if (err != nil) != (tc.excType != "") {
				t.Fatalf("GetItem error = %v", err)
			}
			var apiErr smithy.APIError
			if err != nil && (!errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.excType) {
				t.Fatalf("error %v does not carry the API error %s", err, tc.excType)
			}

			got := sink.receive(2)
			call, inv := got[0], got[1]
			wantStr(t, inv, "name", "callback")
			wantStr(t, inv, "parent_id", testParent)
			wantStr(t, call, "type", "subsegment")
			wantStr(t, call, "trace_id", testRoot)
			wantStr(t, call, "parent_id", inv.str(t, "id"))
			wantStr(t, call, "name", "DynamoDB")
			wantStr(t, call, "namespace", "aws")
			wantStr(t, call, "aws.operation", "GetItem")
			wantStr(t, call, "aws.region", "eu-west-1")
			wantStr(t, call, "aws.request_id", "REQ-"+http.StatusText(tc.status))
			wantNum(t, call, "http.response.status", float64(tc.status))
			wantFlags(t, call, tc.isError, tc.fault, tc.throttle)
			if call.num(t, "start_time") < inv.num(t, "start_time") || call.num(t, "end_time") > inv.num(t, "end_time") {
				t.Errorf("call %f..%f not inside invocation %f..%f", call.num(t, "start_time"), call.num(t, "end_time"),
					inv.num(t, "start_time"), inv.num(t, "end_time"))
			}
			if tc.excType != "" {
				ex := exceptions(t, call)
				if ex[0]["type"] != tc.excType || ex[0]["remote"] != true {
					t.Errorf("call exception = %v", ex[0])
				}
				wantFlags(t, inv, false, true, false)
				if ex := exceptions(t, inv); ex[0]["type"] != "OperationError" {
					t.Errorf("invocation exception = %v", ex[0])
				}
			} else {
				wantAbsent(t, call, "cause")
			}
			// Nothing from the request leaks into the document.
			wantAbsent(t, call, "metadata", "annotations")

			fake.mu.Lock()
			defer fake.mu.Unlock()
			if fake.calls != 1 || fake.target != "DynamoDB_20120810.GetItem" {
				t.Errorf("server saw %d calls to %q", fake.calls, fake.target)
			}
			wantTrace := "Root=" + testRoot + ";Parent=" + call.str(t, "id") + ";Sampled=1"
			if fake.traceHeader != wantTrace {
				t.Errorf("X-Amzn-Trace-Id = %q, want %q", fake.traceHeader, wantTrace)
			}
			drained(t, p, sink)
		})
	}
}

func TestInstrumentSDKOutsideASpan(t *testing.T) {
	p, sink := setupSink(t)
	body, err := os.ReadFile(filepath.Join("testdata", "dynamodb", "get_item_ok.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{
		{"no span at all", context.Background()},
		{"not sampled invocation", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeDynamoDB{status: 200, body: body}
			client := newDynamoDB(t, fake)
			if tc.ctx != nil {
				if err := getItem(tc.ctx, client); err != nil {
					t.Fatal(err)
				}
			} else {
				h := Wrap(p, "poller", func(ctx context.Context, _ int) (int, error) { return 0, getItem(ctx, client) })
				if _, err := h(lambdaContext("Root="+testRoot+";Parent="+testParent+";Sampled=0"), 0); err != nil {
					t.Fatal(err)
				}
			}
			fake.mu.Lock()
			th := fake.traceHeader
			fake.mu.Unlock()
			if th != "" {
				t.Errorf("X-Amzn-Trace-Id = %q sent for an untraced call", th)
			}
			drained(t, p, sink)
		})
	}
}

// Clients whose generated code registers the service and operation in a middleware of
// their own (Step Functions and CodeBuild at the versions in go.mod) name their calls as
// those whose clients set them before the stack runs (DynamoDB, STS).
func TestInstrumentSDKNamesEveryService(t *testing.T) {
	p, sink := setupSink(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-RequestId", "REQ-1")
		_, _ = w.Write([]byte(`{"build":{"id":"p:1","arn":"arn:aws:codebuild:eu-west-1:222222222222:build/p:1"}}`))
	}))
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "not-a-secret", ""),
		BaseEndpoint:     aws.String(srv.URL),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
	}
	InstrumentSDK(&cfg)
	tests := []struct {
		service, operation string
		call               func(context.Context) error
	}{
		{"SFN", "SendTaskSuccess", func(ctx context.Context) error {
			_, err := sfn.NewFromConfig(cfg).SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("t"), Output: aws.String("{}")})
			return err
		}},
		{"SFN", "SendTaskHeartbeat", func(ctx context.Context) error {
			_, err := sfn.NewFromConfig(cfg).SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String("t")})
			return err
		}},
		{"CodeBuild", "StartBuild", func(ctx context.Context) error {
			_, err := codebuild.NewFromConfig(cfg).StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("p")})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.service+"."+tc.operation, func(t *testing.T) {
			h := Wrap(p, "callback", func(ctx context.Context, _ int) (int, error) { return 0, tc.call(ctx) })
			if _, err := h(lambdaContext(testHeader), 0); err != nil {
				t.Fatal(err)
			}
			call := sink.receive(2)[0]
			wantStr(t, call, "name", tc.service)
			wantStr(t, call, "aws.operation", tc.operation)
			wantStr(t, call, "aws.request_id", "REQ-1")
			wantStr(t, call, "namespace", "aws")
		})
	}
}
