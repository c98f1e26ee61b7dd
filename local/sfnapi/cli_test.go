package sfnapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// cliRequest is one HTTP request the AWS CLI sent, as recorded in testdata/awscli.
type cliRequest struct {
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Header map[string]string `json:"header"`
	Body   string            `json:"body"`
}

// TestAWSCLIRequests replays, byte for byte, the requests the AWS CLI (1.45, botocore
// 1.43) sent for `aws stepfunctions create-state-machine`, `start-execution`,
// `describe-execution` and `get-execution-history --reverse-order`, and checks the answers
// the way botocore reads them: the JSON 1.0 content type, the lower-camel member names and
// timestamps as epoch seconds (JSON numbers, fractions allowed).
//
// It replaces a test that ran the CLI itself and so skipped wherever no `aws` was
// installed, which made "serves the AWS CLI" true only by chance. Recorded requests keep
// what the CLI puts on the wire (X-Amz-Target, its Content-Type, a SigV4 Authorization
// whose access key is the caller's account, its X-Amz-Date and User-Agent, its JSON body)
// on every machine, without a Python toolchain the build does not pin. A newer CLI that
// sends something else is caught by re-recording testdata/awscli/requests.json.
func TestAWSCLIRequests(t *testing.T) {
	data, err := os.ReadFile("testdata/awscli/requests.json")
	if err != nil {
		t.Fatal(err)
	}
	var reqs []cliRequest
	if err := json.Unmarshal(data, &reqs); err != nil {
		t.Fatal(err)
	}
	byTarget := map[string]cliRequest{}
	for _, r := range reqs {
		byTarget[strings.TrimPrefix(r.Header["X-Amz-Target"], "AWSStepFunctions.")] = r
	}
	e := newEnv(t, nil)
	send := func(op string) map[string]any {
		t.Helper()
		r, ok := byTarget[op]
		if !ok {
			t.Fatalf("no recorded %s request", op)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, r.Method, e.srv.URL+r.Path, strings.NewReader(r.Body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range r.Header {
			req.Header.Set(k, v)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d: %s", op, resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
			t.Errorf("%s: Content-Type %q, botocore expects application/x-amz-json-1.0", op, ct)
		}
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s answered %s", op, body)
		}
		return v
	}
	epochSeconds := func(op string, v map[string]any, key string) {
		t.Helper()
		if _, ok := v[key].(float64); !ok {
			t.Errorf("%s: %s = %#v, botocore reads epoch seconds (a JSON number)", op, key, v[key])
		}
	}

	created := send("CreateStateMachine")
	if created["stateMachineArn"] != "arn:aws:states:ap-southeast-2:444444444444:stateMachine:cli" {
		t.Fatalf("created %v", created)
	}
	epochSeconds("CreateStateMachine", created, "creationDate")
	started := send("StartExecution")
	if started["executionArn"] != "arn:aws:states:ap-southeast-2:444444444444:execution:cli:cli-run" {
		t.Fatalf("started %v", started)
	}
	epochSeconds("StartExecution", started, "startDate")
	var described map[string]any
	for range 100 {
		described = send("DescribeExecution")
		if described["status"] != "RUNNING" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if described["status"] != "SUCCEEDED" || described["output"] != `{"held":2,"note":"done"}` {
		t.Fatalf("described %v", described)
	}
	epochSeconds("DescribeExecution", described, "startDate")
	epochSeconds("DescribeExecution", described, "stopDate")
	history := send("GetExecutionHistory")
	events, _ := history["events"].([]any)
	if len(events) == 0 {
		t.Fatalf("history %v", history)
	}
	first, _ := events[0].(map[string]any)
	if first["type"] != "ExecutionSucceeded" {
		t.Fatalf("reverse-order history starts with %v", first)
	}
	for _, ev := range events {
		epochSeconds("GetExecutionHistory", ev.(map[string]any), "timestamp")
	}
}
