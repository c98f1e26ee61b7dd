package main

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeCloud answers the AWS calls the commands make, over the wire, from canned replies: a
// reply per operation ("states:DescribeExecution", "cloudformation:DescribeStacks",
// "s3:GET /bucket/key", "lambda:Invoke crossbuild-callback", ...), chosen by a function of
// the request body where one operation must answer differently.
type fakeCloud struct {
	*httptest.Server
	mu      sync.Mutex
	replies map[string]func(body string) reply
	calls   []string
}

type reply struct {
	status int
	body   string
	header map[string]string
}

func ok(body string) func(string) reply {
	return func(string) reply { return reply{status: 200, body: body} }
}

func apiError(status int, code, message string) func(string) reply {
	return func(string) reply {
		return reply{status: status, body: fmt.Sprintf(`{"__type":%q,"message":%q}`, code, message)}
	}
}

func newFakeCloud(t *testing.T, replies map[string]func(string) reply) *fakeCloud {
	t.Helper()
	c := &fakeCloud{replies: replies}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.Close)
	return c
}

func (c *fakeCloud) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	body := string(raw)
	op := ""
	switch target := r.Header.Get("X-Amz-Target"); {
	case strings.HasPrefix(target, "AWSStepFunctions."):
		op = "states:" + strings.TrimPrefix(target, "AWSStepFunctions.")
	case strings.HasPrefix(target, "DynamoDB_20120810."):
		op = "dynamodb:" + strings.TrimPrefix(target, "DynamoDB_20120810.")
	case strings.HasPrefix(target, "AmazonSQS."):
		op = "sqs:" + strings.TrimPrefix(target, "AmazonSQS.")
	case strings.HasPrefix(target, "AWSEvents."):
		op = "events:" + strings.TrimPrefix(target, "AWSEvents.")
	case strings.HasPrefix(r.URL.Path, "/2015-03-31/functions/"):
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/2015-03-31/functions/"), "/invocations")
		op = "lambda:Invoke " + name
	case strings.Contains(body, "Action=DescribeStacks"):
		op = "cloudformation:DescribeStacks"
	default:
		op = "s3:" + r.Method + " " + r.URL.Path
		if r.URL.Query().Get("list-type") == "2" {
			op += "?list " + r.URL.Query().Get("prefix")
		}
	}
	c.mu.Lock()
	c.calls = append(c.calls, op)
	f := c.replies[op]
	c.mu.Unlock()
	if f == nil {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(404)
		fmt.Fprintf(w, `<Error><Code>NoSuchKey</Code><Message>no reply for %s</Message></Error>`, op)
		return
	}
	rep := f(body)
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if strings.HasPrefix(op, "dynamodb:") {
		// DynamoDB's clients check the body against this header.
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(rep.body))), 10))
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

// called lists the operations called, each once, in order.
func (c *fakeCloud) called() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	for _, op := range c.calls {
		if !seen[op] {
			seen[op] = true
			out = append(out, op)
		}
	}
	return out
}

// setAWSEnv gives the SDK static credentials and a Region, and nothing of the machine's.
func setAWSEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "", "AWS_MAX_ATTEMPTS": "1",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_ENDPOINT_URL": "", envEndpoint: "", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
}

// runCLI runs one command line against the fake cloud and returns stdout, stderr and the
// exit code.
func runCLI(t *testing.T, c *fakeCloud, stdin string, args ...string) (string, string, int) {
	t.Helper()
	setAWSEnv(t)
	if c != nil {
		args = append(args, "--endpoint", c.URL)
	}
	root := newRoot()
	root.SetIn(strings.NewReader(stdin))
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := root.ExecuteContext(ctx)
	code := exitOK
	if err != nil {
		var line string
		line, code = explain(err)
		if line != "" {
			fmt.Fprintln(&errOut, "crossbuild: "+line)
		}
	}
	return out.String(), errOut.String(), code
}

// Canned replies of a small deployment with one execution, release-42, of one target.

const (
	smARN    = "arn:aws:states:eu-west-1:111111111111:stateMachine:crossbuild"
	execARN  = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:release-42"
	mrARN    = "arn:aws:states:eu-west-1:111111111111:mapRun:crossbuild/targets:5e7d1c2a-3b4f-4a6e-9c8d-7f1e2d3c4b5a"
	childARN = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild/targets:00000001"
	queueURL = "https://sqs.eu-west-1.amazonaws.com/111111111111/crossbuild-source-CallbackDeadLetters"
	busARN   = "arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild"
	bucket   = "crossbuild-bucket"
)

func stackXML(outputs map[string]string) string {
	keys := make([]string, 0, len(outputs))
	for k := range outputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "<member><OutputKey>%s</OutputKey><OutputValue>%s</OutputValue></member>", k, outputs[k])
	}
	return `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>` +
		`<StackName>crossbuild-source</StackName><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-11-26T08:00:00Z</CreationTime>` +
		`<Outputs>` + b.String() + `</Outputs></member></Stacks></DescribeStacksResult></DescribeStacksResponse>`
}

var allOutputs = map[string]string{
	"StateMachineArn": smARN, "RunsBucketName": bucket, "TokenTableName": "crossbuild-source-TokenTable",
	"EventBusArn": busARN, "DeadLetterQueueUrl": queueURL,
}

const (
	childInput  = `{\"target\":{},\"settings\":{\"arn\":\"arn:aws:iam::222222222222:role/crossbuild-target-role\",\"region\":\"eu-west-1\",\"codeBuildProject\":\"sample-codebuild-project\"},\"problem\":null,\"mapIndex\":0}`
	childOutput = `{\"account\":\"222222222222\",\"region\":\"eu-west-1\",\"project\":\"sample-codebuild-project\",\"buildId\":\"sample-codebuild-project:b1\",\"status\":\"SUCCEEDED\",\"completedBy\":\"event\",\"durationSeconds\":12}`
	resultsDir  = "/" + bucket + "/runs/release-42/results/5e7d1c2a-3b4f-4a6e-9c8d-7f1e2d3c4b5a/"
)

// executionReplies answer for release-42, ended with status (SUCCEEDED or FAILED).
func executionReplies(status string) map[string]func(string) reply {
	parent := fmt.Sprintf(`{"executionArn":%q,"stateMachineArn":%q,"name":"release-42","status":%q,"startDate":1795680000,"stopDate":1795680090,"input":"{}"}`,
		execARN, smARN, status)
	if status == "FAILED" {
		parent = strings.Replace(parent, `"input"`, `"error":"TargetsFailed","cause":"1 of 1 targets failed","input"`, 1)
	}
	child := fmt.Sprintf(`{"executionArn":%q,"stateMachineArn":"%s/targets","name":"00000001","status":"SUCCEEDED","startDate":1795680001,"stopDate":1795680061,"input":"%s","output":"%s"}`,
		childARN, smARN, childInput, childOutput)
	succeeded := `[{"ExecutionArn":"` + childARN + `","Input":"` + childInput + `","Output":"` + childOutput + `","Status":"SUCCEEDED"}]`
	return map[string]func(string) reply{
		"cloudformation:DescribeStacks": ok(stackXML(allOutputs)),
		"states:StartExecution":         ok(fmt.Sprintf(`{"executionArn":%q,"startDate":1795680000}`, execARN)),
		"states:DescribeExecution": func(body string) reply {
			if strings.Contains(body, childARN) {
				return reply{status: 200, body: child}
			}
			return reply{status: 200, body: parent}
		},
		"states:ListMapRuns": ok(fmt.Sprintf(`{"mapRuns":[{"executionArn":%q,"mapRunArn":%q,"stateMachineArn":"%s/targets","startDate":1795680001}]}`, execARN, mrARN, smARN)),
		"states:DescribeMapRun": ok(fmt.Sprintf(`{"mapRunArn":%q,"executionArn":%q,"status":"SUCCEEDED","startDate":1795680001,"itemCounts":{"total":1,"succeeded":1,"pending":0,"running":0,"failed":0,"timedOut":0,"aborted":0,"resultsWritten":1}}`,
			mrARN, execARN)),
		"states:ListExecutions": ok(fmt.Sprintf(`{"executions":[{"executionArn":%q,"stateMachineArn":"%s/targets","name":"00000001","status":"SUCCEEDED","startDate":1795680001,"stopDate":1795680061}]}`,
			childARN, smARN)),
		"dynamodb:Query": ok(`{"Count":1,"ScannedCount":1,"Items":[{"buildArn":{"S":"arn:aws:codebuild:eu-west-1:222222222222:build/sample-codebuild-project:b1"},` +
			`"buildId":{"S":"sample-codebuild-project:b1"},"executionArn":{"S":"` + execARN + `"},"mapIndex":{"N":"0"},"account":{"S":"222222222222"},` +
			`"region":{"S":"eu-west-1"},"project":{"S":"sample-codebuild-project"},"state":{"S":"COMPLETED"},"completedBy":{"S":"event"}}]}`),
		"s3:GET /" + bucket + "?list runs/release-42/results/": ok(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
			`<Name>` + bucket + `</Name><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>` +
			`<Contents><Key>` + strings.TrimPrefix(resultsDir, "/"+bucket+"/") + `manifest.json</Key><LastModified>2026-11-26T08:01:30.000Z</LastModified><Size>10</Size></Contents>` +
			`</ListBucketResult>`),
		"s3:GET " + resultsDir + "manifest.json": ok(`{"DestinationBucket":"` + bucket + `","MapRunArn":"` + mrARN + `","ResultFiles":{"SUCCEEDED":[{"Key":"` +
			strings.TrimPrefix(resultsDir, "/"+bucket+"/") + `SUCCEEDED_0.json","Size":1}]}}`),
		"s3:GET " + resultsDir + "SUCCEEDED_0.json":         ok(succeeded),
		"s3:GET /" + bucket + "/runs/release-42/items.json": ok(`[{"target":{},"settings":{"arn":"arn:aws:iam::222222222222:role/crossbuild-target-role","region":"eu-west-1","codeBuildProject":"sample-codebuild-project"},"problem":null}]`),
	}
}

func with(base map[string]func(string) reply, more map[string]func(string) reply) map[string]func(string) reply {
	out := map[string]func(string) reply{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}
