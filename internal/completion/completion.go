// Package completion delivers a finished build's outcome to the Step Functions task that
// waits for it, exactly once.
//
// Protocol: claim the token record (a conditional write only one caller wins), send, then
// mark it completed. If the send fails for a reason worth retrying, the claim is released
// so the next delivery of the event can try again; a claim left behind by a crash expires
// after a lease and may be taken over. The release is conditioned on the claim's owner,
// the invocation that took it, so only that invocation releases it, and a release retried
// after a lost answer recognises itself.
//
// A task Step Functions reports as closed (TaskTimedOut, TaskDoesNotExist, InvalidToken)
// is not a completion: the token may have been replaced by a retried starter while the
// claim was held, and then the outcome is sent again with the new token. Otherwise the
// claim is released with the outcome kept on the record, for whoever holds the task now:
// a retried starter's new token, the polling branch, or the canceller when the execution
// ended. The record says COMPLETED only once a send was accepted, so completedBy always
// names the path whose result the execution holds.
package completion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/crossbuild/crossbuild/internal/awserr"
	"github.com/crossbuild/crossbuild/internal/buildtrace"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/logging"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// SFNAPI is the part of the Step Functions client used to complete tasks.
type SFNAPI interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

// Store is the part of the token store a completion needs.
type Store interface {
	Get(ctx context.Context, buildARN string) (tokenstore.Record, error)
	Release(ctx context.Context, rec tokenstore.Record) error
	Complete(ctx context.Context, buildARN, by string) error
}

// Completer sends outcomes for claimed records.
type Completer struct {
	SFN     SFNAPI
	Store   Store
	Log     *slog.Logger
	Metrics *metrics.Recorder
	Now     func() time.Time // time.Now when nil
}

// maxResends bounds the sends of one outcome to tokens replaced under the claim.
const maxResends = 3

// Finish delivers b's outcome for claimed, a record this caller has claimed, and marks it
// completed. It returns a *failure.TransientError when the send should be retried later
// (the claim is then released).
func (c *Completer) Finish(ctx context.Context, claimed tokenstore.Record, b outcome.Build, by string) error {
	log := c.Log.With(logging.KeyBuildARN, claimed.BuildARN, logging.KeyExecutionARN, claimed.ExecutionARN)
	rec := claimed
	for sends := 1; ; sends++ {
		log := log.With(logging.KeyToken, logging.TokenHash(rec.TaskToken))
		err := c.send(ctx, rec, b, by)
		switch {
		case err == nil:
			at := c.now()
			path := buildtrace.Path(by, claimed.Completion)
			c.Metrics.Count(metrics.TaskCompleted)
			c.Metrics.Completion(path, buildtrace.Lag(b, at))
			log.Info("task completed", "status", b.Status, "completedBy", by)
			c.complete(ctx, log, claimed.BuildARN, by)
			buildtrace.Close(ctx, log, buildtrace.FromRecord(claimed), b, buildtrace.Closed{By: by, Path: path, Operation: operation(b), At: at})
			return nil
		case awserr.IsTaskClosed(err):
			if next, ok := c.replacedToken(ctx, log, rec); ok && sends <= maxResends {
				log.Info("task token replaced under the claim; sending again", "reason", awserr.Code(err))
				rec.TaskToken = next
				continue
			}
			c.Metrics.Count(metrics.TaskAlreadyClosed)
			log.Info("task already closed; outcome kept on the record", "status", b.Status, "reason", awserr.Code(err))
			c.release(ctx, log, claimed, b)
			return nil
		default:
			c.Metrics.Count(metrics.SendFailed)
			c.release(ctx, log, claimed, b)
			return &failure.TransientError{Op: "complete task for " + claimed.BuildARN, Err: err}
		}
	}
}

// replacedToken reads the record back after a refused send: when the claim is still ours
// and a retried starter stored a new token, that token is returned.
func (c *Completer) replacedToken(ctx context.Context, log *slog.Logger, sent tokenstore.Record) (string, bool) {
	cur, err := c.Store.Get(ctx, sent.BuildARN)
	if err != nil {
		log.Warn("read record after a refused send", logging.KeyError, err.Error())
		return "", false
	}
	ours := cur.State == tokenstore.Claimed && cur.ClaimOwner == sent.ClaimOwner && cur.ClaimedAt.Equal(sent.ClaimedAt)
	return cur.TaskToken, ours && cur.TaskToken != "" && cur.TaskToken != sent.TaskToken
}

// release hands the claim back with the outcome on the record, so the next claimant sends
// it without waiting for another event. When the release fails, the lease frees the claim.
func (c *Completer) release(ctx context.Context, log *slog.Logger, claimed tokenstore.Record, b outcome.Build) {
	raw, err := json.Marshal(b)
	if err != nil {
		log.Warn("encode outcome for the record", logging.KeyError, err.Error())
	} else {
		claimed.Outcome = string(raw)
	}
	if err := c.Store.Release(ctx, claimed); err != nil {
		log.Warn("release the claim", logging.KeyError, err.Error())
	}
}

// complete marks the record done after an accepted send. The task is closed whatever this
// write says; should it fail, the lease frees the claim and a later event or the
// reconciler finds the task closed.
func (c *Completer) complete(ctx context.Context, log *slog.Logger, buildARN, by string) {
	if err := c.Store.Complete(ctx, buildARN, by); err != nil {
		var conflict *tokenstore.ConflictError
		if !errors.As(err, &conflict) {
			log.Warn("mark record completed", logging.KeyError, err.Error())
		}
	}
}

func (c *Completer) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func operation(b outcome.Build) string {
	if b.Status == outcome.StatusSucceeded {
		return "SendTaskSuccess"
	}
	return "SendTaskFailure"
}

func (c *Completer) send(ctx context.Context, rec tokenstore.Record, b outcome.Build, by string) error {
	if b.Status == outcome.StatusSucceeded {
		out, err := json.Marshal(outcome.NewResult(b, rec.EnvOverrides, by))
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		_, err = c.SFN.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(rec.TaskToken), Output: aws.String(string(out))})
		return err
	}
	name, cause := outcome.Failure(b)
	_, err := c.SFN.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{
		TaskToken: aws.String(rec.TaskToken), Error: aws.String(name), Cause: aws.String(cause),
	})
	return err
}
