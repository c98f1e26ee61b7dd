package tokenstore_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/testclock"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// TestStopOnDynalite: the canceller's transitions against the emulator. Every record of an
// execution is listed, whatever its Map index; WAITING and CLAIMED records stop, a
// repeated stop is a success, and completed, parked or foreign records are refused.
func TestStopOnDynalite(t *testing.T) {
	c := testclock.New(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	s := newDynaliteStore(t, c)
	ctx := ctxT(t)
	const (
		execARN  = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"
		otherARN = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-2"
	)
	rec := func(i int, exec string) tokenstore.Record {
		id := fmt.Sprintf("sample:%04d", i)
		return tokenstore.Record{
			BuildARN: "arn:aws:codebuild:eu-west-1:222222222222:build/" + id, BuildID: id, TaskToken: "token",
			ExecutionARN: exec, MapIndex: i, Account: "222222222222", Region: "eu-west-1", Project: "sample",
			RoleARN: "arn:aws:iam::222222222222:role/crossbuild-target-role", Completion: "event",
			CreatedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour),
		}
	}
	for i := range 4 {
		if err := s.Create(ctx, rec(i, execARN)); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	if err := s.Create(ctx, rec(9, otherARN)); err != nil {
		t.Fatalf("create: %v", err)
	}
	// 1 is claimed, 2 completed, 3 has a parked twin elsewhere: a parked item has no
	// execution and is never listed.
	if _, err := s.ClaimAs(ctx, rec(1, execARN).BuildARN, "owner-1", time.Minute); err != nil {
		t.Fatalf("claim: %v", err)
	}
	if err := s.Complete(ctx, rec(2, execARN).BuildARN, "event"); err != nil {
		t.Fatalf("complete: %v", err)
	}
	parked := rec(7, "")
	if err := s.Park(ctx, parked); err != nil {
		t.Fatalf("park: %v", err)
	}

	list, err := s.ListByExecution(ctx, execARN)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var got []string
	for _, r := range list {
		got = append(got, fmt.Sprintf("%d:%s", r.MapIndex, r.State))
	}
	slices.Sort(got)
	if want := []string{"0:WAITING", "1:CLAIMED", "2:COMPLETED", "3:WAITING"}; !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}

	for _, i := range []int{0, 1} {
		stopped, err := s.Stop(ctx, rec(i, execARN).BuildARN, execARN)
		if err != nil || stopped.State != tokenstore.Stopped || stopped.MapIndex != i {
			t.Fatalf("stop %d = %+v, %v", i, stopped, err)
		}
		// A duplicate event, or a retry after a lost answer, finds its own work done.
		if again, err := s.Stop(ctx, rec(i, execARN).BuildARN, execARN); err != nil || again.State != tokenstore.Stopped {
			t.Fatalf("second stop %d = %+v, %v", i, again, err)
		}
	}
	_, err = s.Stop(ctx, rec(2, execARN).BuildARN, execARN)
	mustConflict(t, err, "stop", tokenstore.Completed)
	_, err = s.Stop(ctx, parked.BuildARN, execARN)
	mustConflict(t, err, "stop", tokenstore.Parked)
	_, err = s.Stop(ctx, rec(3, execARN).BuildARN, otherARN)
	mustConflict(t, err, "stop", tokenstore.Waiting)
	_, err = s.Stop(ctx, "arn:aws:codebuild:eu-west-1:222222222222:build/sample:none", execARN)
	mustNotFound(t, err)

	// A stopped record is final: no claim takes it.
	_, err = s.ClaimAs(ctx, rec(0, execARN).BuildARN, "owner-2", time.Minute)
	mustConflict(t, err, "claim", tokenstore.Stopped)
	if other, err := s.Get(ctx, rec(9, otherARN).BuildARN); err != nil || other.State != tokenstore.Waiting {
		t.Fatalf("the other execution's record = %+v, %v", other, err)
	}
}
