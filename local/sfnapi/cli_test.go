package sfnapi

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAWSCLI drives the endpoint with the AWS CLI, when one is installed.
func TestAWSCLI(t *testing.T) {
	cli, err := exec.LookPath("aws")
	if err != nil || testing.Short() {
		t.Skip("the AWS CLI is not installed (or -short)")
	}
	e := newEnv(t, nil)
	dir := t.TempDir()
	def, err := filepath.Abs("testdata/wait.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, cli, append([]string{"stepfunctions", "--endpoint-url", e.srv.URL, "--output", "json"}, args...)...)
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
			"AWS_ACCESS_KEY_ID=444444444444", "AWS_SECRET_ACCESS_KEY=local", "AWS_DEFAULT_REGION=ap-southeast-2",
			"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
			"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		var v map[string]any
		if len(bytes.TrimSpace(out)) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("aws %s printed %s", strings.Join(args, " "), out)
			}
		}
		return v
	}
	created := run("create-state-machine", "--name", "cli", "--definition", "file://"+def, "--role-arn", roleArn)
	machine, _ := created["stateMachineArn"].(string)
	if machine != "arn:aws:states:ap-southeast-2:444444444444:stateMachine:cli" {
		t.Fatalf("created %v", created)
	}
	started := run("start-execution", "--state-machine-arn", machine, "--name", "cli-run", "--input", `{"seconds": 2}`)
	arn, _ := started["executionArn"].(string)
	var described map[string]any
	for range 100 {
		described = run("describe-execution", "--execution-arn", arn)
		if described["status"] != "RUNNING" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if described["status"] != "SUCCEEDED" || described["output"] != `{"held":2,"note":"done"}` {
		t.Fatalf("described %v", described)
	}
	history := run("get-execution-history", "--execution-arn", arn, "--reverse-order", "--max-items", "1")
	events, _ := history["events"].([]any)
	if len(events) != 1 || events[0].(map[string]any)["type"] != "ExecutionSucceeded" {
		t.Fatalf("history %v", history)
	}
}
