package summary

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/internal/testfixtures"
)

// TestTargetResult: every child of the fixture Map Run gives the result the execution
// output lists for it, with the Map index from its input; a child that never ran gives none.
func TestTargetResult(t *testing.T) {
	objects := testfixtures.MapRunObjects()
	type want struct {
		status, errName, project string
		result                   bool
	}
	wants := map[int]want{
		0: {status: "SUCCEEDED", project: "sample-codebuild-project", result: true},
		1: {status: "SUCCEEDED", project: "sample-codebuild-project", result: true},
		2: {status: "FAILED", errName: "CodeBuild.FAILED", project: "sample-codebuild-project", result: true},
		3: {status: "FAILED", errName: "States.Runtime", result: true},
		4: {status: "ABORTED", errName: "ABORTED", result: true},
		5: {},
	}
	seen := map[int]bool{}
	for _, kind := range []string{KindSucceeded, KindFailed, KindPending} {
		var entries []Entry
		if err := json.Unmarshal(objects[testfixtures.MapRunDir+kind+"_0.json"], &entries); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			index, raw := TargetResult(kind, e)
			if index == nil {
				t.Fatalf("%s entry %s: no map index", kind, e.ExecutionArn)
			}
			w, ok := wants[*index]
			if !ok || seen[*index] {
				t.Fatalf("unexpected or repeated index %d", *index)
			}
			seen[*index] = true
			if (raw != nil) != w.result {
				t.Fatalf("index %d: result %s, want one: %v", *index, raw, w.result)
			}
			if raw == nil {
				continue
			}
			var got struct {
				Status, Error, Project string
				MapIndex               *int
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			if err := dec.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got.Status != w.status || got.Error != w.errName || (w.project != "" && got.Project != w.project) {
				t.Errorf("index %d: %s", *index, raw)
			}
			if kind == KindFailed && (got.MapIndex == nil || *got.MapIndex != *index) {
				t.Errorf("index %d: failure result without its mapIndex: %s", *index, raw)
			}
		}
	}
	if len(seen) != len(wants) {
		t.Errorf("saw %v", seen)
	}
}

func TestParseChildInput(t *testing.T) {
	for _, tt := range []struct {
		name, input string
		index       int // -1: none
		region      string
	}{
		{"an item", `{"target":{},"settings":{"arn":"arn:aws:iam::222222222222:role/r","region":"eu-west-1","codeBuildProject":"p"},"mapIndex":7}`, 7, "eu-west-1"},
		{"null settings", `{"settings":{"arn":null,"region":null,"codeBuildProject":null},"mapIndex":0}`, 0, ""},
		{"not JSON", `nope`, -1, ""},
		{"a negative index", `{"mapIndex":-1}`, -1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseChildInput(tt.input)
			if (got.MapIndex == nil) != (tt.index < 0) || (got.MapIndex != nil && *got.MapIndex != tt.index) || got.Region != tt.region {
				t.Errorf("%+v", got)
			}
			if tt.index == 7 && (got.CodeBuildProject != "p" || !strings.HasSuffix(got.RoleARN, ":role/r")) {
				t.Errorf("%+v", got)
			}
		})
	}
}
