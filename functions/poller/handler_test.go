package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"reflect"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/crossbuild/crossbuild/internal/awstest"
	"github.com/crossbuild/crossbuild/internal/completion"
	"github.com/crossbuild/crossbuild/internal/contract"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

const (
	testBuildID = "sample-codebuild-project:0f8c3b4e-7d2a-4c1b-9e55-2a6d1f3c8b90"
	testExec    = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"
	testRole    = "arn:aws:iam::222222222222:role/crossbuild-target"
)

func record() tokenstore.Record {
	return tokenstore.Record{
		BuildARN: testfixtures.BuildARN, BuildID: testBuildID, TaskToken: "tok", ExecutionARN: testExec, MapIndex: 3,
		Account: "222222222222", Region: "eu-west-1", Project: "sample-codebuild-project", RoleARN: testRole,
		Completion: "event", EnvOverrides: []string{"HARDCODED_VAR1", "SAMPLE_VAR1"}, State: tokenstore.Waiting,
	}
}

type fakeStore struct {
	mu        sync.Mutex
	recs      []tokenstore.Record
	completed []string
	getErr    error
}

func (f *fakeStore) find(match func(tokenstore.Record) bool, key string) (tokenstore.Record, error) {
	if f.getErr != nil {
		return tokenstore.Record{}, f.getErr
	}
	for _, r := range f.recs {
		if match(r) {
			return r, nil
		}
	}
	return tokenstore.Record{}, &tokenstore.NotFoundError{Key: key}
}

func (f *fakeStore) Get(_ context.Context, arn string) (tokenstore.Record, error) {
	return f.find(func(r tokenstore.Record) bool { return r.BuildARN == arn }, arn)
}

func (f *fakeStore) FindByExecution(_ context.Context, exec string, idx int) (tokenstore.Record, error) {
	return f.find(func(r tokenstore.Record) bool {
		return r.ExecutionARN == exec && r.MapIndex == idx && r.State != tokenstore.Parked
	}, exec)
}

func (f *fakeStore) Complete(_ context.Context, arn, by string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completed = append(f.completed, arn+"|"+by)
	return nil
}

type staticRoles struct{ err error }

func (s staticRoles) Credentials(context.Context, string, string) (aws.CredentialsProvider, error) {
	if s.err != nil {
		return nil, s.err
	}
	return credentials.NewStaticCredentialsProvider("ASIA", "s", "t"), nil
}

func reply(t testing.TB, file string) awstest.Reply {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return awstest.JSON(200, string(raw))
}

func newHandler(t testing.TB, store *fakeStore, srvURL string) *Handler {
	t.Helper()
	allow, err := target.NewAllowList([]string{"222222222222"}, []string{"eu-west-1"}, []string{"arn:aws:iam::222222222222:role/crossbuild-*"})
	if err != nil {
		t.Fatal(err)
	}
	return &Handler{
		Allow: allow, Roles: staticRoles{}, Store: store, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		DefaultPollInterval: 20,
		MaxPollInterval:     900,
		CodeBuild: func(region string, creds aws.CredentialsProvider) CodeBuildAPI {
			return codebuild.NewFromConfig(awstest.Config(srvURL, 1), func(o *codebuild.Options) {
				o.Region = region
				o.Credentials = creds
			})
		},
	}
}

func TestHandleWire(t *testing.T) {
	byARN := `{"buildArn":"` + testfixtures.BuildARN + `"}`
	cases := []struct {
		name         string
		request      string
		reply        string
		status       string
		terminal     bool
		errName      string
		wantComplete bool
	}{
		{"running", byARN, "batchgetbuilds-in-progress.json", "IN_PROGRESS", false, "", false},
		{"succeeded", byARN, "batchgetbuilds-succeeded.json", "SUCCEEDED", true, "", true},
		{"failed", byARN, "batchgetbuilds-failed.json", "FAILED", true, "CodeBuild.FAILED", true},
		{"fault", byARN, "batchgetbuilds-fault.json", "FAULT", true, "CodeBuild.FAULT", true},
		{"by id and target", `{"buildId":"` + testBuildID + `","roleArn":"` + testRole + `","region":"eu-west-1"}`, "batchgetbuilds-succeeded.json", "SUCCEEDED", true, "", true},
		{"after a fallback, by execution", `{"executionArn":"` + testExec + `","mapIndex":3}`, "batchgetbuilds-succeeded.json", "SUCCEEDED", true, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := awstest.NewServer(t, func(awstest.Request) awstest.Reply { return reply(t, tc.reply) })
			store := &fakeStore{recs: []tokenstore.Record{record()}}
			resp, err := newHandler(t, store, srv.URL).Handle(context.Background(), json.RawMessage(tc.request))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if resp.Status != tc.status || resp.Terminal != tc.terminal || resp.Error != tc.errName {
				t.Errorf("response %+v", resp)
			}
			if resp.Build.BuildARN != testfixtures.BuildARN || resp.Build.ExecutionARN != testExec || resp.Build.MapIndex != 3 {
				t.Errorf("descriptor %+v", resp.Build)
			}
			if (resp.Result != nil) != tc.terminal || (len(store.completed) == 1) != tc.wantComplete {
				t.Errorf("result %+v completed %v", resp.Result, store.completed)
			}
			if tc.terminal && (resp.Result.CompletedBy != "poll" || resp.Result.Status != tc.status) {
				t.Errorf("result %+v", resp.Result)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 || reqs[0].Target != "CodeBuild_20161006.BatchGetBuilds" || string(reqs[0].Body) != `{"ids":["`+testBuildID+`"]}` {
				t.Errorf("requests %+v", reqs)
			}
		})
	}
}

// TestBackoff: while the build runs, the response names the next poll: the same build by
// ARN, after twice the wait that preceded this poll, capped; a terminal poll names none.
func TestBackoff(t *testing.T) {
	cases := []struct {
		name, request, reply string
		wantNext             int // 0: no next request
	}{
		{"after a fallback, no interval yet", `{"executionArn":"` + testExec + `","mapIndex":3}`, "batchgetbuilds-in-progress.json", 40},
		{"doubles", `{"buildArn":"` + testfixtures.BuildARN + `","intervalSeconds":160}`, "batchgetbuilds-in-progress.json", 320},
		{"capped", `{"buildArn":"` + testfixtures.BuildARN + `","intervalSeconds":600}`, "batchgetbuilds-in-progress.json", 900},
		{"at the cap", `{"buildArn":"` + testfixtures.BuildARN + `","intervalSeconds":900}`, "batchgetbuilds-in-progress.json", 900},
		{"above the cap stays", `{"buildArn":"` + testfixtures.BuildARN + `","intervalSeconds":3600}`, "batchgetbuilds-in-progress.json", 3600},
		{"terminal", `{"buildArn":"` + testfixtures.BuildARN + `","intervalSeconds":40}`, "batchgetbuilds-succeeded.json", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := awstest.NewServer(t, func(awstest.Request) awstest.Reply { return reply(t, tc.reply) })
			store := &fakeStore{recs: []tokenstore.Record{record()}}
			resp, err := newHandler(t, store, srv.URL).Handle(context.Background(), json.RawMessage(tc.request))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if tc.wantNext == 0 {
				if resp.Next != nil {
					t.Errorf("terminal poll names a next poll: %+v", resp.Next)
				}
				return
			}
			if resp.Next == nil || resp.Next.BuildARN != testfixtures.BuildARN || resp.Next.IntervalSeconds != tc.wantNext ||
				resp.Next.ExecutionARN != "" || resp.Next.MapIndex != nil {
				t.Fatalf("next = %+v, want the build by ARN after %d s", resp.Next, tc.wantNext)
			}
			// The next request is itself a valid poller request.
			raw, _ := json.Marshal(resp.Next)
			if _, err := newHandler(t, store, srv.URL).Handle(context.Background(), raw); err != nil {
				t.Errorf("the next request %s is refused: %v", raw, err)
			}
		})
	}
}

func TestHandleErrors(t *testing.T) {
	byARN := `{"buildArn":"` + testfixtures.BuildARN + `"}`
	cases := []struct {
		name, request string
		reply         awstest.Reply
		recs          []tokenstore.Record
		rolesErr      error
		getErr        error
		errName       string
	}{
		{"builds not found", byARN, awstest.Reply{}, nil, nil, nil, "BuildNotFound"},
		{"no record by arn", byARN, awstest.Reply{}, []tokenstore.Record{}, nil, nil, "RecordNotFound"},
		{"no record by execution", `{"executionArn":"` + testExec + `","mapIndex":9}`, awstest.Reply{}, nil, nil, nil, "RecordNotFound"},
		{"parked only", byARN, awstest.Reply{}, []tokenstore.Record{{BuildARN: testfixtures.BuildARN, State: tokenstore.Parked}}, nil, nil, "RecordNotFound"},
		{"store down", byARN, awstest.Reply{}, nil, nil, errors.New("connection refused"), "TransientError"},
		{"empty request", `{}`, awstest.Reply{}, nil, nil, nil, "InvalidTarget"},
		{"unknown field", `{"buildArn":"x","extra":1}`, awstest.Reply{}, nil, nil, nil, "InvalidTarget"},
		{"bad build arn", `{"buildArn":"arn:aws:s3:::bucket"}`, awstest.Reply{}, nil, nil, nil, "InvalidTarget"},
		{"interval too short", `{"buildArn":"` + testfixtures.BuildARN + `","intervalSeconds":4}`, awstest.Reply{}, nil, nil, nil, "InvalidTarget"},
		{"interval too long", `{"buildArn":"` + testfixtures.BuildARN + `","intervalSeconds":3601}`, awstest.Reply{}, nil, nil, nil, "InvalidTarget"},
		{"bad role", `{"buildId":"` + testBuildID + `","roleArn":"x","region":"eu-west-1"}`, awstest.Reply{}, nil, nil, nil, "InvalidTarget"},
		{"role refused", byARN, awstest.Reply{}, nil, &failure.AssumeRoleFailed{RoleARN: testRole, Err: errors.New("AccessDenied")}, nil, "AssumeRoleFailed"},
		{"access denied", byARN, awstest.JSONError(400, "AccessDeniedException", "no"), nil, nil, nil, "PollFailed"},
		{"throttled", byARN, awstest.JSONError(400, "ThrottlingException", "slow down"), nil, nil, nil, "TransientError"},
		{"record outside the allow-list", byARN, awstest.Reply{}, []tokenstore.Record{func() tokenstore.Record {
			r := record()
			r.RoleARN = "arn:aws:iam::222222222222:role/admin"
			return r
		}()}, nil, nil, "TargetNotAllowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := tc.reply
			if rep.Status == 0 {
				rep = reply(t, "batchgetbuilds-not-found.json")
			}
			srv := awstest.NewServer(t, func(awstest.Request) awstest.Reply { return rep })
			recs := tc.recs
			if recs == nil {
				recs = []tokenstore.Record{record()}
			}
			store := &fakeStore{recs: recs, getErr: tc.getErr}
			h := newHandler(t, store, srv.URL)
			h.Roles = staticRoles{err: tc.rolesErr}
			_, err := h.Handle(context.Background(), json.RawMessage(tc.request))
			if got := runtimetest.ErrorName(err); got != tc.errName {
				t.Fatalf("error %v (%s), want %s", err, got, tc.errName)
			}
			if len(store.completed) != 0 {
				t.Errorf("completed on error")
			}
		})
	}
}

type captureSFN struct{ output, errName, cause string }

func (c *captureSFN) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	c.output = aws.ToString(in.Output)
	return &sfn.SendTaskSuccessOutput{}, nil
}

func (c *captureSFN) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	c.errName, c.cause = aws.ToString(in.Error), aws.ToString(in.Cause)
	return &sfn.SendTaskFailureOutput{}, nil
}

type nopStore struct{}

func (nopStore) Get(context.Context, string) (tokenstore.Record, error) {
	return tokenstore.Record{}, &tokenstore.NotFoundError{}
}
func (nopStore) Release(context.Context, tokenstore.Record) error { return nil }
func (nopStore) Complete(context.Context, string, string) error   { return nil }

// The callback (event) and the poller (BatchGetBuilds over the wire) report the same build
// identically: same result apart from completedBy, same error and cause.
func TestPollerMatchesCallback(t *testing.T) {
	cases := []struct{ event, reply string }{
		{testfixtures.StateSucceeded, "batchgetbuilds-succeeded.json"},
		{testfixtures.StateFailed, "batchgetbuilds-failed.json"},
		{testfixtures.StateFault, "batchgetbuilds-fault.json"},
	}
	for _, tc := range cases {
		t.Run(tc.event, func(t *testing.T) {
			ev, err := testfixtures.Event(tc.event)
			if err != nil {
				t.Fatal(err)
			}
			b, err := outcome.FromEvent(ev)
			if err != nil {
				t.Fatal(err)
			}
			capture := &captureSFN{}
			c := &completion.Completer{SFN: capture, Store: nopStore{}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			if err := c.Finish(context.Background(), record(), b, outcome.ByEvent); err != nil {
				t.Fatal(err)
			}

			srv := awstest.NewServer(t, func(awstest.Request) awstest.Reply { return reply(t, tc.reply) })
			resp, err := newHandler(t, &fakeStore{recs: []tokenstore.Record{record()}}, srv.URL).
				Handle(context.Background(), json.RawMessage(`{"buildArn":"`+testfixtures.BuildARN+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Error != capture.errName || resp.Cause != capture.cause {
				t.Fatalf("poller error %q %s\ncallback error %q %s", resp.Error, resp.Cause, capture.errName, capture.cause)
			}
			polled := *resp.Result
			polled.CompletedBy = outcome.ByEvent
			if capture.output != "" {
				var fromEvent outcome.Result
				if err := json.Unmarshal([]byte(capture.output), &fromEvent); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(fromEvent, polled) {
					t.Fatalf("event result %+v\npoll result  %+v", fromEvent, polled)
				}
			}
		})
	}
}

func TestDescriptorShape(t *testing.T) {
	h := &Handler{DefaultPollInterval: 20}
	r := record()
	r.EnvOverrides = nil
	raw, _ := json.Marshal(h.descriptor(r))
	var d contract.Descriptor
	if err := json.Unmarshal(raw, &d); err != nil || d.EnvOverrides == nil || d.PollIntervalSeconds != 20 {
		t.Fatalf("descriptor %s", raw)
	}
}
