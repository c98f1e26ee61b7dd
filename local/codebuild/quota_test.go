package codebuild

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
)

// noopBuildspec runs nothing: such builds are cheap, and a held one holds its slot.
const noopBuildspec = "version: 0.2\nphases:\n  build:\n    commands: []\n"

func startNoop(ctx context.Context, cb *codebuild.Client, project string, extra ...func(*codebuild.StartBuildInput)) (*codebuild.StartBuildOutput, error) {
	in := &codebuild.StartBuildInput{ProjectName: aws.String(project), BuildspecOverride: aws.String(noopBuildspec)}
	for _, f := range extra {
		f(in)
	}
	return cb.StartBuild(ctx, in)
}

// waitPhases waits, within waitLimit, until the unfinished builds of the target account
// and Region count as want by current phase.
func waitPhases(t *testing.T, w *world, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	var got map[string]int
	for time.Now().Before(deadline) {
		got = map[string]int{}
		for _, b := range w.svc.Builds() {
			if b.Account == targetAccount && b.Region == targetRegion && !b.Complete {
				got[b.CurrentPhase]++
			}
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("builds by phase %v, want %v", got, want)
}

// waitUntil polls a build of the target account, within waitLimit, until done holds.
func waitUntil(t *testing.T, w *world, id string, done func(BuildInfo) bool) BuildInfo {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		info, ok := w.svc.Build(targetAccount, targetRegion, id)
		if ok && done(info) {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("build %s: %+v", id, info)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// maxRunning is the most builds of the target account and Region that were past QUEUED
// at once.
func maxRunning(builds []BuildInfo) int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, b := range builds {
		if b.Account != targetAccount || b.Region != targetRegion || len(b.Phases) < 3 || b.Phases[2].Type != phaseProvisioning {
			continue
		}
		edges = append(edges, edge{b.Phases[2].Start, 1}, edge{b.End, -1})
	}
	// A slot is handed over when a build completes: at equal times, the end comes first.
	sort.Slice(edges, func(i, j int) bool {
		if !edges[i].at.Equal(edges[j].at) {
			return edges[i].at.Before(edges[j].at)
		}
		return edges[i].delta < edges[j].delta
	})
	n, peak := 0, 0
	for _, e := range edges {
		n += e.delta
		peak = max(peak, n)
	}
	return peak
}

// Exactly the quota runs, the queue takes what the quota allows, the next StartBuild is
// refused as CodeBuild refuses it, and every build runs once its turn comes.
func TestConcurrentBuildQuota(t *testing.T) {
	for _, c := range []struct {
		name             string
		opts             Options
		running, waiting int
	}{
		{"queue five times the limit by default", Options{ConcurrentBuilds: 2}, 2, 10},
		{"explicit queue", Options{ConcurrentBuilds: 3, QueuedBuilds: 1}, 3, 1},
		{"no queue", Options{ConcurrentBuilds: 1, QueuedBuilds: -1}, 1, 0},
		{"quota of the account and Region", Options{ConcurrentBuilds: 50,
			Quotas: map[Scope]Quota{{targetAccount, targetRegion}: {ConcurrentBuilds: 2, QueuedBuilds: 1}}}, 2, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, c.opts)
			release := w.pub.hold(targetAccount, targetRegion)
			t.Cleanup(release)
			ctx := context.Background()
			cb := w.starter()

			// The first build carries an idempotency token, as the starter's do.
			token := func(in *codebuild.StartBuildInput) { in.IdempotencyToken = aws.String("map-item-0") }
			var ids []string
			for i := range c.running + c.waiting {
				var opts []func(*codebuild.StartBuildInput)
				if i == 0 {
					opts = append(opts, token)
				}
				out, err := startNoop(ctx, cb, sampleProject, opts...)
				if err != nil {
					t.Fatalf("build %d: %v", len(ids)+1, err)
				}
				if out.Build.BuildStatus != cbtypes.StatusTypeInProgress {
					t.Errorf("started build status %s", out.Build.BuildStatus)
				}
				ids = append(ids, aws.ToString(out.Build.Id))
			}
			want := map[string]int{phaseProvisioning: c.running}
			if c.waiting > 0 {
				want[phaseQueued] = c.waiting
			}
			waitPhases(t, w, want)

			// One more is refused, with the error the SDK types and the starter retries.
			_, err := startNoop(ctx, cb, sampleProject)
			var limit *cbtypes.AccountLimitExceededException
			if !errors.As(err, &limit) {
				t.Fatalf("StartBuild beyond the queue: %T %v", err, err)
			}
			wantMsg := fmt.Sprintf("Cannot have more than %d builds in queue for the account", c.waiting)
			if limit.ErrorMessage() != wantMsg {
				t.Errorf("message %q, want %q", limit.ErrorMessage(), wantMsg)
			}
			if n := len(w.svc.Builds()); n != c.running+c.waiting {
				t.Errorf("a refused StartBuild left a build: %d builds", n)
			}
			// A retry of a started build is not a new build: the quota does not refuse it.
			if again, err := startNoop(ctx, cb, sampleProject, token); err != nil {
				t.Errorf("retry with the token of build 1: %v", err)
			} else if got := aws.ToString(again.Build.Id); got != ids[0] {
				t.Errorf("retry with the token of build 1 returned %s, want %s", got, ids[0])
			}

			// Other accounts and Regions have quotas of their own.
			for name, other := range map[string]struct {
				cb      *codebuild.Client
				project string
			}{
				"other account": {w.client(otherAccount, "arn:aws:iam::333333333333:root", targetRegion), "other-account-project"},
				"other Region":  {w.client(targetAccount, starterARN, "us-east-1"), "other-region-project"},
			} {
				out, err := startNoop(ctx, other.cb, other.project)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				arn, _ := parseBuildARN(aws.ToString(out.Build.Arn))
				wctx, cancel := context.WithTimeout(ctx, waitLimit)
				info, err := w.svc.Wait(wctx, arn.account, arn.region, aws.ToString(out.Build.Id))
				cancel()
				if err != nil || info.Status != StatusSucceeded {
					t.Errorf("%s build: %s %v", name, info.Status, err)
				}
			}

			// Finished builds hand their slots over until every build has run.
			release()
			for _, id := range ids {
				if info := w.wait(t, id); info.Status != StatusSucceeded {
					t.Errorf("build %s: %s", id, info.Status)
				}
			}
			if peak := maxRunning(w.svc.Builds()); peak != c.running {
				t.Errorf("at most %d builds ran at once, quota %d", peak, c.running)
			}
			out, err := startNoop(ctx, cb, sampleProject)
			if err != nil {
				t.Fatalf("StartBuild once the builds are done: %v", err)
			}
			if info := w.wait(t, aws.ToString(out.Build.Id)); info.Status != StatusSucceeded {
				t.Errorf("build after the others: %s", info.Status)
			}
		})
	}
}

// A queued build that is stopped, or outwaits its queued timeout, ends in QUEUED without
// taking a slot.
func TestQueuedBuildEnds(t *testing.T) {
	for _, c := range []struct {
		name   string
		end    func(t *testing.T, cb *codebuild.Client, id string)
		status string
	}{
		{"stopped", func(t *testing.T, cb *codebuild.Client, id string) {
			if _, err := cb.StopBuild(context.Background(), &codebuild.StopBuildInput{Id: aws.String(id)}); err != nil {
				t.Fatal(err)
			}
		}, StatusStopped},
		{"queued timeout", func(*testing.T, *codebuild.Client, string) {}, StatusTimedOut},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, Options{ConcurrentBuilds: 1, TimeoutUnit: 20 * time.Millisecond})
			release := w.pub.hold(targetAccount, targetRegion)
			t.Cleanup(release)
			ctx := context.Background()
			cb := w.starter()
			long := func(in *codebuild.StartBuildInput) { in.TimeoutInMinutesOverride = aws.Int32(maxTimeoutMinutes) }
			running, err := startNoop(ctx, cb, sampleProject, long)
			if err != nil {
				t.Fatal(err)
			}
			waitPhases(t, w, map[string]int{phaseProvisioning: 1})
			queued, err := startNoop(ctx, cb, sampleProject, func(in *codebuild.StartBuildInput) {
				in.QueuedTimeoutInMinutesOverride = aws.Int32(minTimeoutMinutes) // 100ms here
			})
			if err != nil {
				t.Fatal(err)
			}
			id := aws.ToString(queued.Build.Id)
			c.end(t, cb, id)

			// Its events wait behind the hold; its record does not.
			info := waitUntil(t, w, id, func(b BuildInfo) bool { return b.Complete })
			var phases []string
			for _, p := range info.Phases {
				phases = append(phases, p.Type+" "+p.Status)
			}
			wantPhases := "SUBMITTED SUCCEEDED,QUEUED " + c.status + ",COMPLETED "
			if info.Status != c.status || strings.Join(phases, ",") != wantPhases {
				t.Fatalf("status %s phases %s, want %s %s", info.Status, strings.Join(phases, ","), c.status, wantPhases)
			}

			// The running build still holds the only slot.
			next, err := startNoop(ctx, cb, sampleProject, long)
			if err != nil {
				t.Fatal(err)
			}
			waitPhases(t, w, map[string]int{phaseProvisioning: 1, phaseQueued: 1})

			release()
			for _, out := range []*codebuild.StartBuildOutput{running, next} {
				if got := w.wait(t, aws.ToString(out.Build.Id)); got.Status != StatusSucceeded {
					t.Errorf("build %s: %s", got.ID, got.Status)
				}
			}
			w.wait(t, id)
			var names []string
			for _, p := range w.pub.of(t, info.ARN) {
				names = append(names, eventNameOf(t, p.raw))
			}
			if got, want := strings.Join(names, ","), "phase SUBMITTED,phase QUEUED,state "+c.status; got != want {
				t.Errorf("events %s, want %s", got, want)
			}
		})
	}
}

// Close ends queued builds as it ends running ones.
func TestCloseEndsQueuedBuilds(t *testing.T) {
	w := newWorld(t, Options{ConcurrentBuilds: 1})
	t.Cleanup(w.pub.hold(targetAccount, targetRegion))
	ctx := context.Background()
	var ids []string
	for range 3 {
		out, err := startNoop(ctx, w.starter(), sampleProject)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.Build.Id))
	}
	waitPhases(t, w, map[string]int{phaseProvisioning: 1, phaseQueued: 2})
	began := time.Now()
	if err := w.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Close took %s", took)
	}
	for i, id := range ids {
		if info, _ := w.svc.Build(targetAccount, targetRegion, id); !info.Complete || info.Status != StatusStopped {
			t.Errorf("build %d after Close: %s complete %v", i+1, info.Status, info.Complete)
		}
	}
}

// CodeBuild counts concurrent builds per compute type: a full small pool leaves a large one
// free.
func TestQuotaCountsPerComputeType(t *testing.T) {
	w := newWorld(t, Options{ConcurrentBuilds: 1, QueuedBuilds: -1})
	t.Cleanup(w.pub.hold(targetAccount, targetRegion))
	if err := w.svc.AddProject(Project{Account: targetAccount, Region: targetRegion, Name: "large-project",
		Buildspec: noopBuildspec, ComputeType: "BUILD_GENERAL1_LARGE"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cb := w.starter()
	for _, c := range []struct {
		project string
		refused bool
	}{{sampleProject, false}, {sampleProject, true}, {"large-project", false}, {"large-project", true}} {
		_, err := startNoop(ctx, cb, c.project)
		var limit *cbtypes.AccountLimitExceededException
		if errors.As(err, &limit) != c.refused || (err != nil && !c.refused) {
			t.Errorf("%s: %v, want refused %v", c.project, err, c.refused)
		}
	}
}
