package e2e

import (
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/crossbuild/crossbuild/local/world"
)

// canary is a PLAINTEXT value no code or fixture contains, so every place it turns up in
// got it from the execution below.
const canary = "canary-5e1f0c7d9b3a-value"

// Where a PLAINTEXT value may appear, and where it may not (docs/security.md, "Where
// PLAINTEXT values appear"): an execution over an event-mode and a poll-mode target passes
// the canary as a free key and in environmentVariables, then every artefact the local
// runtime keeps is searched for it.
func TestSecretsStayOutOfCrossbuildRecords(t *testing.T) {
	tw := startWorld(t, world.Options{TimeScale: 30, PhaseDelay: 50 * time.Millisecond})
	input := map[string]any{"crossAccountTargetRoleArns": []any{
		map[string]any{"arn": "arn:aws:iam::222222222222:role/crossbuild-target-role", "region": "eu-west-1",
			"codeBuildProject": "sample-codebuild-project", "DEPLOY_TOKEN": canary},
		map[string]any{"arn": "arn:aws:iam::333333333333:role/crossbuild-target-role", "region": "us-east-1",
			"codeBuildProject": "sample-codebuild-project", "completion": "poll", "pollIntervalSeconds": 5,
			"environmentVariables": []any{map[string]any{"name": "API_KEY", "value": canary}}},
	}}
	x := tw.run(t, "canary", input)
	if got := string(x.desc.Status); got != "SUCCEEDED" {
		t.Fatalf("execution ended %s: %s", got, aws.ToString(x.desc.Cause))
	}
	tw.settle(t)

	found := map[string][]string{} // place -> where in it
	note := func(place, where string, text []byte) {
		if strings.Contains(string(text), canary) {
			found[place] = append(found[place], where)
		}
	}

	// Step Functions: the execution's output, and every history event by type.
	note("execution output", x.arn, []byte(aws.ToString(x.desc.Output)))
	for _, e := range x.history {
		raw, _ := json.Marshal(e)
		note("execution history", "parent "+string(e.Type), raw)
	}
	for _, c := range x.children {
		note("execution output", c.arn, []byte(aws.ToString(c.desc.Output)))
		for _, e := range c.history {
			raw, _ := json.Marshal(e)
			note("execution history", "child "+string(e.Type), raw)
		}
	}

	// The token table, every item.
	items, err := tw.db.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(tw.table)})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items.Items {
		raw, _ := json.Marshal(it)
		note("token table", "item", raw)
	}

	// The runs bucket: items files, and each result entry's input and output apart.
	objects, err := tw.s3.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(tw.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objects.Contents {
		key := aws.ToString(o.Key)
		obj, err := tw.s3.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(tw.bucket), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(key, "/results/") {
			note("runs bucket items", key, body)
			continue
		}
		var entries []struct{ Input, Output string }
		if json.Unmarshal(body, &entries) != nil {
			note("runs bucket results", key, body) // the manifest
			continue
		}
		for _, e := range entries {
			note("runs bucket results, Input", key, []byte(e.Input))
			note("runs bucket results, Output", key, []byte(e.Output))
		}
	}

	// Dead-letter queues.
	for _, arn := range tw.deadLetter {
		for _, dl := range tw.Events.DeadLetters(arn) {
			note("dead-letter queue", arn, dl.Body)
		}
	}

	// Every file the world wrote: functions' logs, builds' logs, archives, traces, its own log.
	err = filepath.WalkDir(tw.logDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tw.logDir, path)
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(filepath.Base(rel), "lambda-"):
			note("function logs", rel, raw)
		case strings.HasPrefix(rel, "builds"+string(filepath.Separator)):
			note("build logs (target account)", rel, raw)
		case strings.HasPrefix(rel, "archives"+string(filepath.Separator)):
			note("source bus archive", rel, raw)
		case rel == "xray-segments.jsonl":
			note("X-Ray segments", rel, raw)
		default:
			note("local runtime's own files", rel, raw)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	places := slices.Sorted(func(yield func(string) bool) {
		for p := range found {
			if !yield(p) {
				return
			}
		}
	})
	var report strings.Builder
	for _, p := range places {
		where := slices.Compact(slices.Sorted(slices.Values(found[p])))
		report.WriteString("  " + p + ": " + strings.Join(where, ", ") + "\n")
	}
	t.Logf("the canary value appears in:\n%s", report.String())

	// What crossbuild writes itself holds names only.
	for _, clean := range []string{"token table", "execution output", "runs bucket results, Output", "function logs", "X-Ray segments"} {
		if where, ok := found[clean]; ok {
			t.Errorf("the value leaked into the %s: %v", clean, where)
		}
	}
	// What docs/security.md says holds the value does: the input as given, and the events of
	// crossbuild's builds (in the archive: their terminal state changes).
	for _, held := range []string{"execution history", "runs bucket items", "runs bucket results, Input", "source bus archive", "build logs (target account)"} {
		if _, ok := found[held]; !ok {
			t.Errorf("the %s does not hold the value; docs/security.md says it does", held)
		}
	}
	// The archive keeps what a replay needs: one terminal state change per build.
	archived := 0
	files, _ := filepath.Glob(filepath.Join(tw.logDir, "archives", "*.jsonl"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			var ev struct {
				DetailType string `json:"detail-type"`
				Detail     struct {
					Status string `json:"build-status"`
				} `json:"detail"`
			}
			if line == "" {
				continue
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.DetailType != "CodeBuild Build State Change" || ev.Detail.Status != "SUCCEEDED" {
				t.Errorf("the archive keeps %.200s", line)
			}
			archived++
		}
	}
	if builds := len(tw.CodeBuild.Builds()); archived != builds {
		t.Errorf("the archive keeps %d events for %d builds, want one each", archived, builds)
	}
	// In the histories: inputs (the executions', the tasks', states passing them on), never
	// what a task or an execution returned.
	for _, where := range found["execution history"] {
		if strings.HasSuffix(where, "Succeeded") {
			t.Errorf("the value is in a history event %s", where)
		}
	}
}
