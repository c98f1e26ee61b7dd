package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/internal/plan"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
)

const testBucket = "crossbuild-bucket"

var testDefaults = plan.Defaults{MaxConcurrency: 10, HeartbeatSeconds: 3600, TimeoutSeconds: 28800, PollIntervalSeconds: 20}

func requests(t testing.TB) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(fixture(t, "requests.json"), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// fakeS3 keeps objects in memory and answers with canned errors.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string][]byte // bucket/key -> body
	getErr  error
	putErr  error
	length  *int64 // ContentLength to report instead of the body's
	gets    []string
	puts    []*s3.PutObjectInput
}

func newFakeS3() *fakeS3 { return &fakeS3{objects: make(map[string][]byte)} }

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key)
	f.gets = append(f.gets, name)
	if f.getErr != nil {
		return nil, f.getErr
	}
	body, ok := f.objects[name]
	if !ok {
		return nil, &s3types.NoSuchKey{Message: aws.String("The specified key does not exist.")}
	}
	n := int64(len(body))
	if f.length != nil {
		n = *f.length
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(body)), ContentLength: aws.Int64(n)}, nil
}

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts = append(f.puts, in)
	if f.putErr != nil {
		return nil, f.putErr
	}
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	f.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)] = body
	return &s3.PutObjectOutput{}, nil
}

func newHandler(f *fakeS3, logs io.Writer) *Handler {
	return &Handler{Targets: f, Items: f, Bucket: testBucket, Defaults: testDefaults,
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

func readItems(t *testing.T, f *fakeS3, key string) []plan.Item {
	t.Helper()
	body, ok := f.objects[testBucket+"/"+key]
	if !ok {
		t.Fatalf("no items file %s", key)
	}
	var items []plan.Item
	if err := json.Unmarshal(body, &items); err != nil {
		t.Fatalf("items file: %v\n%s", err, body)
	}
	return items
}

func TestPlanWalkthrough(t *testing.T) {
	f := newFakeS3()
	var logs bytes.Buffer
	p, err := newHandler(f, &logs).Handle(context.Background(), requests(t)["walkthrough"])
	if err != nil {
		t.Fatal(err)
	}
	want := plan.Plan{
		Items:          plan.ItemsLocation{Bucket: testBucket, Key: "runs/run-1/items.json"},
		Results:        plan.ResultsLocation{Bucket: testBucket, Prefix: "runs/run-1/results"},
		Count:          1,
		Source:         "inline",
		MaxConcurrency: 10, ToleratedFailureCount: 0, ToleratedFailurePercentage: 100,
	}
	if p != want {
		t.Errorf("plan %+v\nwant %+v", p, want)
	}
	if len(f.puts) != 1 || aws.ToString(f.puts[0].ContentType) != "application/json" || len(f.gets) != 0 {
		t.Fatalf("%d puts, %d gets", len(f.puts), len(f.gets))
	}
	items := readItems(t, f, p.Items.Key)
	if len(items) != 1 || items[0].Problem != nil || string(items[0].Settings.Completion) != `"event"` ||
		!bytes.Contains(items[0].Target, []byte(`"SampleValue2":"secret-value-2"`)) {
		t.Errorf("items %+v", items)
	}
	if strings.Contains(logs.String(), "secret-value") || !strings.Contains(logs.String(), `"msg":"plan written"`) {
		t.Errorf("logs:\n%s", logs.String())
	}
}

func TestPlanFromS3(t *testing.T) {
	f := newFakeS3()
	f.objects[testBucket+"/fleet/targets.json"] = fixture(t, "fleet-targets.json")
	var logs bytes.Buffer
	p, err := newHandler(f, &logs).Handle(context.Background(), requests(t)["from-s3"])
	if err != nil {
		t.Fatal(err)
	}
	if p.Count != 3 || p.Source != "s3://crossbuild-bucket/fleet/targets.json" || p.MaxConcurrency != 50 ||
		p.ToleratedFailureCount != 3 || p.ToleratedFailurePercentage != 10 || p.Items.Key != "runs/fleet-7/items.json" {
		t.Errorf("plan %+v", p)
	}
	if len(f.gets) != 1 || f.gets[0] != testBucket+"/fleet/targets.json" {
		t.Errorf("gets %v", f.gets)
	}
	items := readItems(t, f, p.Items.Key)
	if len(items) != 3 || items[0].Problem != nil || string(items[1].Settings.Completion) != `"poll"` || items[2].Problem == nil ||
		!strings.HasPrefix(*items[2].Problem, "target 2: heartbeatSeconds and timeoutSeconds must be integers") {
		t.Errorf("items %+v", items)
	}
	if strings.Contains(logs.String(), "secret-value") || !strings.Contains(logs.String(), `"problems":1`) {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// Every failure is one named error; nothing is written when the input is refused.
func TestPlanErrors(t *testing.T) {
	apiErr := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }
	big := int64(plan.MaxTargetsObjectBytes + 1)
	cases := []struct {
		name    string
		request string
		setup   func(f *fakeS3)
		errType string
		message string
		written bool
	}{
		{"array input", "array-input", nil, "InvalidInput", "execution input: must be a JSON object with crossAccountTargetRoleArns or targetsS3Uri: got an array", false},
		{"fractional concurrency", "fractional-concurrency", nil, "InvalidInput", "maxConcurrency: must be an integer from 0 (no limit) to 10000, got 2.5", false},
		{"missing object", "missing-object", nil, "InvalidInput", "targetsS3Uri: there is no object s3://crossbuild-bucket/fleet/missing.json: upload the targets there first", false},
		{"object unreadable", "from-s3", func(f *fakeS3) { f.getErr = apiErr("AccessDenied") }, "InvalidInput",
			"targetsS3Uri: s3://crossbuild-bucket/fleet/targets.json cannot be read (AccessDenied): check that it exists and is encrypted with the bucket's key", false},
		{"object archived", "from-s3", func(f *fakeS3) { f.getErr = apiErr("InvalidObjectState") }, "InvalidInput",
			"targetsS3Uri: s3://crossbuild-bucket/fleet/targets.json cannot be read (InvalidObjectState)", false},
		{"object too large", "from-s3", func(f *fakeS3) { f.length = &big }, "InvalidInput",
			"targetsS3Uri: s3://crossbuild-bucket/fleet/targets.json is 67108865 bytes or more, more than the 67108864-byte limit: split the targets over several executions", false},
		{"bucket gone on read", "from-s3", func(f *fakeS3) { f.getErr = &s3types.NoSuchBucket{} }, "BucketUnusable", "", false},
		{"read throttled", "from-s3", func(f *fakeS3) { f.getErr = apiErr("SlowDown") }, "TransientError", "", false},
		{"read network", "from-s3", func(f *fakeS3) { f.getErr = errors.New("connection reset") }, "TransientError", "", false},
		{"write denied", "walkthrough", func(f *fakeS3) { f.putErr = apiErr("AccessDenied") }, "BucketUnusable", "", false},
		{"bucket gone on write", "walkthrough", func(f *fakeS3) { f.putErr = apiErr("NoSuchBucket") }, "BucketUnusable", "", false},
		{"write throttled", "walkthrough", func(f *fakeS3) { f.putErr = apiErr("SlowDown") }, "TransientError", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeS3()
			f.objects[testBucket+"/fleet/targets.json"] = fixture(t, "fleet-targets.json")
			if tc.setup != nil {
				tc.setup(f)
			}
			_, err := newHandler(f, io.Discard).Handle(context.Background(), requests(t)[tc.request])
			if got := runtimetest.ErrorName(err); got != tc.errType {
				t.Fatalf("error %v (%s), want %s", err, got, tc.errType)
			}
			if tc.message != "" && err.Error() != tc.message {
				t.Errorf("message %q\nwant    %q", err.Error(), tc.message)
			}
			if tc.errType == "InvalidInput" && len(f.puts) != 0 {
				t.Errorf("items written for refused input")
			}
		})
	}
}

// A body larger than the limit is refused even when the object's length is not reported.
func TestTargetsObjectBoundedRead(t *testing.T) {
	f := newFakeS3()
	f.objects[testBucket+"/fleet/targets.json"] = bytes.Repeat([]byte(" "), plan.MaxTargetsObjectBytes+1)
	zero := int64(0)
	f.length = &zero
	_, err := newHandler(f, io.Discard).Handle(context.Background(), requests(t)["from-s3"])
	if runtimetest.ErrorName(err) != "InvalidInput" || !strings.Contains(err.Error(), "more than the 67108864-byte limit") {
		t.Fatalf("error %v", err)
	}
}
