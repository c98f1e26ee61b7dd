package main

import (
	"context"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/crossbuild/crossbuild/internal/completion"
)

// A completion the reconciler delivers means one was lost, which is what RecordsReconciled
// counts and alarms on. Finish succeeds also when Step Functions reports the task already
// closed, so the reconciler learns whether a send went through from the client it sends
// with: SendRecorder marks the context of a Finish call when a SendTask* call succeeds.

type sentKey struct{}

// watchSends returns a context for one Finish call and a function telling whether a
// completion was sent within it.
func watchSends(ctx context.Context) (context.Context, func() bool) {
	flag := new(atomic.Bool)
	return context.WithValue(ctx, sentKey{}, flag), flag.Load
}

func markSent(ctx context.Context) {
	if flag, ok := ctx.Value(sentKey{}).(*atomic.Bool); ok {
		flag.Store(true)
	}
}

// SendRecorder is the Step Functions client of the reconciler's completer.
type SendRecorder struct {
	completion.SFNAPI
}

// SendTaskSuccess sends and, when Step Functions accepted it, marks the context.
func (s SendRecorder) SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	out, err := s.SFNAPI.SendTaskSuccess(ctx, in, optFns...)
	if err == nil {
		markSent(ctx)
	}
	return out, err
}

// SendTaskFailure sends and, when Step Functions accepted it, marks the context.
func (s SendRecorder) SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	out, err := s.SFNAPI.SendTaskFailure(ctx, in, optFns...)
	if err == nil {
		markSent(ctx)
	}
	return out, err
}
