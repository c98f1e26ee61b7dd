package completion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// scriptedSFN answers each send with the next error of its script (nil: accepted) and
// records the token of every send.
type scriptedSFN struct {
	script []error
	tokens []string
}

func (s *scriptedSFN) answer(token string) error {
	s.tokens = append(s.tokens, token)
	if len(s.tokens) > len(s.script) {
		return nil
	}
	return s.script[len(s.tokens)-1]
}

func (s *scriptedSFN) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	return &sfn.SendTaskSuccessOutput{}, s.answer(aws.ToString(in.TaskToken))
}

func (s *scriptedSFN) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	return &sfn.SendTaskFailureOutput{}, s.answer(aws.ToString(in.TaskToken))
}

// readBack is a store whose Get returns the record as a concurrent starter left it.
type readBack struct {
	current   func(n int) tokenstore.Record
	gets      int
	released  []tokenstore.Record
	completed []string
}

func (r *readBack) Get(context.Context, string) (tokenstore.Record, error) {
	r.gets++
	return r.current(r.gets), nil
}

func (r *readBack) Release(_ context.Context, rec tokenstore.Record) error {
	r.released = append(r.released, rec)
	return nil
}

func (r *readBack) Complete(_ context.Context, _ string, by string) error {
	r.completed = append(r.completed, by)
	return nil
}

func TestFinishAfterARefusedSend(t *testing.T) {
	claimedAt := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	claimed := tokenstore.Record{BuildARN: "arn:aws:codebuild:eu-west-1:222222222222:build/p:1", TaskToken: "token-1",
		State: tokenstore.Claimed, ClaimOwner: "me", ClaimedAt: claimedAt}
	withToken := func(token, owner string) func(int) tokenstore.Record {
		return func(int) tokenstore.Record {
			rec := claimed
			rec.TaskToken, rec.ClaimOwner = token, owner
			return rec
		}
	}
	closed := &sfntypes.TaskTimedOut{Message: aws.String("Task Timed Out")}
	cases := []struct {
		name          string
		script        []error
		current       func(int) tokenstore.Record
		wantTokens    []string
		wantCompleted bool
		wantReleased  bool
		wantRetry     bool
	}{
		{"accepted", nil, withToken("token-1", "me"), []string{"token-1"}, true, false, false},
		{"closed, token replaced under our claim: sent again", []error{closed}, withToken("token-2", "me"),
			[]string{"token-1", "token-2"}, true, false, false},
		{"closed, same token: released with the outcome", []error{closed}, withToken("token-1", "me"),
			[]string{"token-1"}, false, true, false},
		{"closed, claim taken over: not sent again", []error{closed}, withToken("token-2", "someone else"),
			[]string{"token-1"}, false, true, false},
		{"closed again and again: bounded", []error{closed, closed, closed, closed, closed, closed},
			func(n int) tokenstore.Record { return withToken(fmt.Sprintf("token-%d", n+1), "me")(n) },
			[]string{"token-1", "token-2", "token-3", "token-4"}, false, true, false},
		{"throttled: released, retried later", []error{&smithy.GenericAPIError{Code: "ThrottlingException"}}, withToken("token-1", "me"),
			[]string{"token-1"}, false, true, true},
	}
	b := outcome.Build{ARN: claimed.BuildARN, ID: "p:1", Project: "p", Account: "222222222222", Region: "eu-west-1", Status: outcome.StatusSucceeded,
		End: claimedAt.Add(-2 * time.Second)}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, st := &scriptedSFN{script: tc.script}, &readBack{current: tc.current}
			var emf strings.Builder
			c := &Completer{SFN: s, Store: st, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: metrics.New(&emf, "test"),
				Now: func() time.Time { return claimedAt }}
			defer func() {
				// Only an accepted send is a completion, measured from the build's end.
				lines := strings.Count(emf.String(), `"Completions":1`)
				if want := map[bool]int{true: 1, false: 0}[tc.wantCompleted]; lines != want ||
					(want == 1 && !strings.Contains(emf.String(), `{"CompletionLag":2,"Completions":1,"Function":"test","Path":"event",`)) {
					t.Errorf("completion metrics: %s", emf.String())
				}
			}()
			err := c.Finish(context.Background(), claimed, b, outcome.ByEvent)
			var transient *failure.TransientError
			if got := errors.As(err, &transient); got != tc.wantRetry || (err != nil && !got) {
				t.Fatalf("Finish = %v, want retry %v", err, tc.wantRetry)
			}
			if strings.Join(s.tokens, ",") != strings.Join(tc.wantTokens, ",") {
				t.Fatalf("sent with %v, want %v", s.tokens, tc.wantTokens)
			}
			if got := len(st.completed) == 1 && st.completed[0] == outcome.ByEvent; got != tc.wantCompleted {
				t.Fatalf("completed %v, want %v", st.completed, tc.wantCompleted)
			}
			if got := len(st.released) == 1; got != tc.wantReleased {
				t.Fatalf("released %d times, want %v", len(st.released), tc.wantReleased)
			}
			if tc.wantReleased {
				rel := st.released[0]
				if rel.ClaimOwner != "me" || !rel.ClaimedAt.Equal(claimedAt) || !strings.Contains(rel.Outcome, `"status":"SUCCEEDED"`) {
					t.Fatalf("released %+v: want our claim with the outcome on it", rel)
				}
			}
		})
	}
}
