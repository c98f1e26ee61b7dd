package summary

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/crossbuild/crossbuild/internal/plan"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func request(t *testing.T, name string) Request {
	t.Helper()
	raw, err := os.ReadFile("testdata/requests.json")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	r, err := ParseRequest(all[name])
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// collect reads the fixture Map Run the way the summariser does: the manifest, then each file.
func collect(t *testing.T, p plan.Plan) (*Collector, string) {
	t.Helper()
	objects := testfixtures.MapRunObjects()
	var m Manifest
	if err := json.Unmarshal(objects[testfixtures.MapRunKey], &m); err != nil {
		t.Fatal(err)
	}
	c := NewCollector(p)
	for _, f := range m.Files() {
		body, ok := objects[f.Key]
		if !ok {
			t.Fatalf("no fixture object %s", f.Key)
		}
		if err := c.Read(bytes.NewReader(body), f.Kind); err != nil {
			t.Fatalf("%s: %v", f.Key, err)
		}
	}
	return c, testfixtures.MapRunKey
}

// The fixture run holds two succeeded children (out of order), one failed through the
// child's Fail state, one aborted, one failed with a States.Runtime error, and one never
// started; the golden files show the responses.
func TestSummariseGolden(t *testing.T) {
	for _, name := range []string{"map-run", "map-run-error"} {
		t.Run(name, func(t *testing.T) {
			req := request(t, name)
			c, manifest := collect(t, req.Plan)
			resp := c.Finish(Location{Bucket: "crossbuild-bucket", Prefix: req.Results.Prefix, Manifest: &manifest}, req.MapRunError)
			got, err := json.MarshalIndent(resp, "", " ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := "testdata/" + name + ".golden.json"
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
				t.Errorf("response differs from %s:\n%s", golden, got)
			}
		})
	}
}

func TestTolerance(t *testing.T) {
	cases := []struct {
		name                  string
		succeeded, failed     int
		pending, count        int
		tolerated             int
		percentage            float64
		mapRunError, wantFail bool
	}{
		{"all succeeded", 3, 0, 0, 3, 0, 100, false, false},
		{"one failure, none tolerated", 2, 1, 0, 3, 0, 100, false, true},
		{"within count", 2, 1, 0, 3, 1, 100, false, false},
		{"within percentage", 8, 2, 0, 10, 10, 20, false, false},
		{"above percentage", 7, 3, 0, 10, 10, 20, false, true},
		{"both given, count binds", 7, 3, 0, 10, 2, 50, false, true},
		{"map run error", 3, 0, 0, 3, 0, 100, true, true},
		{"targets missing from the results", 2, 0, 0, 3, 0, 100, false, true},
		{"pending", 2, 0, 1, 3, 0, 100, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCollector(plan.Plan{Count: tc.count, ToleratedFailureCount: tc.tolerated, ToleratedFailurePercentage: tc.percentage})
			for i := range tc.succeeded {
				c.Add(KindSucceeded, Entry{Status: "SUCCEEDED", Input: ptr(fmt.Sprintf(`{"mapIndex":%d}`, i)), Output: ptr(`{"status":"SUCCEEDED"}`)})
			}
			for i := range tc.failed {
				c.Add(KindFailed, Entry{Status: "FAILED", Error: ptr("CodeBuild.FAILED"), Input: ptr(fmt.Sprintf(`{"mapIndex":%d}`, tc.succeeded+i))})
			}
			for range tc.pending {
				c.Add(KindPending, Entry{Status: "PENDING"})
			}
			var mre *MapRunError
			if tc.mapRunError {
				mre = &MapRunError{Error: "States.ExceedToleratedFailureThreshold", Cause: "exceeded"}
			}
			manifest := "m"
			resp := c.Finish(Location{Bucket: "b", Prefix: "p", Manifest: &manifest}, mre)
			if resp.Failed != tc.wantFail || (resp.Cause != "") != tc.wantFail {
				t.Fatalf("failed %v cause %q, want failed %v", resp.Failed, resp.Cause, tc.wantFail)
			}
			s := resp.Output.Summary
			if s.Succeeded != tc.succeeded || s.Failed != tc.failed || s.Total != tc.count || s.NotRun != tc.count-tc.succeeded-tc.failed {
				t.Errorf("summary %+v", s)
			}
		})
	}
}

// No manifest (the Map Run failed before it wrote results): every target is "not run" and
// the cause says no results were written.
func TestNoResults(t *testing.T) {
	c := NewCollector(plan.Plan{Count: 4, ToleratedFailurePercentage: 100})
	resp := c.Finish(Location{Bucket: "b", Prefix: "runs/x/results"}, &MapRunError{Error: "States.ItemReaderFailed", Cause: "Access denied"})
	want := "0 of 4 targets failed, 4 not run (tolerated: 0 targets, 100%); map run: States.ItemReaderFailed: Access denied; " +
		"results: none written under s3://b/runs/x/results; first failures: []"
	if !resp.Failed || resp.Cause != want || resp.Output.Summary.NotRun != 4 || resp.Output.FailedTargets == nil {
		t.Fatalf("response %+v\ncause %q\nwant  %q", resp.Output, resp.Cause, want)
	}
	b, _ := json.Marshal(resp.Output)
	if !bytes.Contains(b, []byte(`"failedTargets":[]`)) || !bytes.Contains(b, []byte(`"manifest":null`)) || bytes.Contains(b, []byte(`"results":`)) {
		t.Errorf("output %s", b)
	}
}

// hostile is a long string of everything that grows when JSON-encoded.
func hostile(n int) string {
	unit := "<&>\"\\\n\x01é€😀\u2028"
	return strings.Repeat(unit, n/len(unit)+1)[:n]
}

// The cause at its limit: many failures with long fields still give a cause of at most
// MaxCauseBytes of valid UTF-8, with the counts first and the rest counted.
func TestCauseBound(t *testing.T) {
	c := NewCollector(plan.Plan{Count: 100, ToleratedFailurePercentage: 100})
	long := hostile(6000)
	for i := range 100 {
		in, _ := json.Marshal(map[string]any{"mapIndex": i, "settings": map[string]string{"arn": long, "region": long, "codeBuildProject": long}})
		c.Add(KindFailed, Entry{Status: "ABORTED", Error: ptr(long), Cause: ptr(long), Input: ptr(string(in))})
	}
	manifest := "runs/x/results/id/manifest.json"
	resp := c.Finish(Location{Bucket: "b", Prefix: "runs/" + strings.Repeat("n", 80) + "/results", Manifest: &manifest},
		&MapRunError{Error: long, Cause: long})
	if len(resp.Cause) > MaxCauseBytes || !utf8.ValidString(resp.Cause) || utf8.RuneCountInString(resp.Cause) >= 32768 {
		t.Fatalf("cause of %d bytes (valid UTF-8: %v)", len(resp.Cause), utf8.ValidString(resp.Cause))
	}
	if !strings.HasPrefix(resp.Cause, "100 of 100 targets failed (tolerated: 0 targets, 100%); map run: ") ||
		!strings.Contains(resp.Cause, "more)") || !strings.Contains(resp.Cause, `{"mapIndex":0,`) {
		t.Errorf("cause %q", resp.Cause)
	}
	if len(resp.Output.FailedTargets) != MaxFailedTargets || *resp.Output.FailedTargets[19].MapIndex != 19 {
		t.Errorf("%d failed targets", len(resp.Output.FailedTargets))
	}
	for _, f := range resp.Output.FailedTargets {
		b, _ := json.Marshal(f.Cause)
		if len(b)-2 > maxCause {
			t.Errorf("failure cause encodes to %d bytes", len(b)-2)
		}
	}
	if n := len(resp.Output.Summary.ByError); n != 1 {
		t.Errorf("byError has %d names", n)
	}
}

func TestByErrorBound(t *testing.T) {
	c := NewCollector(plan.Plan{Count: 120, ToleratedFailurePercentage: 100})
	for i := range 120 {
		c.Add(KindFailed, Entry{Status: "FAILED", Error: ptr(fmt.Sprintf("Custom.Error%03d", i))})
	}
	resp := c.Finish(Location{Bucket: "b", Prefix: "p"}, nil)
	by := resp.Output.Summary.ByError
	if len(by) != MaxErrorNames+1 || by[Other] != 120-MaxErrorNames || by["Custom.Error000"] != 1 {
		t.Errorf("byError %d names, other %d", len(by), by[Other])
	}
}

// Results are listed, in mapIndex order, only for small runs whose results are small.
func TestResultsListing(t *testing.T) {
	run := func(count, outputBytes int) Output {
		c := NewCollector(plan.Plan{Count: count, ToleratedFailurePercentage: 100})
		for i := count - 1; i >= 0; i-- {
			out := fmt.Sprintf(`{"status":"SUCCEEDED","index":%d,"pad":%q}`, i, strings.Repeat("x", outputBytes))
			c.Add(KindSucceeded, Entry{Status: "SUCCEEDED", Input: ptr(fmt.Sprintf(`{"mapIndex":%d}`, i)), Output: &out})
		}
		return c.Finish(Location{Bucket: "b", Prefix: "p"}, nil).Output
	}
	out := run(3, 10)
	if len(out.Results) != 3 || !bytes.Contains(out.Results[0], []byte(`"index":0`)) || !bytes.Contains(out.Results[2], []byte(`"index":2`)) {
		t.Errorf("results %s", out.Results)
	}
	if out := run(MaxListedTargets, 10); len(out.Results) != MaxListedTargets {
		t.Errorf("%d results listed at the count limit", len(out.Results))
	}
	if out := run(MaxListedTargets+1, 10); out.Results != nil {
		t.Errorf("results listed for %d targets", MaxListedTargets+1)
	}
	if out := run(10, MaxListedBytes/10); out.Results != nil {
		t.Errorf("results listed beyond %d bytes", MaxListedBytes)
	}
}

func TestCut(t *testing.T) {
	cases := []struct {
		s    string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijk", 10, "abcdefg…"},
		{"ééééé", 8, "éé…"}, // 2-byte runes never split
		{"abc", 2, ""},
	}
	for _, tc := range cases {
		if got := cut(tc.s, tc.max, byteCost); got != tc.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
	}
	for _, n := range []int{1, 7, 100, 2048} {
		got := cut(hostile(10000), n, jsonCost)
		b, _ := json.Marshal(got)
		if len(b)-2 > n || !utf8.ValidString(got) {
			t.Errorf("cut to %d encodes to %d bytes", n, len(b)-2)
		}
	}
}

func TestParseRequest(t *testing.T) {
	for _, raw := range []string{`[]`, `{"results":{"bucket":"b"}}`, `{"results":{"bucket":"b","prefix":"p"},"count":-1}`} {
		if _, err := ParseRequest([]byte(raw)); err == nil {
			t.Errorf("%s accepted", raw)
		}
	}
	r, err := ParseRequest([]byte(`{"results":{"bucket":"b","prefix":"p"},"count":2,"extra":{"anything":1},"mapRun":{"MapRunArn":"arn:aws:states:eu-west-1:111111111111:mapRun:sm/targets:abc"}}`))
	if err != nil || r.Count != 2 || MapRunID(r.MapRun.MapRunArn) != "abc" {
		t.Errorf("%+v %v", r, err)
	}
}

func ptr(s string) *string { return &s }
