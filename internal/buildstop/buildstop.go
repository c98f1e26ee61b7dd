// Package buildstop stops a build crossbuild started whose task no longer waits for it. The
// canceller uses it when an execution ends ABORTED, TIMED_OUT or FAILED, the reconciler when
// it finds a running build of an execution that ended.
//
// A build is described first and stopped only while it runs: a build that ended on its own
// keeps its real outcome, which the callback records.
package buildstop

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"

	"github.com/crossbuild/crossbuild/internal/awserr"
	"github.com/crossbuild/crossbuild/internal/outcome"
)

// CodeBuildAPI is what stopping a build takes, in the target account and Region.
type CodeBuildAPI interface {
	BatchGetBuilds(ctx context.Context, in *codebuild.BatchGetBuildsInput, optFns ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error)
	StopBuild(ctx context.Context, in *codebuild.StopBuildInput, optFns ...func(*codebuild.Options)) (*codebuild.StopBuildOutput, error)
}

// Operations named by OpError.
const (
	OpDescribe = "describe build"
	OpStop     = "stop build"
)

// OpError is a failed CodeBuild call; Op says which.
type OpError struct {
	Op      string
	BuildID string
	Err     error
}

func (e *OpError) Error() string { return fmt.Sprintf("%s %s: %v", e.Op, e.BuildID, e.Err) }
func (e *OpError) Unwrap() error { return e.Err }

// Result is what Stop found and did.
type Result struct {
	// Found is false when CodeBuild does not know the build.
	Found bool
	// Status is the build's status afterwards: STOPPED; IN_PROGRESS while CodeBuild winds a
	// stopped build down; or the terminal status the build reached on its own.
	Status string
	// Stopped is true when this call's StopBuild was accepted.
	Stopped bool
}

// Ended reports whether the build ended on its own (any terminal status but STOPPED): its
// outcome belongs to the task, and nothing was stopped.
func (r Result) Ended() bool {
	return r.Found && r.Status != outcome.StatusStopped && r.Status != outcome.StatusInProgress
}

// Stop stops the build buildID (whose ARN is buildARN) if it still runs. A StopBuild refused
// because the build finished meanwhile is read back rather than trusted: ended means done.
// Errors are *OpError.
func Stop(ctx context.Context, cb CodeBuildAPI, buildID, buildARN string) (Result, error) {
	build, found, err := describe(ctx, cb, buildID, buildARN)
	if err != nil {
		return Result{}, &OpError{Op: OpDescribe, BuildID: buildID, Err: err}
	}
	if !found {
		return Result{}, nil
	}
	res := Result{Found: true, Status: string(build.BuildStatus)}
	if res.Status != outcome.StatusInProgress {
		return res, nil
	}
	out, err := cb.StopBuild(ctx, &codebuild.StopBuildInput{Id: aws.String(buildID)})
	switch {
	case err == nil && out.Build != nil:
		res.Status, res.Stopped = string(out.Build.BuildStatus), true
	case err == nil:
		res.Status, res.Stopped = outcome.StatusStopped, true
	case awserr.IsRetryable(err):
		return Result{}, &OpError{Op: OpStop, BuildID: buildID, Err: err}
	default:
		// CodeBuild answers a build that finished meanwhile with its final status, but a
		// refusal is read back rather than trusted.
		again, found, rerr := describe(ctx, cb, buildID, buildARN)
		if rerr != nil || !found || again.BuildStatus == cbtypes.StatusTypeInProgress {
			return Result{}, &OpError{Op: OpStop, BuildID: buildID, Err: err}
		}
		res.Status = string(again.BuildStatus)
	}
	return res, nil
}

// describe reads one build; found is false when CodeBuild does not know it.
func describe(ctx context.Context, cb CodeBuildAPI, buildID, buildARN string) (cbtypes.Build, bool, error) {
	out, err := cb.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{buildID}})
	if err != nil {
		return cbtypes.Build{}, false, err
	}
	for _, b := range out.Builds {
		if aws.ToString(b.Id) == buildID {
			if arn := aws.ToString(b.Arn); arn != "" && arn != buildARN {
				return cbtypes.Build{}, false, fmt.Errorf("CodeBuild answered for %s", arn)
			}
			return b, true, nil
		}
	}
	return cbtypes.Build{}, false, nil
}
