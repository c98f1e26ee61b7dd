package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/crossbuild/crossbuild/infra/config"
)

// served is a crossbuild-local serve process and what it printed.
type served struct {
	cmd      *exec.Cmd
	exports  map[string]string
	targets  map[string][2]string // account -> access key id, secret of its administrator
	stderr   *syncBuffer
	done     chan error
	endpoint string
}

// TestServe runs `crossbuild-local serve` as a user would and drives it from outside, as a
// user's own tools would: with the exports it prints, the AWS SDK makes the calls
// docs/local.md shows with the AWS CLI, and the crossbuild command (built from this tree)
// runs an execution with --watch, which shows live progress and ends with the results, then
// status, results, stop, replay and redrive-dlq. SIGINT then stops everything: serve exits 0
// and no process it started is left (this test adopts orphans, so none can hide).
func TestServe(t *testing.T) {
	needRuntime(t)
	if err := setSubreaper(true); err != nil {
		t.Skipf("cannot watch for orphaned processes: %v", err)
	}
	t.Cleanup(func() { _ = setSubreaper(false) })

	bin := buildCommands(t)
	s := startServe(t, bin)
	env := s.clientEnv(t)
	ctx := t.Context()

	t.Run("the AWS SDK with the exports", func(t *testing.T) {
		for k, v := range env {
			t.Setenv(k, v)
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || aws.ToString(id.Account) != sourceAccount {
			t.Fatalf("GetCallerIdentity = %v, %v", id, err)
		}
		stacks, err := cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(config.SourceStackName)})
		if err != nil || len(stacks.Stacks) != 1 {
			t.Fatalf("DescribeStacks = %v, %v", stacks, err)
		}
		outputs := map[string]string{}
		for _, o := range stacks.Stacks[0].Outputs {
			outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
		for _, k := range []string{config.StateMachineOutput, config.RunsBucketOutput, config.TokenTableOutput, config.EventBusOutput, config.DeadLetterQueueOutput} {
			if outputs[k] == "" {
				t.Errorf("no output %s: %v", k, outputs)
			}
		}
		machines, err := sfn.NewFromConfig(cfg).ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
		if err != nil || len(machines.StateMachines) == 0 || aws.ToString(machines.StateMachines[0].StateMachineArn) != outputs[config.StateMachineOutput] {
			t.Fatalf("ListStateMachines = %+v, %v", machines, err)
		}
		if _, err := s3.NewFromConfig(cfg).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(outputs[config.RunsBucketOutput])}); err != nil {
			t.Fatalf("ListObjectsV2: %v", err)
		}
		archives, err := eventbridge.NewFromConfig(cfg).ListArchives(ctx, &eventbridge.ListArchivesInput{EventSourceArn: aws.String(outputs[config.EventBusOutput])})
		if err != nil || len(archives.Archives) != 1 {
			t.Fatalf("ListArchives = %+v, %v", archives, err)
		}
		// An execution started and followed with the SDK alone.
		raw, _ := json.Marshal(map[string]any{"crossAccountTargetRoleArns": defaultTargets(t)[:1]})
		sf := sfn.NewFromConfig(cfg)
		started, err := sf.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(outputs[config.StateMachineOutput]),
			Name: aws.String("sdk-1"), Input: aws.String(string(raw))})
		if err != nil {
			t.Fatal(err)
		}
		if err := poll(2*time.Minute, func() (bool, error) {
			d, err := sf.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: started.ExecutionArn})
			if err != nil || d.Status == "RUNNING" {
				return false, err
			}
			if d.Status != "SUCCEEDED" {
				return false, fmt.Errorf("sdk-1 ended %s: %s", d.Status, aws.ToString(d.Cause))
			}
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		attrs, err := sqs.NewFromConfig(cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(outputs[config.DeadLetterQueueOutput]),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil || attrs.Attributes["ApproximateNumberOfMessages"] != "0" {
			t.Fatalf("GetQueueAttributes = %+v, %v", attrs, err)
		}
	})

	input := filepath.Join(t.TempDir(), "input.json")
	raw, err := json.Marshal(map[string]any{"crossAccountTargetRoleArns": defaultTargets(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(input, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("run --watch", func(t *testing.T) {
		out, code := runCrossbuild(t, bin, env, "run", "--input", input, "--name", "served-1", "--watch", "--progress", "live", "--interval", "200ms", "--rows", "40")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		frames := strings.Count(out, "\x1b[J")
		for _, want := range []string{"started ", "#  TARGET", "222222222222 eu-west-1 sample-codebuild-project", "COMPLETED BY",
			"3 targets: 3 SUCCEEDED; results in s3://", "execution served-1 SUCCEEDED after"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in the output:\n%s", want, out)
			}
		}
		// Live: frames redrawn in place, and at least one showed a build under way.
		if frames < 2 || !strings.Contains(out, "\x1b[") || !(strings.Contains(out, "building") || strings.Contains(out, "starting")) {
			t.Errorf("%d frames, no progress shown:\n%s", frames, out)
		}
		// It ends with the results: every target succeeded, completed by its events.
		final := out[strings.LastIndex(out, "\x1b[J"):]
		if n := len(regexp.MustCompile(`(?m)^\d\s+\d{12}\s+\S+\s+sample-codebuild-project\s+SUCCEEDED\s+event\s`).FindAllString(final, -1)); n != 3 {
			t.Errorf("%d results completed by event after the last frame:\n%s", n, final)
		}
		t.Logf("crossbuild run --watch:\n%s", out)
	})

	t.Run("status", func(t *testing.T) {
		out, code := runCrossbuild(t, bin, env, "status", "served-1", "--json")
		var doc struct {
			Status  string
			Targets []struct{ Status, Phase, CompletedBy string }
		}
		if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil {
			t.Fatalf("exit %d, %v:\n%s", code, err, out)
		}
		if doc.Status != "SUCCEEDED" || len(doc.Targets) != 3 {
			t.Fatalf("%s", out)
		}
		for _, tg := range doc.Targets {
			if tg.Status != "SUCCEEDED" || tg.Phase != "done" || tg.CompletedBy != "event" {
				t.Errorf("target %+v", tg)
			}
		}
	})

	t.Run("results", func(t *testing.T) {
		out, code := runCrossbuild(t, bin, env, "results", "served-1", "--csv")
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if code != 0 || err != nil || len(rows) != 4 {
			t.Fatalf("exit %d, %v:\n%s", code, err, out)
		}
		for i, r := range rows[1:] {
			if r[0] != fmt.Sprint(i) || r[4] != "SUCCEEDED" || r[5] != "event" || !strings.HasPrefix(r[6], "sample-codebuild-project:") {
				t.Errorf("row %q", r)
			}
		}
	})

	t.Run("stop", func(t *testing.T) {
		// Polled every hour, the target keeps its execution running long after its build.
		slow := filepath.Join(t.TempDir(), "slow.json")
		tg := defaultTargets(t)[0]
		tg["completion"], tg["pollIntervalSeconds"] = "poll", 3600
		raw, _ := json.Marshal(map[string]any{"crossAccountTargetRoleArns": []any{tg}})
		if err := os.WriteFile(slow, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, code := runCrossbuild(t, bin, env, "run", "--input", slow, "--name", "served-2"); code != 0 {
			t.Fatalf("run: exit %d:\n%s", code, out)
		}
		out, code := runCrossbuild(t, bin, env, "stop", "served-2")
		if code != 0 || !strings.Contains(out, "stopped arn:aws:states:eu-west-1:111111111111:execution:crossbuild:served-2; the canceller stops") {
			t.Fatalf("stop: exit %d:\n%s", code, out)
		}
		out, code = runCrossbuild(t, bin, env, "status", "served-2")
		if code != 0 || !strings.Contains(out, "execution served-2  ABORTED") {
			t.Fatalf("status: exit %d:\n%s", code, out)
		}
		if out, code = runCrossbuild(t, bin, env, "stop", "served-2"); code != 0 || !strings.Contains(out, "already ended ABORTED") {
			t.Fatalf("stop again: exit %d:\n%s", code, out)
		}
	})

	t.Run("replay", func(t *testing.T) {
		// The archive holds the terminal events of served-1's builds; replayed, they find
		// their tasks completed and change nothing.
		out, code := runCrossbuild(t, bin, env, "replay", "--from", "30m", "--to", "now", "--name", "served-replay")
		if code != 0 || !strings.Contains(out, "replay served-replay COMPLETED, last event replayed from") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})

	t.Run("redrive-dlq", func(t *testing.T) {
		out, code := runCrossbuild(t, bin, env, "redrive-dlq")
		if code != 0 || !strings.Contains(out, "is empty") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})

	t.Run("doctor", func(t *testing.T) {
		if len(s.targets) != 2 {
			t.Fatalf("keys of %d target accounts printed, want 2: %v", len(s.targets), s.targets)
		}
		args := []string{"doctor", "--context-file", filepath.Join(moduleRoot(t), "infra", "cdk.json")}
		for account := range s.targets {
			args = append(args, "--target-profile", account+"=target-"+account)
		}
		out, code := runCrossbuild(t, bin, env, args...)
		if code != 0 || strings.Contains(out, "FAIL") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})

	s.interrupt(t)
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// buildCommands builds crossbuild and crossbuild-local from this tree into a folder of
// the test's own.
func buildCommands(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator), "./cmd/crossbuild", "./local/cmd/crossbuild-local")
	cmd.Dir = moduleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServe starts crossbuild-local serve and reads its exports up to the ready line.
func startServe(t *testing.T, bin string) *served {
	t.Helper()
	logs := filepath.Join(t.ArtifactDir(), "serve")
	s := &served{stderr: &syncBuffer{}, done: make(chan error, 1), exports: map[string]string{}, targets: map[string][2]string{}}
	s.cmd = exec.Command(filepath.Join(bin, "crossbuild-local"), "serve", "-assembly", prereq.assembly, "-functions", prereq.functions,
		"-rie", prereq.rie, "-logs", logs, "-phase-delay", "300ms")
	s.cmd.Stderr = s.stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Only when the test failed before it interrupted serve.
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("serve's stderr:\n%s", tail(s.stderr.String(), 4000))
			dumpLogs(t, logs)
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		s.done <- s.cmd.Wait()
	}()
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve ended before it was ready:\n%s", s.stderr.String())
			}
			if k, v, found := strings.Cut(strings.TrimPrefix(l, "export "), "="); found && strings.HasPrefix(l, "export ") {
				s.exports[k] = v
			}
			// "#   <account>: AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=..."
			if account, rest, found := strings.Cut(strings.TrimPrefix(l, "#   "), ": "); found && strings.HasPrefix(l, "#   ") {
				f := strings.Fields(rest)
				if len(f) == 2 {
					s.targets[account] = [2]string{strings.TrimPrefix(f[0], "AWS_ACCESS_KEY_ID="), strings.TrimPrefix(f[1], "AWS_SECRET_ACCESS_KEY=")}
				}
			}
			if l == "# ready" {
				s.endpoint = s.exports["AWS_ENDPOINT_URL"]
				// The rest of stdout is drained so serve never blocks on it.
				go func() {
					for range lines {
					}
				}()
				return s
			}
		case <-deadline.C:
			t.Fatalf("serve not ready within %s:\n%s", startTimeout, s.stderr.String())
		}
	}
}

// clientEnv is what a user's shell has after pasting the exports: the exports, and none of
// this machine's AWS settings.
func (s *served) clientEnv(t *testing.T) map[string]string {
	t.Helper()
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
		if s.exports[k] == "" {
			t.Fatalf("serve exported no %s: %v", k, s.exports)
		}
	}
	// A profile per target account, as an operator keeps them, from the keys serve printed.
	dir := t.TempDir()
	var profiles strings.Builder
	for account, k := range s.targets {
		fmt.Fprintf(&profiles, "[target-%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", account, k[0], k[1])
	}
	if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte(profiles.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "CROSSBUILD_ENDPOINT": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true"}
	for k, v := range s.exports {
		env[k] = v
	}
	return env
}

// runCrossbuild runs the crossbuild binary with env over this process's environment and
// returns its combined output and exit code.
func runCrossbuild(t *testing.T, bin string, env map[string]string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "crossbuild"), args...)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	case err != nil:
		t.Fatalf("crossbuild %v: %v", args, err)
	}
	return string(out), 0
}

// interrupt sends SIGINT to serve alone (as kill -INT does; Ctrl-C would signal its whole
// process group) and checks that it exits 0 and leaves no process behind.
func (s *served) interrupt(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve ended with %v after SIGINT:\n%s", err, s.stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("serve still runs a minute after SIGINT:\n%s", s.stderr.String())
	}
	if !strings.Contains(s.stderr.String(), "stopping everything") {
		t.Errorf("serve did not say it stopped:\n%s", s.stderr.String())
	}
	// Adopted orphans would be our children; the functions carry the endpoint.
	if left := waitChildrenGone(10 * time.Second); len(left) > 0 {
		t.Errorf("processes left after serve exited: %v", processNames(left))
	}
	if left := waitGone(func() []int { return withEnv("AWS_ENDPOINT_URL=" + s.endpoint) }, 10*time.Second); len(left) > 0 {
		t.Errorf("function processes left after serve exited: %v", processNames(left))
	}
}

// syncBuffer is a buffer a process writes to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// processNames names processes by their command lines.
func processNames(pids []int) []string {
	var out []string
	for _, pid := range pids {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(cmd), "\x00", " ")))
	}
	return out
}
