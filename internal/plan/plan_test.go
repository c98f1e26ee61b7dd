package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/internal/failure"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const testBucket = "crossbuild-bucket"

var testDefaults = Defaults{MaxConcurrency: 10, HeartbeatSeconds: 3600, TimeoutSeconds: 28800, PollIntervalSeconds: 20}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestParseInput(t *testing.T) {
	var cases map[string]struct {
		Input json.RawMessage `json:"input"`
		Error string          `json:"error"`
		Want  *struct {
			Targets                    int     `json:"targets"`
			URI                        string  `json:"uri"`
			MaxConcurrency             int     `json:"maxConcurrency"`
			ToleratedFailureCount      int     `json:"toleratedFailureCount"`
			ToleratedFailurePercentage float64 `json:"toleratedFailurePercentage"`
		} `json:"want"`
	}
	readJSON(t, "inputs.json", &cases)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in, err := ParseInput(tc.Input, testDefaults, testBucket)
			if tc.Error != "" {
				var ii *failure.InvalidInput
				if !errors.As(err, &ii) || err.Error() != tc.Error {
					t.Fatalf("error %T %q\nwant InvalidInput %q", err, err, tc.Error)
				}
				return
			}
			if err != nil || tc.Want == nil {
				t.Fatalf("error %v (fixture has want: %v)", err, tc.Want != nil)
			}
			count := len(in.Targets)
			if tc.Want.URI != "" {
				count = 7 // as if the object held seven targets
			}
			p := New(in, testBucket, "run-1", count)
			w := tc.Want
			if len(in.Targets) != w.Targets || in.TargetsURI != w.URI || p.MaxConcurrency != w.MaxConcurrency {
				t.Errorf("targets %d uri %q maxConcurrency %d, want %+v", len(in.Targets), in.TargetsURI, p.MaxConcurrency, *w)
			}
			if p.ToleratedFailureCount != w.ToleratedFailureCount || p.ToleratedFailurePercentage != w.ToleratedFailurePercentage {
				t.Errorf("tolerance %d / %g, want %d / %g", p.ToleratedFailureCount, p.ToleratedFailurePercentage, w.ToleratedFailureCount, w.ToleratedFailurePercentage)
			}
		})
	}
}

func TestTooManyInlineTargets(t *testing.T) {
	for _, n := range []int{MaxTargets, MaxTargets + 1} {
		raw := `{"crossAccountTargetRoleArns":[` + strings.Repeat(`{},`, n-1) + `{}]}`
		in, err := ParseInput([]byte(raw), testDefaults, testBucket)
		if n == MaxTargets && (err != nil || len(in.Targets) != n) {
			t.Fatalf("%d targets: %v", n, err)
		}
		if n > MaxTargets && (err == nil || err.Error() != "crossAccountTargetRoleArns: at most 10000 targets") {
			t.Fatalf("%d targets: %v", n, err)
		}
	}
}

func TestPlanShape(t *testing.T) {
	in, err := ParseInput([]byte(`{"targetsS3Uri":"s3://crossbuild-bucket/fleet/targets.json"}`), testDefaults, testBucket)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(New(in, testBucket, "release-42", 3))
	want := `{"items":{"bucket":"crossbuild-bucket","key":"runs/release-42/items.json"},` +
		`"results":{"bucket":"crossbuild-bucket","prefix":"runs/release-42/results"},` +
		`"count":3,"source":"s3://crossbuild-bucket/fleet/targets.json","maxConcurrency":10,` +
		`"toleratedFailureCount":0,"toleratedFailurePercentage":100}`
	if string(got) != want {
		t.Errorf("plan\n%s\nwant\n%s", got, want)
	}
}

func TestParseRequest(t *testing.T) {
	cases := []struct {
		name, raw, err string
	}{
		{"ok", `{"input":[1],"executionArn":"arn:aws:states:eu-west-1:111111111111:execution:crossbuild:r","executionName":"r"}`, ""},
		{"unknown field", `{"input":{},"executionName":"r","extra":1}`, "planner payload"},
		{"no input", `{"executionName":"r"}`, "planner payload: input is missing"},
		{"no name", `{"input":{}}`, "executionName: must be 1 to 80 characters"},
		{"long name", `{"input":{},"executionName":"` + strings.Repeat("x", 81) + `"}`, "executionName: must be 1 to 80 characters"},
		{"slash", `{"input":{},"executionName":"a/b"}`, "executionName: must not contain '/', spaces or control characters"},
		{"dot dot", `{"input":{},"executionName":".."}`, "executionName: must be a valid execution name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRequest([]byte(tc.raw))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ii *failure.InvalidInput
			if !errors.As(err, &ii) || !strings.HasPrefix(err.Error(), tc.err) {
				t.Fatalf("error %T %v, want InvalidInput %q", err, err, tc.err)
			}
		})
	}
}

// The items of a fixture with every kind of target, against a golden file (go test
// ./internal/plan -update rewrites it; review the diff).
func TestBuildItemsGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/targets.json")
	if err != nil {
		t.Fatal(err)
	}
	targets, err := DecodeTargets(bytes.NewReader(raw), "s3://crossbuild-bucket/targets.json")
	if err != nil {
		t.Fatal(err)
	}
	items, problems := BuildItems(targets, testDefaults)
	got, err := EncodeItems(items)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(got) {
		t.Fatalf("items file is not JSON:\n%s", got)
	}
	if problems != 10 {
		t.Errorf("%d problems, want 10", problems)
	}
	const golden = "testdata/items.golden.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("items differ from %s:\n%s", golden, got)
	}
}

// The causes are the state machine's former Choice-state causes, word for word.
func TestProblemTexts(t *testing.T) {
	cases := []struct {
		target, problem string
	}{
		{`{"heartbeatSeconds": 59}`, "target 3: heartbeatSeconds and timeoutSeconds must be integers with 60 <= heartbeatSeconds <= 86400 and heartbeatSeconds < timeoutSeconds <= 31536000"},
		{`{"timeoutSeconds": 31536001}`, "target 3: heartbeatSeconds and timeoutSeconds must be integers with 60 <= heartbeatSeconds <= 86400 and heartbeatSeconds < timeoutSeconds <= 31536000"},
		{`{"heartbeatSeconds": 86401, "timeoutSeconds": 90000}`, "target 3: heartbeatSeconds and timeoutSeconds must be integers with 60 <= heartbeatSeconds <= 86400 and heartbeatSeconds < timeoutSeconds <= 31536000"},
		{`{"pollIntervalSeconds": 3601}`, "target 3: pollIntervalSeconds must be an integer from 5 to 3600"},
		{`{"pollIntervalSeconds": 5.5}`, "target 3: pollIntervalSeconds must be an integer from 5 to 3600"},
		{`true`, "target 3: must be a JSON object with arn, region and codeBuildProject, got a boolean"},
		{`{"heartbeatSeconds": 60, "timeoutSeconds": 61, "pollIntervalSeconds": 3600}`, ""},
		{`{"heartbeatSeconds": 86400, "timeoutSeconds": 31536000, "pollIntervalSeconds": 5}`, ""},
	}
	for _, tc := range cases {
		it := NewItem(3, json.RawMessage(tc.target), testDefaults)
		got := ""
		if it.Problem != nil {
			got = *it.Problem
		}
		if got != tc.problem {
			t.Errorf("%s: problem %q, want %q", tc.target, got, tc.problem)
		}
	}
}

// A target over the size limit is refused by name and left out of its item, so the item
// stays far below the 256 KiB a child execution's input may have; values copied into the
// settings are bounded too.
func TestTargetSize(t *testing.T) {
	at := func(n int) json.RawMessage {
		// {"arn":"<pad>"} is n bytes.
		return json.RawMessage(`{"arn":"` + strings.Repeat("a", n-len(`{"arn":""}`)) + `"}`)
	}
	it := NewItem(7, at(MaxTargetBytes), testDefaults)
	if it.Problem != nil || len(it.Target) != MaxTargetBytes || it.Settings.ARN != nil {
		t.Errorf("at the limit: problem %v, %d bytes, arn setting %d bytes", it.Problem, len(it.Target), len(it.Settings.ARN))
	}
	it = NewItem(7, at(300000), testDefaults)
	if it.Problem == nil || *it.Problem != fmt.Sprintf("target 7: 300000 bytes, more than the %d-byte limit", MaxTargetBytes) || it.Target != nil {
		t.Fatalf("over the limit: problem %v, target %d bytes", it.Problem, len(it.Target))
	}
	small := NewItem(0, json.RawMessage(`{"arn":"`+strings.Repeat("r", MaxSettingBytes-2)+`","codeBuildProject":"p"}`), testDefaults)
	if len(small.Settings.ARN) != MaxSettingBytes {
		t.Errorf("a setting of exactly %d bytes is copied, got %d", MaxSettingBytes, len(small.Settings.ARN))
	}
	items, _ := BuildItems([]json.RawMessage{at(MaxTargetBytes), at(300000)}, testDefaults)
	for i, it := range items {
		b, _ := json.Marshal(it)
		if len(b) > MaxTargetBytes+4096 {
			t.Errorf("item %d is %d bytes", i, len(b))
		}
	}
}

func TestDecodeTargets(t *testing.T) {
	const uri = "s3://crossbuild-bucket/t"
	cases := []struct {
		name, body string
		count      int
		err        string
	}{
		{"array", ` [ {"a":1}, {"b":2} ] `, 2, ""},
		{"json lines", "{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}\n", 3, ""},
		{"byte order mark", "\ufeff[{\"a\":1}]", 1, ""},
		{"json lines, non-objects kept for their items", "{\"a\":1}\n42\n", 2, ""},
		{"empty", "  \n", 0, "targetsS3Uri: s3://crossbuild-bucket/t is empty: it must hold a JSON array of 1 to 10000 targets"},
		{"empty array", "[]", 0, "targetsS3Uri: s3://crossbuild-bucket/t holds no targets: it must hold 1 to 10000"},
		{"broken", `[{"a":1},`, 0, "targetsS3Uri: s3://crossbuild-bucket/t is not a JSON array of targets nor JSON Lines"},
		{"trailing", `[{"a":1}] {}`, 0, "targetsS3Uri: s3://crossbuild-bucket/t is not a JSON array of targets nor JSON Lines: data after the array"},
		{"csv", "arn,region\nx,y\n", 0, "targetsS3Uri: s3://crossbuild-bucket/t is not a JSON array of targets nor JSON Lines"},
		{"an execution input", `{"crossAccountTargetRoleArns":[{}]}`, 0, "targetsS3Uri: s3://crossbuild-bucket/t holds an execution input; it must hold the array of targets itself"},
		{"too many", "[" + strings.Repeat("{},", MaxTargets) + "{}]", 0, "targetsS3Uri: s3://crossbuild-bucket/t holds more than 10000 targets"},
		{"as many as allowed", "[" + strings.Repeat("{},", MaxTargets-1) + "{}]", MaxTargets, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeTargets(strings.NewReader(tc.body), uri)
			if tc.err != "" {
				var ii *failure.InvalidInput
				if !errors.As(err, &ii) || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("error %v, want InvalidInput %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != tc.count {
				t.Fatalf("%d targets, %v; want %d", len(got), err, tc.count)
			}
		})
	}
}

func TestDefaultsValidate(t *testing.T) {
	if err := testDefaults.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []Defaults{
		{MaxConcurrency: -1, HeartbeatSeconds: 3600, TimeoutSeconds: 28800, PollIntervalSeconds: 20},
		{MaxConcurrency: 10001, HeartbeatSeconds: 3600, TimeoutSeconds: 28800, PollIntervalSeconds: 20},
		{HeartbeatSeconds: 59, TimeoutSeconds: 28800, PollIntervalSeconds: 20},
		{HeartbeatSeconds: 3600, TimeoutSeconds: 3600, PollIntervalSeconds: 20},
		{HeartbeatSeconds: 3600, TimeoutSeconds: 28800, PollIntervalSeconds: 4},
	} {
		if d.Validate() == nil {
			t.Errorf("%+v accepted", d)
		}
	}
}
