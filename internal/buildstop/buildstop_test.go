package buildstop

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/codebuild"

	"github.com/crossbuild/crossbuild/internal/awserr"
	"github.com/crossbuild/crossbuild/internal/awstest"
)

const (
	buildID  = "sample-codebuild-project:0f8c3b4e-7d2a-4c1b-9e55-2a6d1f3c8b90"
	buildARN = "arn:aws:codebuild:eu-west-1:222222222222:build/" + buildID

	opGet  = "CodeBuild_20161006.BatchGetBuilds"
	opStop = "CodeBuild_20161006.StopBuild"
)

// builds is a BatchGetBuilds answer holding the build in status, or none.
func builds(status string) awstest.Reply {
	if status == "" {
		return awstest.JSON(200, `{"builds":[],"buildsNotFound":["`+buildID+`"]}`)
	}
	return awstest.JSON(200, `{"builds":[{"id":"`+buildID+`","arn":"`+buildARN+`","buildStatus":"`+status+`"}],"buildsNotFound":[]}`)
}

func stopped(status string) awstest.Reply {
	return awstest.JSON(200, `{"build":{"id":"`+buildID+`","arn":"`+buildARN+`","buildStatus":"`+status+`"}}`)
}

func TestStop(t *testing.T) {
	throttled := awstest.JSONError(400, "ThrottlingException", "Rate exceeded")
	refused := awstest.JSONError(400, "InvalidInputException", "Build is already complete")
	tests := []struct {
		name    string
		get     []awstest.Reply
		stop    []awstest.Reply
		want    Result
		ended   bool
		wantOps []string
		wantErr string // the OpError's Op, when an error is expected
	}{
		{"running build stopped", []awstest.Reply{builds("IN_PROGRESS")}, []awstest.Reply{stopped("STOPPED")},
			Result{Found: true, Status: "STOPPED", Stopped: true}, false, []string{opGet, opStop}, ""},
		{"stopping: CodeBuild winds it down", []awstest.Reply{builds("IN_PROGRESS")}, []awstest.Reply{stopped("IN_PROGRESS")},
			Result{Found: true, Status: "IN_PROGRESS", Stopped: true}, false, []string{opGet, opStop}, ""},
		{"stop answered without a build", []awstest.Reply{builds("IN_PROGRESS")}, []awstest.Reply{awstest.JSON(200, `{}`)},
			Result{Found: true, Status: "STOPPED", Stopped: true}, false, []string{opGet, opStop}, ""},
		{"finished between describe and stop", []awstest.Reply{builds("IN_PROGRESS")}, []awstest.Reply{stopped("SUCCEEDED")},
			Result{Found: true, Status: "SUCCEEDED", Stopped: true}, true, []string{opGet, opStop}, ""},
		{"ended on its own", []awstest.Reply{builds("FAILED")}, nil,
			Result{Found: true, Status: "FAILED"}, true, []string{opGet}, ""},
		{"stopped earlier", []awstest.Reply{builds("STOPPED")}, nil,
			Result{Found: true, Status: "STOPPED"}, false, []string{opGet}, ""},
		{"not found", []awstest.Reply{builds("")}, nil, Result{}, false, []string{opGet}, ""},
		{"refused for a finished build: read back", []awstest.Reply{builds("IN_PROGRESS"), builds("SUCCEEDED")}, []awstest.Reply{refused},
			Result{Found: true, Status: "SUCCEEDED"}, true, []string{opGet, opStop, opGet}, ""},
		{"refused and still running", []awstest.Reply{builds("IN_PROGRESS")}, []awstest.Reply{refused},
			Result{}, false, []string{opGet, opStop, opGet}, OpStop},
		{"stop throttled", []awstest.Reply{builds("IN_PROGRESS")}, []awstest.Reply{throttled},
			Result{}, false, []string{opGet, opStop}, OpStop},
		{"describe fails", []awstest.Reply{awstest.JSONError(500, "InternalFailure", "oops")}, nil,
			Result{}, false, []string{opGet}, OpDescribe},
		{"answer for another build", []awstest.Reply{awstest.JSON(200, `{"builds":[{"id":"`+buildID+`","arn":"arn:aws:codebuild:eu-west-1:333333333333:build/`+buildID+`","buildStatus":"IN_PROGRESS"}]}`)}, nil,
			Result{}, false, []string{opGet}, OpDescribe},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			next := map[string]int{}
			srv := awstest.NewServer(t, func(r awstest.Request) awstest.Reply {
				mu.Lock()
				defer mu.Unlock()
				rs := map[string][]awstest.Reply{opGet: tc.get, opStop: tc.stop}[r.Target]
				if len(rs) == 0 {
					t.Errorf("unexpected %s", r.Target)
					return awstest.JSONError(400, "UnexpectedRequest", r.Target)
				}
				i := min(next[r.Target], len(rs)-1)
				next[r.Target]++
				return rs[i]
			})
			cb := codebuild.NewFromConfig(awstest.Config(srv.URL, 1))
			got, err := Stop(context.Background(), cb, buildID, buildARN)
			var oe *OpError
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Stop: %v", err)
			case tc.wantErr != "" && (!errors.As(err, &oe) || oe.Op != tc.wantErr || oe.BuildID != buildID):
				t.Fatalf("error %v, want an OpError of %q", err, tc.wantErr)
			}
			if got != tc.want || got.Ended() != tc.ended {
				t.Errorf("result %+v (ended %v), want %+v (ended %v)", got, got.Ended(), tc.want, tc.ended)
			}
			var ops []string
			for _, r := range srv.Requests() {
				ops = append(ops, r.Target)
			}
			if !slices.Equal(ops, tc.wantOps) {
				t.Errorf("requests %v, want %v", ops, tc.wantOps)
			}
			if tc.name == "stop throttled" && !awserr.IsRetryable(err) {
				t.Error("a throttled stop is not reported as retryable")
			}
		})
	}
}
