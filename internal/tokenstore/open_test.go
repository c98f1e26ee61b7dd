package tokenstore_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/testclock"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// TestOpenIndexOnDynalite: the open index against the emulator. Records enter it when
// created or adopted, stay while claimed and released, and leave it when completed or
// stopped; parked items never enter it. Listing spans every shard, honours the time bound
// and the limit, and pages through a shard larger than one query.
func TestOpenIndexOnDynalite(t *testing.T) {
	c := testclock.New(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	s := newDynaliteStore(t, c)
	ctx := ctxT(t)
	const (
		execARN = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"
		n       = 40
	)
	start := c.Now().Add(-time.Hour)
	rec := func(i int) tokenstore.Record {
		id := fmt.Sprintf("sample:%04d", i)
		return tokenstore.Record{
			BuildARN: "arn:aws:codebuild:eu-west-1:222222222222:build/" + id, BuildID: id, TaskToken: "token",
			ExecutionARN: execARN, MapIndex: i, Account: "222222222222", Region: "eu-west-1", Project: "sample",
			RoleARN: "arn:aws:iam::222222222222:role/crossbuild-target-role", Completion: "event",
			// One a minute, the oldest first: record i was created i minutes after start.
			CreatedAt: start.Add(time.Duration(i) * time.Minute), ExpiresAt: c.Now().Add(time.Hour),
		}
	}
	shards := map[string]bool{}
	for i := range n {
		if err := s.Create(ctx, rec(i)); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		shards[tokenstore.OpenShard(rec(i).BuildARN)] = true
	}
	if len(shards) < 8 {
		t.Fatalf("40 records fell into %d shards only", len(shards))
	}
	indexes := func(recs []tokenstore.Record) []int {
		var out []int
		for _, r := range recs {
			out = append(out, r.MapIndex)
		}
		return out
	}
	upTo := func(k int) []int {
		var out []int
		for i := range k {
			out = append(out, i)
		}
		return out
	}

	// Everything, oldest first, from every shard.
	all, err := s.ListOpen(ctx, c.Now(), 1000)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if got := indexes(all); !slices.Equal(got, upTo(n)) {
		t.Fatalf("listed %v, want 0..%d", got, n-1)
	}
	if all[0].TaskToken != "token" || all[0].RoleARN == "" || all[0].State != tokenstore.Waiting {
		t.Fatalf("listed record is not whole: %+v", all[0])
	}
	// Open for longer than 30 minutes: created before start+30m, records 0..29.
	if old, err := s.ListOpen(ctx, start.Add(30*time.Minute), 1000); err != nil || !slices.Equal(indexes(old), upTo(30)) {
		t.Fatalf("list before +30m = %v, %v", indexes(old), err)
	}
	// A limit smaller than what is open, and smaller than the number of shards.
	for _, limit := range []int{25, 3} {
		got, err := s.ListOpen(ctx, c.Now(), limit)
		if err != nil || len(got) != limit {
			t.Fatalf("list limit %d = %d records, %v", limit, len(got), err)
		}
	}

	// Claimed and released records stay listed; completed and stopped ones leave.
	claimed, err := s.ClaimAs(ctx, rec(1).BuildARN, "owner-1", time.Minute)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if _, err := s.ClaimAs(ctx, rec(2).BuildARN, "owner-2", time.Minute); err != nil {
		t.Fatalf("claim: %v", err)
	}
	if err := s.Release(ctx, claimed); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := s.Complete(ctx, rec(3).BuildARN, "reconciler"); err != nil {
		t.Fatalf("complete: %v", err)
	}
	if _, err := s.Stop(ctx, rec(4).BuildARN, execARN); err != nil {
		t.Fatalf("stop: %v", err)
	}
	// A terminal event parked before its record: not open. Adopted, it is.
	parked := rec(50)
	parked.CreatedAt = start.Add(-time.Minute)
	if err := s.Park(ctx, tokenstore.Record{BuildARN: parked.BuildARN, Account: parked.Account, Region: parked.Region,
		Project: parked.Project, Outcome: `{"status":"SUCCEEDED"}`, ExpiresAt: parked.ExpiresAt}); err != nil {
		t.Fatalf("park: %v", err)
	}
	parkedToo := rec(51)
	if err := s.Park(ctx, tokenstore.Record{BuildARN: parkedToo.BuildARN, Account: parkedToo.Account, Region: parkedToo.Region,
		Project: parkedToo.Project, Outcome: `{"status":"FAILED"}`, ExpiresAt: parkedToo.ExpiresAt}); err != nil {
		t.Fatalf("park: %v", err)
	}
	list := func() []tokenstore.Record {
		t.Helper()
		got, err := s.ListOpen(ctx, c.Now(), 1000)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		return got
	}
	want := []int{0, 1, 2}
	want = append(want, upTo(n)[5:]...)
	if got := indexes(list()); !slices.Equal(got, want) {
		t.Fatalf("after claim, release, complete, stop and park: listed %v, want %v", got, want)
	}
	parked.ClaimOwner = "starter-1"
	if _, _, err := s.Adopt(ctx, parked); err != nil {
		t.Fatalf("adopt: %v", err)
	}
	parkedToo.ClaimOwner = "" // the ownerless path replaces the item
	if _, _, err := s.Adopt(ctx, parkedToo); err != nil {
		t.Fatalf("adopt without owner: %v", err)
	}
	got := list()
	if first := got[0]; first.MapIndex != 50 || first.State != tokenstore.Claimed {
		t.Fatalf("the adopted record is not listed first: %+v", first)
	}
	if last := got[len(got)-1]; last.MapIndex != 51 || last.State != tokenstore.Claimed {
		t.Fatalf("the record adopted without an owner is not listed last: %+v", last)
	}
	if err := s.Complete(ctx, parked.BuildARN, "event"); err != nil {
		t.Fatalf("complete adopted: %v", err)
	}
	if got := list(); got[0].MapIndex != 0 || len(got) != len(want)+1 {
		t.Fatalf("completed adopted record still listed: %v", indexes(got))
	}
}
