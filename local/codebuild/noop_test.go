package codebuild

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// succeededEvents is what every build that succeeds publishes, in order.
var succeededEvents = []string{"state IN_PROGRESS", "phase SUBMITTED", "phase QUEUED", "phase PROVISIONING",
	"phase DOWNLOAD_SOURCE", "phase INSTALL", "phase PRE_BUILD", "phase BUILD", "phase POST_BUILD",
	"phase UPLOAD_ARTIFACTS", "phase FINALIZING", "state SUCCEEDED"}

func eventNameOf(t testing.TB, raw []byte) string {
	t.Helper()
	var ev events.CodeBuildEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("event: %v\n%s", err, raw)
	}
	return eventName(ev)
}

func TestRunsNothing(t *testing.T) {
	for spec, want := range map[string]bool{
		noopBuildspec:                          true,
		"version: 0.2\nphases:\n  build: {}\n": true,
		"version: 0.2\nphases:\n  install:\n    commands: ['true', ' : ']\n    finally: ['true']\n":    true,
		"version: 0.2\nphases:\n  build:\n    commands: ['true', 'echo hi']\n":                         false,
		"version: 0.2\nphases:\n  build:\n    commands: [':']\n  post_build:\n    finally: ['true']\n": false, // finally without commands: not a valid buildspec
		"version: 0.2\nphases:\n  post_build:\n    commands: ['true']\n    finally: ['rm -rf x']\n":    false,
		"version: 0.2\nphases:\n  build:\n    commands: ['true && touch x']\n":                         false,
	} {
		parsed, err := parseBuildspec(spec)
		if got := err == nil && parsed.runsNothing(); got != want {
			t.Errorf("runsNothing(%q) = %v (%v), want %v", spec, got, err, want)
		}
	}
}

// A build whose buildspec runs nothing publishes what a build running a command does,
// field for field, and reads the same through BatchGetBuilds, without a folder or a log.
func TestNoOpBuildLooksLikeARealOne(t *testing.T) {
	ref := newWorld(t, Options{})
	refInfo, refEvents, refRaws := startAndCollect(t, ref, "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n")
	if refInfo.LogPath == "" {
		t.Fatal("the reference build ran no command")
	}
	refAPI := apiPhases(t, ref, refInfo.ID)

	work := t.TempDir()
	noop := newWorld(t, Options{WorkDir: work})
	for name, spec := range map[string]string{
		"no commands":           noopBuildspec,
		"only null commands":    "version: 0.2\nphases:\n  install:\n    commands:\n      - 'true'\n  build:\n    commands:\n      - ':'\n    finally:\n      - 'true'\n",
		"JSON with empty phase": `{"version": "0.2", "phases": {"build": {}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			info, evs, raws := startAndCollect(t, noop, spec)
			if info.Status != StatusSucceeded || info.LogPath != "" || info.WorkDir != "" {
				t.Errorf("status %s, log %q, work dir %q", info.Status, info.LogPath, info.WorkDir)
			}
			if len(evs) != len(refEvents) {
				t.Fatalf("%d events, want %d", len(evs), len(refEvents))
			}
			for i, ev := range evs {
				ref := refEvents[i]
				if eventName(ev) != eventName(ref) || ev.Detail.CompletedPhaseStatus != ref.Detail.CompletedPhaseStatus ||
					ev.Detail.BuildStatus != ref.Detail.BuildStatus || ev.Detail.CurrentPhase != ref.Detail.CurrentPhase ||
					len(ev.Detail.AdditionalInformation.Phases) != len(ref.Detail.AdditionalInformation.Phases) {
					t.Errorf("event %d: %s %s, want %s %s", i, eventName(ev), ev.Detail.CompletedPhaseStatus, eventName(ref), ref.Detail.CompletedPhaseStatus)
				}
				if g, w := keyPaths(t, raws[i]), keyPaths(t, refRaws[i]); strings.Join(g, "\n") != strings.Join(w, "\n") {
					t.Errorf("event %d (%s): fields differ\n got %v\nwant %v", i, eventName(ev), g, w)
				}
			}
			if got := apiPhases(t, noop, info.ID); got != refAPI {
				t.Errorf("BatchGetBuilds phases\n got %s\nwant %s", got, refAPI)
			}
		})
	}
	if entries, err := os.ReadDir(work); err != nil || len(entries) != 0 {
		t.Errorf("builds that run nothing made %v (%v)", entries, err)
	}
}

// apiPhases is a build's phases as BatchGetBuilds reports them: type, status, contexts.
func apiPhases(t *testing.T, w *world, id string) string {
	t.Helper()
	out, err := w.starter().BatchGetBuilds(context.Background(), &codebuild.BatchGetBuildsInput{Ids: []string{id}})
	if err != nil || len(out.Builds) != 1 {
		t.Fatalf("BatchGetBuilds: %v", err)
	}
	var parts []string
	for _, p := range out.Builds[0].Phases {
		parts = append(parts, fmt.Sprintf("%s %s %d", p.PhaseType, p.PhaseStatus, len(p.Contexts)))
	}
	return strings.Join(parts, ",")
}

// A build that runs nothing still spends the phase delay, and can be stopped meanwhile.
func TestNoOpBuildStops(t *testing.T) {
	w := newWorld(t, Options{PhaseDelay: 100 * time.Millisecond})
	cb := w.starter()
	out, err := startNoop(context.Background(), cb, sampleProject)
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Build.Id)
	waitUntil(t, w, id, func(b BuildInfo) bool { return b.CurrentPhase == phaseInstall || b.Complete })
	if _, err := cb.StopBuild(context.Background(), &codebuild.StopBuildInput{Id: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	info := w.wait(t, id)
	if info.Status != StatusStopped {
		t.Fatalf("status %s", info.Status)
	}
	assertPhase(t, info, phaseInstall, StatusStopped, PhaseContext{Message: messageStopped})
}

// sequences is a Publisher that keeps, per build, the names of its events only.
type sequences struct {
	mu     sync.Mutex
	events map[string][]string
	n      atomic.Int64
}

func (s *sequences) PublishDefault(_ context.Context, _, _ string, raw json.RawMessage) error {
	var ev struct {
		DetailType string   `json:"detail-type"`
		Resources  []string `json:"resources"`
		Detail     struct {
			BuildStatus    string `json:"build-status"`
			CompletedPhase string `json:"completed-phase"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil || len(ev.Resources) != 1 {
		return fmt.Errorf("event: %v", err)
	}
	name := "phase " + ev.Detail.CompletedPhase
	if ev.DetailType == detailTypeState {
		name = "state " + ev.Detail.BuildStatus
	}
	s.n.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events[ev.Resources[0]] = append(s.events[ev.Resources[0]], name)
	return nil
}

// counter is a Publisher that counts events and does nothing else, so that benchmarks
// measure the stand-in.
type counter struct{ n atomic.Int64 }

func (c *counter) PublishDefault(context.Context, string, string, json.RawMessage) error {
	c.n.Add(1)
	return nil
}

// runNoops starts n builds that run nothing through the SDK from `starters` goroutines,
// retrying each StartBuild the quota refuses, and waits for all of them.
func runNoops(tb testing.TB, w *world, n, starters int) (refused int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cb := w.starter()
	var next, refusals atomic.Int64
	errs := make(chan error, starters)
	for range starters {
		go func() {
			for next.Add(1) <= int64(n) {
				for attempt := 0; ; attempt++ {
					_, err := startNoop(ctx, cb, sampleProject)
					var limit *cbtypes.AccountLimitExceededException
					if errors.As(err, &limit) && attempt < 100_000 {
						refusals.Add(1)
						time.Sleep(time.Millisecond)
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					break
				}
			}
			errs <- nil
		}()
	}
	for range starters {
		if err := <-errs; err != nil {
			tb.Fatal(err)
		}
	}
	for _, b := range w.svc.Builds() {
		if _, err := w.svc.Wait(ctx, b.Account, b.Region, b.ID); err != nil {
			tb.Fatal(err)
		}
	}
	return refusals.Load()
}

// Thousands of builds that run nothing, under a quota, each publish every event once and
// never more run at once than the quota allows.
func TestNoOpBuildsAtScale(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 300
	}
	const quota = 20
	pub := &sequences{events: map[string][]string{}}
	w := newWorldPublishing(t, pub, Options{ConcurrentBuilds: quota, QueuedBuilds: quota, PhaseDelay: time.Millisecond})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	began := time.Now()
	refused := runNoops(t, w, n, 8)
	took := time.Since(began)
	runtime.ReadMemStats(&after)

	builds := w.svc.Builds()
	if len(builds) != n {
		t.Fatalf("%d builds, want %d", len(builds), n)
	}
	want := strings.Join(succeededEvents, ",")
	for _, b := range builds {
		if b.Status != StatusSucceeded {
			t.Fatalf("build %s: %s", b.ID, b.Status)
		}
		pub.mu.Lock()
		got := strings.Join(pub.events[b.ARN], ",")
		pub.mu.Unlock()
		if got != want {
			t.Fatalf("build %s events\n got %s\nwant %s", b.ID, got, want)
		}
	}
	if peak := maxRunning(builds); peak > quota {
		t.Errorf("%d builds ran at once, quota %d", peak, quota)
	}
	t.Logf("%d builds in %s (%.0f/s), %d events, %d StartBuild refusals, %.1f KiB allocated per build, %d goroutines after",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), pub.n.Load(), refused,
		float64(after.TotalAlloc-before.TotalAlloc)/float64(n)/1024, runtime.NumGoroutine())
}

// BenchmarkNoOpBuild is one build that runs nothing, started through the SDK and run to
// completion with every event published, no quota.
func BenchmarkNoOpBuild(b *testing.B) {
	pub := &counter{}
	w := newWorldPublishing(b, pub, Options{})
	b.ReportAllocs()
	b.ResetTimer()
	runNoops(b, w, b.N, 8)
	b.StopTimer()
	if got := pub.n.Load(); got != int64(b.N*len(succeededEvents)) {
		b.Fatalf("%d events for %d builds", got, b.N)
	}
}

// BenchmarkNoOpBuildInProcess is the stand-in's own share: StartBuild called in process,
// without HTTP, signing or the SDK.
func BenchmarkNoOpBuildInProcess(b *testing.B) {
	pub := &counter{}
	svc := New(pub, Options{WorkDir: b.TempDir()})
	b.Cleanup(func() { _ = svc.Close() })
	for _, p := range loadJSON[[]Project](b, "projects.json") {
		if err := svc.AddProject(p); err != nil {
			b.Fatal(err)
		}
	}
	caller := localaws.Caller{Principal: localaws.Principal{Account: targetAccount, ARN: starterARN, RoleARN: starterARN}, Region: targetRegion}
	b.ReportAllocs()
	b.ResetTimer()
	builds := make([]*build, 0, b.N)
	for range b.N {
		bd, err := svc.start(buildRequest{caller: caller, project: sampleProject, buildspec: noopBuildspec})
		if err != nil {
			b.Fatal(err)
		}
		builds = append(builds, bd)
	}
	for _, bd := range builds {
		<-bd.done
	}
	b.StopTimer()
	if got := pub.n.Load(); got != int64(b.N*len(succeededEvents)) {
		b.Fatalf("%d events for %d builds", got, b.N)
	}
}
