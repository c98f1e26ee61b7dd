package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"

	"github.com/crossbuild/crossbuild/internal/awserr"
	"github.com/crossbuild/crossbuild/internal/buildtrace"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/logging"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// TokenWindow is how long after an attempt opened its idempotency token is trusted to
// return the build it may have started. CodeBuild honours a token for five minutes (API
// reference, StartBuild, idempotencyToken); the minute kept back covers clock skew and a
// request's time in flight. The starter's own timeout is far shorter, so no attempt is
// still running when its window closes.
const TokenWindow = 4 * time.Minute

// Bounds of the search for a build an interrupted attempt may have started.
const (
	// searchSkew: builds created up to this long before the attempt opened are examined
	// too, for the clocks of Lambda and CodeBuild differ.
	searchSkew = time.Minute
	// maxSearchPages of up to 100 build ids each: 10,000 builds of the project since the
	// attempt, as many as one execution can start.
	maxSearchPages = 100
)

var errExecutionEnded = errors.New("the execution ended; no build is started for it")

// start returns the build of the target's Map item: the one an earlier attempt started and
// recorded on the item's intent, the one an interrupted attempt started (found by its
// idempotency token within its window, or in CodeBuild after it), or else a new one. No
// path starts a second build for one execution and Map index.
func (h *Handler) start(ctx context.Context, log *slog.Logger, cb CodeBuildAPI, t target.Target, executionARN string, index int) (buildID, buildARN string, err error) {
	want := tokenstore.Intent{
		ExecutionARN: executionARN, MapIndex: index,
		Account: t.Account, Region: t.Region, Project: t.Project, RoleARN: t.RoleARN,
		ExpiresAt: h.Now().Add(h.RecordTTL),
	}
	// Two rounds: an interrupted attempt found to have started nothing is closed, and the
	// next one opened.
	for range 2 {
		in, err := h.Store.BeginStart(ctx, want)
		var cancelled *tokenstore.CancelledError
		switch {
		case errors.As(err, &cancelled):
			log.Info("execution ended before the build started")
			return "", "", &failure.StartBuildFailed{Project: t.Project, Region: t.Region, Err: errExecutionEnded}
		case err != nil:
			return "", "", &failure.TransientError{Op: "record the intent to start " + t.Project, Err: err}
		case in.BuildARN != "":
			log.Info("build already started by an earlier attempt", "attempt", in.Attempt)
			return in.BuildID, in.BuildARN, nil
		case h.Now().Sub(in.AttemptAt) < TokenWindow:
			return h.startAttempt(ctx, log, cb, t, in)
		}
		// An attempt left open past its token's window may have started a build that
		// nobody recorded: look for it before anything else is started.
		b, found, err := h.findStarted(ctx, cb, t, in)
		if err != nil {
			return "", "", err
		}
		if found {
			log.Info("build of an interrupted attempt found", "attempt", in.Attempt)
			return h.recordStarted(ctx, log, cb, t, in, aws.ToString(b.Id), buildARNOf(t, b))
		}
		log.Info("an interrupted attempt started no build; opening the next", "attempt", in.Attempt)
		if err := h.Store.CloseAttempt(ctx, in); err != nil {
			return "", "", &failure.TransientError{Op: "close an attempt to start " + t.Project, Err: err}
		}
	}
	return "", "", &failure.TransientError{Op: "start build " + t.Project, Err: errors.New("the start intent changed under every round")}
}

// startAttempt calls StartBuild with in's attempt token and records the build it returns.
func (h *Handler) startAttempt(ctx context.Context, log *slog.Logger, cb CodeBuildAPI, t target.Target, in tokenstore.Intent) (string, string, error) {
	out, err := cb.StartBuild(ctx, h.startBuildInput(t, in.ExecutionARN, in.MapIndex, in.Attempt))
	if err != nil {
		err = classifyStartBuild(t, err)
		log.Error("start build", logging.KeyError, err.Error(), "errorType", failure.Name(err), "attempt", in.Attempt)
		if startedNothing(err) {
			// The next attempt opens afresh, with a new token, whenever it comes.
			if cerr := h.Store.CloseAttempt(ctx, in); cerr != nil {
				log.Warn("close the refused attempt", logging.KeyError, cerr.Error())
			}
		}
		return "", "", err
	}
	if out.Build == nil || aws.ToString(out.Build.Id) == "" {
		return "", "", &failure.TransientError{Op: "start build " + t.Project, Err: errors.New("response carries no build id")}
	}
	h.Metrics.Count(metrics.BuildStarted)
	started := buildARNOf(t, *out.Build)
	id, arn, err := h.recordStarted(ctx, log, cb, t, in, aws.ToString(out.Build.Id), started)
	if err == nil && arn == started {
		h.traceStarted(ctx, log, t, arn)
	}
	return id, arn, err
}

// traceStarted puts the build just started into the execution's trace, under this
// invocation, in progress until whoever sees it end sends it complete. Only a build this
// invocation started: one found from an earlier attempt may have ended already.
func (h *Handler) traceStarted(ctx context.Context, log *slog.Logger, t target.Target, buildARN string) {
	tg := buildtrace.Target{TraceID: tracing.TraceID(ctx), Parent: tracing.ParentID(ctx), BuildARN: buildARN,
		Account: t.Account, Region: t.Region, Project: t.Project}
	if err := tracing.Emit(ctx, buildtrace.Started(tg, h.Now())...); err != nil {
		log.Warn("build not added to the execution's trace", logging.KeyError, err.Error())
	}
}

// recordStarted writes the build onto the intent. Should the execution have ended
// meanwhile, or another build be recorded already, the build just started is stopped.
func (h *Handler) recordStarted(ctx context.Context, log *slog.Logger, cb CodeBuildAPI, t target.Target, in tokenstore.Intent, id, arn string) (string, string, error) {
	_, err := h.Store.RecordBuild(ctx, in, arn, id)
	var (
		cancelled *tokenstore.CancelledError
		other     *tokenstore.OtherBuildError
	)
	switch {
	case err == nil:
		return id, arn, nil
	case errors.As(err, &cancelled):
		h.stop(ctx, log, cb, id, "the execution ended while the build started")
		return "", "", &failure.StartBuildFailed{Project: t.Project, Region: t.Region, Err: errExecutionEnded}
	case errors.As(err, &other):
		log.Error("a second build was started for one Map item; stopping it", "secondBuild", arn)
		h.stop(ctx, log, cb, id, "a second build of one Map item")
		return other.Intent.BuildID, other.Intent.BuildARN, nil
	}
	// The attempt stays open: a retry finds this build by its token or in CodeBuild.
	return "", "", &failure.TransientError{Op: "record started build " + arn, Err: err}
}

// stop stops a build the starter itself started and must not keep. Best effort: when it
// fails, the build runs to its own timeout, and the log says which build.
func (h *Handler) stop(ctx context.Context, log *slog.Logger, cb CodeBuildAPI, id, why string) {
	if _, err := cb.StopBuild(ctx, &codebuild.StopBuildInput{Id: aws.String(id)}); err != nil {
		log.Error("stop build", "buildId", id, "reason", why, logging.KeyError, err.Error())
		return
	}
	log.Warn("build stopped", "buildId", id, "reason", why)
}

// findStarted looks through the project's builds, newest first, for one carrying the
// correlation variables of in's execution and Map index, down to the time in's attempt
// opened. Pages stop as soon as one reaches builds older than that.
func (h *Handler) findStarted(ctx context.Context, cb CodeBuildAPI, t target.Target, in tokenstore.Intent) (cbtypes.Build, bool, error) {
	since := in.AttemptAt.Add(-searchSkew)
	wantExec, wantIndex := h.CorrelationPrefix+"EXECUTION_ARN", h.CorrelationPrefix+"MAP_INDEX"
	index := strconv.Itoa(in.MapIndex)
	var next *string
	for range maxSearchPages {
		page, err := cb.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{
			ProjectName: aws.String(t.Project), SortOrder: cbtypes.SortOrderTypeDescending, NextToken: next,
		})
		if err != nil {
			return cbtypes.Build{}, false, classifySearch(t, err)
		}
		if len(page.Ids) == 0 {
			return cbtypes.Build{}, false, nil
		}
		got, err := cb.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: page.Ids})
		if err != nil {
			return cbtypes.Build{}, false, classifySearch(t, err)
		}
		older := false
		for _, b := range got.Builds {
			if b.StartTime != nil && b.StartTime.Before(since) {
				older = true
				continue
			}
			vars := map[string]string{}
			if b.Environment != nil {
				for _, v := range b.Environment.EnvironmentVariables {
					vars[aws.ToString(v.Name)] = aws.ToString(v.Value)
				}
			}
			if vars[wantExec] == in.ExecutionARN && vars[wantIndex] == index {
				return b, true, nil
			}
		}
		if older || page.NextToken == nil {
			return cbtypes.Build{}, false, nil
		}
		next = page.NextToken
	}
	return cbtypes.Build{}, false, &failure.StartBuildFailed{Project: t.Project, Region: t.Region,
		Err: fmt.Errorf("cannot tell whether attempt %d started a build: more than %d builds of the project since it opened", in.Attempt, maxSearchPages*100)}
}

func classifySearch(t target.Target, err error) error {
	if awserr.IsRetryable(err) || awserr.IsThrottle(err) {
		return &failure.TransientError{Op: "look for the build of an interrupted attempt of " + t.Project, Err: err}
	}
	return &failure.StartBuildFailed{Project: t.Project, Region: t.Region, Err: fmt.Errorf("look for the build of an interrupted attempt: %w", err)}
}

// startedNothing reports whether a StartBuild error is a refusal that started no build.
func startedNothing(err error) bool {
	var (
		quota   *failure.BuildQuotaExceeded
		refused *failure.StartBuildFailed
	)
	return errors.As(err, &quota) || errors.As(err, &refused)
}

func buildARNOf(t target.Target, b cbtypes.Build) string {
	if arn := aws.ToString(b.Arn); arn != "" {
		return arn
	}
	return outcome.BuildARN(t.Partition, t.Region, t.Account, aws.ToString(b.Id))
}

func (h *Handler) startBuildInput(t target.Target, executionARN string, index, attempt int) *codebuild.StartBuildInput {
	env := make([]cbtypes.EnvironmentVariable, 0, len(t.Env)+2)
	for _, e := range t.Env {
		env = append(env, cbtypes.EnvironmentVariable{Name: aws.String(e.Name), Value: aws.String(e.Value), Type: cbtypes.EnvironmentVariableType(e.Type)})
	}
	env = append(env,
		cbtypes.EnvironmentVariable{Name: aws.String(h.CorrelationPrefix + "EXECUTION_ARN"), Value: aws.String(executionARN), Type: cbtypes.EnvironmentVariableTypePlaintext},
		cbtypes.EnvironmentVariable{Name: aws.String(h.CorrelationPrefix + "MAP_INDEX"), Value: aws.String(strconv.Itoa(index)), Type: cbtypes.EnvironmentVariableTypePlaintext},
	)
	in := &codebuild.StartBuildInput{
		ProjectName:                  aws.String(t.Project),
		EnvironmentVariablesOverride: env,
		IdempotencyToken:             aws.String(IdempotencyToken(executionARN, index, attempt)),
	}
	if t.SourceVersion != "" {
		in.SourceVersion = aws.String(t.SourceVersion)
	}
	if t.TimeoutInMinutes > 0 {
		in.TimeoutInMinutesOverride = aws.Int32(int32(t.TimeoutInMinutes))
	}
	return in
}

// IdempotencyToken is the same for every call of one attempt to start one Map item's
// build, so a call retried within CodeBuild's five minutes gets the build the first one
// started. Each attempt has its own: one refused for a quota started nothing, and the next
// must not be mistaken for it.
func IdempotencyToken(executionARN string, index, attempt int) string {
	key := executionARN + "#" + strconv.Itoa(index)
	if attempt > 1 {
		key += "#" + strconv.Itoa(attempt)
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// classifyStartBuild maps CodeBuild's errors to what the state machine should do next.
func classifyStartBuild(t target.Target, err error) error {
	var (
		notFound *cbtypes.ResourceNotFoundException
		invalid  *cbtypes.InvalidInputException
		limit    *cbtypes.AccountLimitExceededException
	)
	switch {
	case errors.As(err, &limit), awserr.IsThrottle(err):
		return &failure.BuildQuotaExceeded{Project: t.Project, Region: t.Region, Err: err}
	case errors.As(err, &notFound), errors.As(err, &invalid):
		return &failure.StartBuildFailed{Project: t.Project, Region: t.Region, Err: err}
	case awserr.IsRetryable(err):
		return &failure.TransientError{Op: "start build " + t.Project, Err: err}
	case awserr.Code(err) != "":
		// Any other refusal (AccessDeniedException, ...) will not change on retry.
		return &failure.StartBuildFailed{Project: t.Project, Region: t.Region, Err: err}
	}
	return &failure.TransientError{Op: "start build " + t.Project, Err: err}
}
