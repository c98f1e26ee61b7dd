// Package completion delivers a finished build's outcome to the Step Functions task that
// waits for it, exactly once.
//
// Protocol: claim the token record (a conditional write only one caller wins), send, then
// mark it completed. If the send fails for a reason worth retrying, the claim is released
// so the next delivery of the event can try again; a claim left behind by a crash expires
// after a lease and may be taken over. The release is conditioned on the claim's owner,
// the invocation that took it, so only that invocation releases it, and a release retried
// after a lost answer recognises itself. A task Step Functions reports as already closed
// (TaskTimedOut, TaskDoesNotExist, InvalidToken) counts as completed.
package completion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/crossbuild/crossbuild/internal/awserr"
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
	Release(ctx context.Context, rec tokenstore.Record) error
	Complete(ctx context.Context, buildARN, by string) error
}

// Completer sends outcomes for claimed records.
type Completer struct {
	SFN     SFNAPI
	Store   Store
	Log     *slog.Logger
	Metrics *metrics.Recorder
}

// Finish delivers b's outcome for claimed, a record this caller has claimed, and marks it
// completed. It returns a *failure.TransientError when the send should be retried later
// (the claim is then released).
func (c *Completer) Finish(ctx context.Context, claimed tokenstore.Record, b outcome.Build, by string) error {
	log := c.Log.With(logging.KeyBuildARN, claimed.BuildARN, logging.KeyExecutionARN, claimed.ExecutionARN,
		logging.KeyToken, logging.TokenHash(claimed.TaskToken))
	err := c.send(ctx, claimed, b, by)
	switch {
	case err == nil:
		c.Metrics.Count(metrics.TaskCompleted)
		log.Info("task completed", "status", b.Status, "completedBy", by)
	case awserr.IsTaskClosed(err):
		c.Metrics.Count(metrics.TaskAlreadyClosed)
		log.Info("task already closed", "status", b.Status, "reason", awserr.Code(err))
	default:
		c.Metrics.Count(metrics.SendFailed)
		if rerr := c.Store.Release(ctx, claimed); rerr != nil {
			// The lease will free the claim; say so, since the next try waits for it.
			log.Warn("release after failed send", logging.KeyError, rerr.Error())
		}
		return &failure.TransientError{Op: "complete task for " + claimed.BuildARN, Err: err}
	}
	if err := c.Store.Complete(ctx, claimed.BuildARN, by); err != nil {
		var conflict *tokenstore.ConflictError
		if !errors.As(err, &conflict) {
			// The task is closed whatever this write says; a later event finds the task
			// closed and settles the record then.
			log.Warn("mark record completed", logging.KeyError, err.Error())
		}
	}
	return nil
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
