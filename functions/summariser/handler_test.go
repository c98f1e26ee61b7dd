package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/internal/runtimetest"
	"github.com/crossbuild/crossbuild/internal/summary"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
)

const testBucket = testfixtures.MapRunBucket

func requests(t testing.TB) map[string]json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile("testdata/requests.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// fakeS3 is an in-memory bucket with ListObjectsV2 paging and canned errors.
type fakeS3 struct {
	mu       sync.Mutex
	objects  map[string][]byte
	modified map[string]time.Time
	pageSize int
	listErr  error
	getErr   func(key string) error
	lists    int
	gets     []string
}

func newFakeS3(objects map[string][]byte) *fakeS3 {
	f := &fakeS3{objects: map[string][]byte{}, modified: map[string]time.Time{}, pageSize: 1000}
	for k, v := range objects {
		f.put(k, v, time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	}
	return f
}

func (f *fakeS3) put(key string, body []byte, at time.Time) {
	f.objects[key], f.modified[key] = body, at
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if f.listErr != nil {
		return nil, f.listErr
	}
	if aws.ToString(in.Bucket) != testBucket {
		return nil, &s3types.NoSuchBucket{}
	}
	var keys []string
	for k := range f.objects {
		if strings.HasPrefix(k, aws.ToString(in.Prefix)) && k > aws.ToString(in.ContinuationToken) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(false)}
	if len(keys) > f.pageSize {
		keys = keys[:f.pageSize]
		out.IsTruncated, out.NextContinuationToken = aws.Bool(true), aws.String(keys[len(keys)-1])
	}
	for _, k := range keys {
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k), LastModified: aws.Time(f.modified[k]), Size: aws.Int64(int64(len(f.objects[k])))})
	}
	return out, nil
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := aws.ToString(in.Key)
	f.gets = append(f.gets, key)
	if f.getErr != nil {
		if err := f.getErr(key); err != nil {
			return nil, err
		}
	}
	body, ok := f.objects[key]
	if !ok || aws.ToString(in.Bucket) != testBucket {
		return nil, &s3types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(body)), ContentLength: aws.Int64(int64(len(body)))}, nil
}

func newHandler(f *fakeS3, logs io.Writer) *Handler {
	return &Handler{List: f, Objects: f, Bucket: testBucket, Log: slog.New(slog.NewJSONHandler(logs, nil))}
}

// decoy adds an older Map Run's manifest under the same prefix, which must not be chosen.
func decoy(f *fakeS3) {
	f.put(testfixtures.MapRunPrefix+"/00000000-old-run/manifest.json", []byte(`{"ResultFiles":{}}`), time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
}

func TestSummarise(t *testing.T) {
	cases := []struct {
		name                 string
		request              string
		setup                func(*fakeS3)
		failed               bool
		succeeded, nFailed   int
		notRun, lists        int
		manifest, causeStart string
	}{
		{"reported manifest", "map-run", decoy, true, 2, 3, 1, 0, testfixtures.MapRunKey, "3 of 6 targets failed, 1 not run (tolerated: 3 targets, 100%); results: s3://crossbuild-bucket/runs/release-42/results; first failures: [{\"mapIndex\":2,"},
		{"found by the Map Run's id", "map-run-arn-only", decoy, true, 2, 3, 1, 1, testfixtures.MapRunKey, "3 of 6"},
		{"latest after a Map Run error", "map-run-error", decoy, true, 2, 3, 1, 1, testfixtures.MapRunKey,
			"3 of 6 targets failed, 1 not run (tolerated: 1 target, 100%); map run: States.ExceedToleratedFailureThreshold: The specified tolerated failure threshold was exceeded; results: s3://crossbuild-bucket/runs/release-42/results; first failures: ["},
		{"nothing written", "reader-failed", func(f *fakeS3) { clear(f.objects) }, true, 0, 0, 6, 1, "",
			"0 of 6 targets failed, 6 not run (tolerated: 3 targets, 100%); map run: States.ItemReaderFailed: Access Denied (Service: S3, Status Code: 403); results: none written under s3://crossbuild-bucket/runs/release-42/results; first failures: []"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeS3(testfixtures.MapRunObjects())
			if tc.setup != nil {
				tc.setup(f)
			}
			var logs bytes.Buffer
			resp, err := newHandler(f, &logs).Handle(context.Background(), requests(t)[tc.request])
			if err != nil {
				t.Fatal(err)
			}
			s := resp.Output.Summary
			if resp.Failed != tc.failed || s.Succeeded != tc.succeeded || s.Failed != tc.nFailed || s.NotRun != tc.notRun || s.Total != 6 || f.lists != tc.lists {
				t.Errorf("failed %v, summary %+v, %d lists", resp.Failed, s, f.lists)
			}
			if m := resp.Output.ResultsLocation.Manifest; (m == nil) != (tc.manifest == "") || (m != nil && *m != tc.manifest) {
				t.Errorf("manifest %v, want %q", m, tc.manifest)
			}
			if !strings.HasPrefix(resp.Cause, tc.causeStart) {
				t.Errorf("cause %q\nwant prefix %q", resp.Cause, tc.causeStart)
			}
			out, _ := json.Marshal(resp)
			// Targets' values (environment overrides) never reach the output or the logs.
			if bytes.Contains(out, []byte("Value1")) || strings.Contains(logs.String(), "Value1") {
				t.Errorf("a target value leaked:\n%s\n%s", out, logs.String())
			}
		})
	}
}

func TestSummariseErrors(t *testing.T) {
	apiErr := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }
	onKey := func(suffix string, err error) func(*fakeS3) {
		return func(f *fakeS3) {
			f.getErr = func(key string) error {
				if strings.HasSuffix(key, suffix) {
					return err
				}
				return nil
			}
		}
	}
	cases := []struct {
		name, request string
		setup         func(*fakeS3)
		errType       string
	}{
		{"other bucket", "other-bucket", nil, "InvalidInput"},
		{"manifest outside the prefix", "key-outside-prefix", nil, "InvalidInput"},
		{"payload not an object", "", nil, "InvalidInput"},
		{"list denied", "map-run-error", func(f *fakeS3) { f.listErr = apiErr("AccessDenied") }, "BucketUnusable"},
		{"list throttled", "map-run-error", func(f *fakeS3) { f.listErr = apiErr("SlowDown") }, "TransientError"},
		{"reported manifest missing", "map-run", func(f *fakeS3) { delete(f.objects, testfixtures.MapRunKey) }, "ResultsUnreadable"},
		{"result file missing", "map-run", func(f *fakeS3) { delete(f.objects, testfixtures.MapRunDir+"FAILED_0.json") }, "ResultsUnreadable"},
		{"result file malformed", "map-run", func(f *fakeS3) { f.objects[testfixtures.MapRunDir+"FAILED_0.json"] = []byte(`[{"Status":"FAILED"},`) }, "ResultsUnreadable"},
		{"manifest malformed", "map-run", func(f *fakeS3) { f.objects[testfixtures.MapRunKey] = []byte(`{"ResultFiles":[`) }, "ResultsUnreadable"},
		{"manifest lists a file elsewhere", "map-run", func(f *fakeS3) {
			f.objects[testfixtures.MapRunKey] = []byte(`{"ResultFiles":{"SUCCEEDED":[{"Key":"runs/other/SUCCEEDED_0.json","Size":2}]}}`)
		}, "ResultsUnreadable"},
		{"read denied", "map-run", onKey("SUCCEEDED_0.json", apiErr("AccessDenied")), "BucketUnusable"},
		{"read interrupted", "map-run", onKey("SUCCEEDED_0.json", errors.New("connection reset")), "TransientError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeS3(testfixtures.MapRunObjects())
			if tc.setup != nil {
				tc.setup(f)
			}
			payload := requests(t)[tc.request]
			if tc.request == "" {
				payload = json.RawMessage(`[1,2]`)
			}
			_, err := newHandler(f, io.Discard).Handle(context.Background(), payload)
			if got := runtimetest.ErrorName(err); got != tc.errType {
				t.Fatalf("error %v (%s), want %s", err, got, tc.errType)
			}
		})
	}
}

// The manifest is found across ListObjectsV2 pages.
func TestManifestAcrossPages(t *testing.T) {
	f := newFakeS3(testfixtures.MapRunObjects())
	f.pageSize = 100
	for i := range 250 {
		f.put(fmt.Sprintf("%s/0000-noise/%04d.json", testfixtures.MapRunPrefix, i), []byte("{}"), time.Now())
	}
	resp, err := newHandler(f, io.Discard).Handle(context.Background(), requests(t)["map-run-error"])
	if err != nil || resp.Output.ResultsLocation.Manifest == nil || f.lists != 3 {
		t.Fatalf("manifest %v after %d lists: %v", resp.Output.ResultsLocation.Manifest, f.lists, err)
	}
}

// hostile is a long string of everything that grows when JSON-encoded.
func hostile(n int) string {
	unit := "<&>\"\\\n\x01é€😀\u2028"
	return strings.Repeat(unit, n/len(unit)+1)[:n]
}

// bigRun writes a Map Run of n targets, half succeeded and half failed, with long hostile
// values, into f; failures come in several shapes and many distinct error names.
func bigRun(t testing.TB, f *fakeS3, n int) {
	t.Helper()
	dir := testfixtures.MapRunDir
	files := map[string][]map[string]any{}
	for i := n - 1; i >= 0; i-- { // newest first, spread over files: order must not matter
		// The first targets, those the output keeps, carry values far beyond every bound;
		// the others are merely hostile, which keeps the test fast.
		long, longCause := hostile(3000), hostile(20000)
		if i >= 120 {
			long, longCause = hostile(100), hostile(100)
		}
		settings := map[string]any{"arn": long, "region": long, "codeBuildProject": long, "completion": "event"}
		input, _ := json.Marshal(map[string]any{"target": map[string]any{"arn": long, "Secret": "Value1"}, "settings": settings, "problem": nil, "mapIndex": i})
		e := map[string]any{"ExecutionArn": fmt.Sprintf("arn:aws:states:eu-west-1:111111111111:execution:crossbuild/targets:%d", i), "Input": string(input)}
		var file string
		switch {
		case i%2 == 0:
			out, _ := json.Marshal(map[string]any{"status": "SUCCEEDED", "buildArn": long[:min(1000, len(long))], "envOverrides": []string{long[:min(500, len(long))]}})
			e["Status"], e["Output"], file = "SUCCEEDED", string(out), fmt.Sprintf("SUCCEEDED_%d.json", i%3)
		case i%6 == 1:
			cause, _ := json.Marshal(map[string]any{"mapIndex": i, "roleArn": long, "region": long, "project": long, "status": "FAILED",
				"error": fmt.Sprintf("Custom.%d.%s", i, long[:min(300, len(long))]), "cause": longCause})
			e["Status"], e["Error"], e["Cause"], file = "FAILED", "Custom", string(cause), "FAILED_0.json"
		case i%6 == 3:
			e["Status"], file = "ABORTED", "FAILED_1.json"
		default:
			e["Status"], e["Error"], e["Cause"], file = "TIMED_OUT", "States.Timeout", longCause, "FAILED_1.json"
		}
		files[file] = append(files[file], e)
	}
	manifest := map[string]any{"DestinationBucket": testBucket, "MapRunArn": testfixtures.MapRunARN, "ResultFiles": map[string][]map[string]any{}}
	for name, entries := range files {
		body, err := json.Marshal(entries)
		if err != nil {
			t.Fatal(err)
		}
		f.put(dir+name, body, time.Now())
		kind, _, _ := strings.Cut(name, "_")
		rf := manifest["ResultFiles"].(map[string][]map[string]any)
		rf[kind] = append(rf[kind], map[string]any{"Key": dir + name, "Size": len(body)})
	}
	body, _ := json.Marshal(manifest)
	f.put(testfixtures.MapRunKey, body, time.Now())
}

// The output stays under 256 KiB (and within its own budget) and the cause under its bound
// whatever the number of targets and the size of their results.
func TestOutputBound(t *testing.T) {
	for _, n := range []int{10000, 100, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			f := newFakeS3(nil)
			bigRun(t, f, n)
			payload, _ := json.Marshal(map[string]any{
				"results": map[string]string{"bucket": testBucket, "prefix": testfixtures.MapRunPrefix},
				"count":   n, "toleratedFailureCount": 0, "toleratedFailurePercentage": 100,
				"mapRunError": map[string]string{"Error": "States.ExceedToleratedFailureThreshold", "Cause": hostile(40000)},
			})
			h := newHandler(f, io.Discard)
			resp, err := h.Handle(context.Background(), json.RawMessage(payload))
			if err != nil {
				t.Fatal(err)
			}
			out, err := json.Marshal(resp.Output)
			if err != nil {
				t.Fatal(err)
			}
			whole, _ := json.Marshal(resp)
			t.Logf("%d targets: output %d bytes, response %d bytes, cause %d bytes, %d results listed", n, len(out), len(whole), len(resp.Cause), len(resp.Output.Results))
			if len(out) > summary.MaxOutputBytes || len(whole) >= 256*1024 {
				t.Errorf("output %d bytes, response %d bytes", len(out), len(whole))
			}
			if len(resp.Cause) > summary.MaxCauseBytes || !utf8.ValidString(resp.Cause) || !resp.Failed {
				t.Errorf("cause %d bytes (valid %v), failed %v", len(resp.Cause), utf8.ValidString(resp.Cause), resp.Failed)
			}
			s := resp.Output.Summary
			if s.Total != n || s.Succeeded != (n+1)/2 || s.Failed != n/2 || s.NotRun != 0 || len(s.ByError) > summary.MaxErrorNames+1 {
				t.Errorf("summary total %d succeeded %d failed %d notRun %d, %d error names", s.Total, s.Succeeded, s.Failed, s.NotRun, len(s.ByError))
			}
			wantFirst := min(n/2, summary.MaxFailedTargets)
			if len(resp.Output.FailedTargets) != wantFirst || *resp.Output.FailedTargets[0].MapIndex != 1 {
				t.Errorf("%d failed targets, first %v", len(resp.Output.FailedTargets), resp.Output.FailedTargets[0].MapIndex)
			}
			if n == 7 && len(resp.Output.Results) != 7 {
				t.Errorf("a run of 7 lists %d results", len(resp.Output.Results))
			}
			if bytes.Contains(whole, []byte("Value1")) {
				t.Error("a target value leaked into the response")
			}
		})
	}
}
