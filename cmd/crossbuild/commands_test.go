package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cliCase is one command line against the fake cloud.
type cliCase struct {
	name    string
	args    []string
	stdin   string
	replies map[string]func(string) reply
	code    int
	stdout  []string // substrings
	stderr  []string // substrings
	calls   []string // operations that must have been called
	nocalls []string // and that must not
	check   func(t *testing.T, stdout string)
}

func (tt cliCase) run(t *testing.T) {
	t.Helper()
	c := newFakeCloud(t, tt.replies)
	out, errOut, code := runCLI(t, c, tt.stdin, tt.args...)
	if code != tt.code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s\ncalls: %v", code, tt.code, out, errOut, c.called())
	}
	for _, want := range tt.stdout {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for _, want := range tt.stderr {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Errorf("stderr is more than one line:\n%s", errOut)
	}
	called := strings.Join(c.called(), "\n")
	for _, op := range tt.calls {
		if !strings.Contains(called, op) {
			t.Errorf("%s not called; calls:\n%s", op, called)
		}
	}
	for _, op := range tt.nocalls {
		if strings.Contains(called, op) {
			t.Errorf("%s called; calls:\n%s", op, called)
		}
	}
	if tt.check != nil {
		tt.check(t, out)
	}
}

func writeInput(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRun(t *testing.T) {
	input := writeInput(t, `{"crossAccountTargetRoleArns":[{"arn":"arn:aws:iam::222222222222:role/crossbuild-target-role","region":"eu-west-1","codeBuildProject":"sample-codebuild-project"}]}`)
	for _, tt := range []cliCase{
		{name: "start", args: []string{"run", "--input", input, "--name", "release-42"}, replies: executionReplies("SUCCEEDED"),
			stdout: []string{"started " + execARN, "crossbuild watch release-42"}, calls: []string{"cloudformation:DescribeStacks", "states:StartExecution"},
			nocalls: []string{"states:DescribeExecution"}},
		{name: "input from stdin", args: []string{"run", "--input", "-"}, stdin: `{"crossAccountTargetRoleArns":[]}`, replies: executionReplies("SUCCEEDED"),
			stdout: []string{"started " + execARN}},
		{name: "start and watch to the results", args: []string{"run", "--input", input, "--watch", "--interval", "1ms", "--progress", "lines"},
			replies: executionReplies("SUCCEEDED"),
			stdout: []string{"#0 222222222222 eu-west-1 sample-codebuild-project: SUCCEEDED done after 1m0s, completed by event",
				"sample-codebuild-project:b1", "1 target: 1 SUCCEEDED; results in s3://" + bucket, "execution release-42 SUCCEEDED after 1m30s"},
			calls: []string{"states:ListMapRuns", "states:DescribeMapRun", "states:ListExecutions", "dynamodb:Query", "manifest.json"}},
		{name: "watched live", args: []string{"run", "--input", input, "--watch", "--interval", "1ms", "--progress", "live"},
			replies: executionReplies("SUCCEEDED"), stdout: []string{"#  TARGET", "\x1b[K", "execution release-42 SUCCEEDED"}},
		{name: "a failed execution exits 1", args: []string{"run", "--input", input, "--watch", "--interval", "1ms", "--progress", "lines"},
			replies: executionReplies("FAILED"), code: exitFailed, stdout: []string{"execution release-42 FAILED after 1m30s: TargetsFailed: 1 of 1 targets failed"}},
		{name: "not JSON: nothing is sent", args: []string{"run", "--input", writeInput(t, `{"crossAccount`)}, replies: executionReplies("SUCCEEDED"),
			code: exitUsage, stderr: []string{"execution input: not a JSON object: fix: give {"}, nocalls: []string{"states:StartExecution", "cloudformation"}},
		{name: "no input file", args: []string{"run", "--input", "/nonexistent/input.json"}, code: exitUsage,
			stderr: []string{"--input: open /nonexistent/input.json", "fix: see crossbuild run --help"}},
		{name: "no --input", args: []string{"run"}, code: exitUsage, stderr: []string{"--input is required: fix: see crossbuild run --help"}},
		{name: "a stack of an older version", args: []string{"run", "--input", input},
			replies: map[string]func(string) reply{"cloudformation:DescribeStacks": ok(stackXML(map[string]string{"RunsBucketName": bucket}))},
			code:    exitAWS, stderr: []string{"stack crossbuild-source has no output StateMachineArn: fix: redeploy the source stack"}},
		{name: "a refused start", args: []string{"run", "--input", input, "--name", "release-42"},
			replies: with(executionReplies("SUCCEEDED"), map[string]func(string) reply{"states:StartExecution": apiError(400, "ExecutionAlreadyExists", "Execution Already Exists")}),
			code:    exitAWS, stderr: []string{"SFN StartExecution: ExecutionAlreadyExists: Execution Already Exists: fix: choose another --name"}},
	} {
		t.Run(tt.name, tt.run)
	}
}

func TestWatch(t *testing.T) {
	for _, tt := range []cliCase{
		{name: "by name", args: []string{"watch", "release-42", "--interval", "1ms", "--progress", "lines"}, replies: executionReplies("SUCCEEDED"),
			stdout: []string{"watching " + execARN, "execution release-42 SUCCEEDED"}},
		{name: "by ARN, without reading the stack for it", args: []string{"watch", execARN, "--interval", "1ms", "--progress", "lines", "--bucket", bucket, "--table", "t"},
			replies: executionReplies("SUCCEEDED"), stdout: []string{"execution release-42 SUCCEEDED"}, nocalls: []string{"cloudformation"}},
		{name: "a failed execution", args: []string{"watch", "release-42", "--interval", "1ms", "--progress", "lines"}, replies: executionReplies("FAILED"),
			code: exitFailed, stdout: []string{"FAILED after 1m30s: TargetsFailed"}},
		{name: "no such execution", args: []string{"watch", "nope", "--progress", "lines"},
			replies: with(executionReplies("SUCCEEDED"), map[string]func(string) reply{"states:DescribeExecution": apiError(400, "ExecutionDoesNotExist", "Execution Does Not Exist: 'arn'")}),
			code:    exitAWS, stderr: []string{"SFN DescribeExecution: ExecutionDoesNotExist", "fix: check the execution's name or ARN"}},
		{name: "not a name", args: []string{"watch", "a b"}, code: exitUsage, stderr: []string{`"a b" is not an execution name or ARN`}},
		{name: "a bad --progress", args: []string{"watch", "x", "--progress", "fancy"}, code: exitUsage, stderr: []string{`--progress "fancy"`}},
		{name: "no argument", args: []string{"watch"}, code: exitUsage, stderr: []string{"want 1 argument(s): [EXECUTION], got 0"}},
	} {
		t.Run(tt.name, tt.run)
	}
}

func TestStatus(t *testing.T) {
	for _, tt := range []cliCase{
		{name: "a table", args: []string{"status", "release-42"}, replies: executionReplies("SUCCEEDED"),
			stdout: []string{"execution release-42  SUCCEEDED  1m30s", "1 target: succeeded 1", "0  222222222222 eu-west-1 sample-codebuild-project  SUCCEEDED  done"}},
		{name: "json", args: []string{"status", "release-42", "--json"}, replies: executionReplies("FAILED"), check: func(t *testing.T, out string) {
			var doc struct {
				Status  string
				Counts  struct{ Total, Succeeded int }
				Targets []struct {
					MapIndex            int
					Status, CompletedBy string
				}
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("%v:\n%s", err, out)
			}
			if doc.Status != "FAILED" || doc.Counts.Total != 1 || len(doc.Targets) != 1 || doc.Targets[0].CompletedBy != "event" {
				t.Errorf("%+v", doc)
			}
		}},
		{name: "a large run is counted", args: []string{"status", "release-42", "--rows", "0"}, replies: with(executionReplies("SUCCEEDED"),
			map[string]func(string) reply{"states:DescribeMapRun": ok(`{"itemCounts":{"total":500,"succeeded":200,"running":10,"pending":290}}`)}),
			stdout: []string{"[############..................]  40% 200/500", "500 targets: pending 290, running 10, succeeded 200"}, nocalls: []string{"states:ListExecutions"}},
		{name: "access denied", args: []string{"status", "release-42"}, replies: with(executionReplies("SUCCEEDED"),
			map[string]func(string) reply{"states:DescribeExecution": apiError(400, "AccessDeniedException", "not authorized")}),
			code: exitAWS, stderr: []string{"AccessDeniedException: not authorized: fix: your identity lacks this permission: docs/cli.md"}},
	} {
		t.Run(tt.name, tt.run)
	}
}

func TestResults(t *testing.T) {
	for _, tt := range []cliCase{
		{name: "a table", args: []string{"results", "release-42"}, replies: executionReplies("SUCCEEDED"),
			stdout: []string{"COMPLETED BY", "sample-codebuild-project:b1", "1 target: 1 SUCCEEDED"}, nocalls: []string{"states:"}},
		{name: "csv", args: []string{"results", "release-42", "--csv"}, replies: executionReplies("SUCCEEDED"), check: func(t *testing.T, out string) {
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(rows) != 2 || rows[1][0] != "0" || rows[1][4] != "SUCCEEDED" || rows[1][5] != "event" {
				t.Errorf("%v %q", err, rows)
			}
		}},
		{name: "json", args: []string{"results", "release-42", "--json"}, replies: executionReplies("SUCCEEDED"), check: func(t *testing.T, out string) {
			var arr []map[string]any
			if err := json.Unmarshal([]byte(out), &arr); err != nil || len(arr) != 1 || arr[0]["mapIndex"] != 0.0 || arr[0]["buildId"] != "sample-codebuild-project:b1" {
				t.Errorf("%v %v", err, arr)
			}
		}},
		{name: "both formats", args: []string{"results", "release-42", "--json", "--csv"}, code: exitUsage, stderr: []string{"--json and --csv: choose one"}},
		{name: "none written", args: []string{"results", "other"}, replies: with(executionReplies("SUCCEEDED"), map[string]func(string) reply{
			"s3:GET /" + bucket + "?list runs/other/results/": ok(`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>false</IsTruncated></ListBucketResult>`)}),
			code: exitAWS, stderr: []string{"no results under s3://" + bucket + "/runs/other/results/: fix: results are written when"}},
	} {
		t.Run(tt.name, tt.run)
	}
}

func TestStop(t *testing.T) {
	running := with(executionReplies("SUCCEEDED"), map[string]func(string) reply{
		"states:DescribeExecution": ok(`{"executionArn":"` + execARN + `","status":"RUNNING","startDate":1795680000}`),
		"states:StopExecution":     ok(`{"stopDate":1795680100}`),
		"dynamodb:Query":           ok(`{"Items":[{"buildArn":{"S":"arn:aws:codebuild:eu-west-1:222222222222:build/p:1"},"state":{"S":"WAITING"},"mapIndex":{"N":"0"}}]}`),
	})
	for _, tt := range []cliCase{
		{name: "a running execution", args: []string{"stop", "release-42"}, replies: running,
			stdout: []string{"stopped " + execARN + "; the canceller stops its 1 running build(s)"}, calls: []string{"states:StopExecution"}},
		{name: "already ended", args: []string{"stop", "release-42"}, replies: executionReplies("SUCCEEDED"),
			stdout: []string{"already ended SUCCEEDED: nothing to stop"}, nocalls: []string{"states:StopExecution"}},
	} {
		t.Run(tt.name, tt.run)
	}
}

func TestReplay(t *testing.T) {
	replies := map[string]func(string) reply{
		"cloudformation:DescribeStacks": ok(stackXML(allOutputs)),
		"events:ListArchives":           ok(`{"Archives":[{"ArchiveName":"crossbuild-archive","EventSourceArn":"` + busARN + `","State":"ENABLED"}]}`),
		"events:StartReplay": func(body string) reply {
			if !strings.Contains(body, `"EventSourceArn":"arn:aws:events:eu-west-1:111111111111:archive/crossbuild-archive"`) ||
				!strings.Contains(body, `"Destination":{"Arn":"`+busARN+`"}`) {
				return reply{status: 400, body: `{"__type":"ValidationException","message":"wrong request ` + strings.ReplaceAll(body, `"`, `'`) + `"}`}
			}
			return reply{status: 200, body: `{"State":"STARTING"}`}
		},
		"events:DescribeReplay": ok(`{"State":"COMPLETED","EventLastReplayedTime":1795680000}`),
	}
	for _, tt := range []cliCase{
		{name: "a window", args: []string{"replay", "--from", "2026-11-26T08:00:00Z", "--to", "2026-11-26T09:00:00Z", "--name", "r1"}, replies: replies,
			stdout: []string{"replay r1: events of arn:aws:events:eu-west-1:111111111111:archive/crossbuild-archive from 2026-11-26T08:00:00Z to 2026-11-26T09:00:00Z", "replay r1 COMPLETED"}},
		{name: "without waiting", args: []string{"replay", "--from", "2h", "--no-wait"}, replies: replies, stdout: []string{"STARTING"}, nocalls: []string{"events:DescribeReplay"}},
		{name: "a failed replay", args: []string{"replay", "--from", "2h"},
			replies: with(replies, map[string]func(string) reply{"events:DescribeReplay": ok(`{"State":"FAILED","StateReason":"archive gone"}`)}),
			code:    exitFailed, stdout: []string{"FAILED: archive gone"}},
		{name: "a bad time", args: []string{"replay", "--from", "yesterday"}, code: exitUsage, stderr: []string{`time "yesterday": fix: give an RFC 3339 time`}},
		{name: "no --from", args: []string{"replay"}, code: exitUsage, stderr: []string{"--from is required"}},
	} {
		t.Run(tt.name, tt.run)
	}
}

func TestRedriveDLQ(t *testing.T) {
	event := `{"version":"0","id":"e1","detail-type":"CodeBuild Build State Change","source":"aws.codebuild","account":"222222222222","time":"2026-11-26T08:00:00Z","region":"eu-west-1","resources":[],"detail":{"build-id":"arn:aws:codebuild:eu-west-1:222222222222:build/p:1","build-status":"SUCCEEDED"}}`
	msg, _ := json.Marshal(map[string]any{"Messages": []map[string]any{{"MessageId": "m1", "ReceiptHandle": "rh1", "Body": event,
		"MessageAttributes": map[string]any{"TARGET_ARN": map[string]string{"DataType": "String", "StringValue": "arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-callback"}}}}})
	base := func() map[string]func(string) reply {
		received := false
		return map[string]func(string) reply{
			"cloudformation:DescribeStacks": ok(stackXML(allOutputs)),
			"sqs:ReceiveMessage": func(string) reply {
				// The message comes once; then the queue is empty.
				if received {
					return reply{status: 200, body: `{}`}
				}
				received = true
				return reply{status: 200, body: string(msg)}
			},
			"sqs:DeleteMessage": ok(`{}`),
			"lambda:Invoke arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-callback": ok(`null`),
		}
	}
	for _, tt := range []cliCase{
		{name: "redriven", args: []string{"redrive-dlq"}, replies: base(),
			stdout: []string{"CodeBuild Build State Change arn:aws:codebuild:eu-west-1:222222222222:build/p:1", "redriven", "1 redriven, 0 left"},
			calls:  []string{"sqs:DeleteMessage"}},
		{name: "a dry run", args: []string{"redrive-dlq", "--dry-run"}, replies: base(), stdout: []string{"would be redriven", "nothing was changed"},
			nocalls: []string{"lambda:", "sqs:DeleteMessage"}},
		{name: "the function fails", args: []string{"redrive-dlq"}, replies: with(base(), map[string]func(string) reply{
			"lambda:Invoke arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-callback": func(string) reply {
				return reply{status: 200, body: `{"errorType":"TransientError"}`, header: map[string]string{"X-Amz-Function-Error": "Unhandled"}}
			}}), code: exitFailed, stdout: []string{"left: arn:aws:lambda:eu-west-1:111111111111:function:crossbuild-callback failed (Unhandled)", "0 redriven, 1 left"},
			nocalls: []string{"sqs:DeleteMessage"}},
		{name: "an empty queue", args: []string{"redrive-dlq"}, replies: with(base(), map[string]func(string) reply{"sqs:ReceiveMessage": ok(`{}`)}),
			stdout: []string{"the dead-letter queue " + queueURL + " is empty"}},
	} {
		t.Run(tt.name, tt.run)
	}
}

// TestEnvironmentErrors: what goes wrong before AWS answers is one line with its fix.
func TestEnvironmentErrors(t *testing.T) {
	t.Run("nothing listens at the endpoint", func(t *testing.T) {
		_, errOut, code := runCLI(t, nil, "", "status", "release-42", "--endpoint", "http://127.0.0.1:1")
		if code != exitAWS || !strings.Contains(errOut, "fix: nothing answers there: start crossbuild-local serve") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
	t.Run("no Region", func(t *testing.T) {
		setAWSEnv(t)
		t.Setenv("AWS_REGION", "")
		root := newRoot()
		root.SetArgs([]string{"status", "release-42", "--endpoint", "http://127.0.0.1:1"})
		line, code := explain(root.Execute())
		if code != exitAWS || line != "no AWS Region: fix: pass --region or set AWS_REGION to the source stack's Region" {
			t.Fatalf("exit %d: %s", code, line)
		}
	})
	t.Run("an unknown command", func(t *testing.T) {
		_, errOut, code := runCLI(t, nil, "", "stauts", "release-42")
		if code != exitUsage || strings.TrimSpace(errOut) != `crossbuild: unknown command "stauts" (did you mean status?): fix: see crossbuild --help` {
			t.Fatalf("exit %d: %q", code, errOut)
		}
	})
	t.Run("an unknown flag", func(t *testing.T) {
		_, errOut, code := runCLI(t, nil, "", "status", "release-42", "--colour")
		if code != exitUsage || !strings.Contains(errOut, "unknown flag: --colour: fix: see crossbuild status --help") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
}

// TestHelp: every command explains itself.
func TestHelp(t *testing.T) {
	for _, cmd := range []string{"run", "watch", "status", "results", "stop", "replay", "redrive-dlq", "doctor"} {
		out, errOut, code := runCLI(t, nil, "", cmd, "--help")
		if code != exitOK || !strings.Contains(out, "Usage:") || !strings.Contains(out, "--endpoint") || errOut != "" {
			t.Errorf("%s --help: exit %d\n%s%s", cmd, code, out, errOut)
		}
	}
}
