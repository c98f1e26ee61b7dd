package codebuild

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"

	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/testclock"
)

func plaintext(name, value string) cbtypes.EnvironmentVariable {
	return cbtypes.EnvironmentVariable{Name: aws.String(name), Value: aws.String(value), Type: cbtypes.EnvironmentVariableTypePlaintext}
}

// The sample build runs `env | tee env_vars.txt` with the overrides laid over the
// project's variables, CodeBuild's own variables, and nothing of the host's environment.
func TestStartBuildRunsTheBuildspecWithTheMergedEnvironment(t *testing.T) {
	const sentinel = "CROSSBUILD_HOST_SECRET"
	t.Setenv(sentinel, "must-not-leak")
	w := newWorld(t, Options{})
	cb := w.starter()
	ctx := context.Background()

	out, err := cb.StartBuild(ctx, &codebuild.StartBuildInput{
		ProjectName: aws.String(sampleProject),
		EnvironmentVariablesOverride: []cbtypes.EnvironmentVariable{
			plaintext("SAMPLE_VAR1", "Value1"), plaintext("HARDCODED_VAR1", "I am hardcoded"),
		},
		SourceVersion: aws.String("refs/heads/main"),
	})
	if err != nil {
		t.Fatalf("StartBuild: %v", err)
	}
	started := out.Build
	id := aws.ToString(started.Id)
	uuid, ok := strings.CutPrefix(id, sampleProject+":")
	if !ok || len(uuid) != 36 {
		t.Fatalf("build id %q is not project:uuid", id)
	}
	wantARN := "arn:aws:codebuild:eu-west-1:222222222222:build/" + id
	if got := aws.ToString(started.Arn); got != wantARN {
		t.Errorf("arn = %s, want %s", got, wantARN)
	}
	if started.BuildStatus != cbtypes.StatusTypeInProgress || started.BuildNumber == nil || *started.BuildNumber != 1 {
		t.Errorf("started build: status %s number %v", started.BuildStatus, started.BuildNumber)
	}

	info := w.wait(t, id)
	if info.Status != StatusSucceeded {
		t.Fatalf("status %s, log:\n%s", info.Status, readFile(t, info.LogPath))
	}
	envFile := readFile(t, filepath.Join(info.WorkDir, "env_vars.txt"))
	for _, want := range []string{
		"SAMPLE_VAR1=Value1", "HARDCODED_VAR1=I am hardcoded", "PROJECT_ONLY=project value",
		"CODEBUILD_BUILD_ID=" + id, "CODEBUILD_BUILD_ARN=" + wantARN, "CODEBUILD_BUILD_NUMBER=1",
		"CODEBUILD_INITIATOR=" + starterName, "CODEBUILD_SRC_DIR=" + info.WorkDir,
		"CODEBUILD_SOURCE_VERSION=refs/heads/main", "CODEBUILD_BUILD_SUCCEEDING=1",
		"AWS_REGION=eu-west-1", "AWS_DEFAULT_REGION=eu-west-1", "PATH=" + minimalPath,
		"CODEBUILD_START_TIME=" + strconv.FormatInt(info.Start.UnixMilli(), 10),
	} {
		if !containsLine(envFile, want) {
			t.Errorf("env_vars.txt lacks %q:\n%s", want, envFile)
		}
	}
	for _, bad := range []string{sentinel, "SAMPLE_VAR1=from-project", "HOME=" + os.Getenv("HOME") + "\n"} {
		if strings.Contains(envFile, bad) {
			t.Errorf("env_vars.txt holds %q:\n%s", bad, envFile)
		}
	}
	if log := readFile(t, info.LogPath); !strings.Contains(log, "SAMPLE_VAR1=Value1") || !strings.Contains(log, "Running command env | tee env_vars.txt") {
		t.Errorf("the log lacks the command and its output:\n%s", log)
	}

	got, err := cb.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{id}})
	if err != nil || len(got.Builds) != 1 {
		t.Fatalf("BatchGetBuilds: %v %+v", err, got)
	}
	b := got.Builds[0]
	checkFinishedBuild(t, b, wantARN, uuid)
	wantEnv := []string{"SAMPLE_VAR1=Value1/PLAINTEXT", "PROJECT_ONLY=project value/PLAINTEXT", "HARDCODED_VAR1=I am hardcoded/PLAINTEXT"}
	if env := envStrings(b.Environment.EnvironmentVariables); strings.Join(env, ",") != strings.Join(wantEnv, ",") {
		t.Errorf("environmentVariables = %v, want %v", env, wantEnv)
	}
	if aws.ToString(b.SourceVersion) != "refs/heads/main" || aws.ToString(b.Initiator) != starterName {
		t.Errorf("sourceVersion %q initiator %q", aws.ToString(b.SourceVersion), aws.ToString(b.Initiator))
	}
	if aws.ToInt32(b.TimeoutInMinutes) != 10 || aws.ToInt32(b.QueuedTimeoutInMinutes) != 480 {
		t.Errorf("timeouts %d/%d", aws.ToInt32(b.TimeoutInMinutes), aws.ToInt32(b.QueuedTimeoutInMinutes))
	}

	// What the poller makes of it.
	res, err := outcome.FromCodeBuild(b)
	if err != nil || res.Status != outcome.StatusSucceeded || res.FailedPhase != "" || res.End.IsZero() || res.LogsDeepLink == "" {
		t.Errorf("outcome.FromCodeBuild = %+v, %v", res, err)
	}
}

// checkFinishedBuild checks what BatchGetBuilds says of a finished build.
func checkFinishedBuild(t *testing.T, b cbtypes.Build, arn, uuid string) {
	t.Helper()
	if aws.ToString(b.Arn) != arn || !b.BuildComplete || b.StartTime == nil || b.EndTime == nil {
		t.Errorf("build %s: arn %s complete %v start %v end %v", aws.ToString(b.Id), aws.ToString(b.Arn), b.BuildComplete, b.StartTime, b.EndTime)
	}
	if aws.ToString(b.CurrentPhase) != phaseCompleted {
		t.Errorf("currentPhase = %s", aws.ToString(b.CurrentPhase))
	}
	want := []string{phaseSubmitted, phaseQueued, phaseProvisioning, phaseDownloadSource, phaseInstall, phasePreBuild,
		phaseBuild, phasePostBuild, phaseUploadArtifacts, phaseFinalizing, phaseCompleted}
	var kinds []string
	for _, p := range b.Phases {
		kinds = append(kinds, string(p.PhaseType))
		if p.PhaseType == cbtypes.BuildPhaseTypeCompleted {
			continue
		}
		if p.StartTime == nil || p.EndTime == nil || p.DurationInSeconds == nil || len(p.Contexts) == 0 {
			t.Errorf("phase %s lacks times, duration or contexts: %+v", p.PhaseType, p)
		}
	}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Errorf("phases %v, want %v", kinds, want)
	}
	logs := b.Logs
	wantLink := "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Faws$252Fcodebuild$252F" + aws.ToString(b.ProjectName) + "/log-events/" + uuid
	if logs == nil || aws.ToString(logs.DeepLink) != wantLink || aws.ToString(logs.StreamName) != uuid || aws.ToString(logs.GroupName) != "/aws/codebuild/"+aws.ToString(b.ProjectName) {
		t.Errorf("logs = %+v, want deep link %s", logs, wantLink)
	}
}

func envStrings(vs []cbtypes.EnvironmentVariable) []string {
	var out []string
	for _, v := range vs {
		out = append(out, aws.ToString(v.Name)+"="+aws.ToString(v.Value)+"/"+string(v.Type))
	}
	return out
}

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// A failing command fails the build in BUILD with CodeBuild's context, through the API as
// the poller reads it.
func TestFailedBuildThroughTheAPI(t *testing.T) {
	w := newWorld(t, Options{})
	cb := w.starter()
	ctx := context.Background()
	out, err := cb.StartBuild(ctx, &codebuild.StartBuildInput{
		ProjectName:       aws.String(sampleProject),
		BuildspecOverride: aws.String("version: 0.2\nphases:\n  build:\n    commands:\n      - exit 1\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Build.Id)
	w.wait(t, id)
	got, err := cb.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	b := got.Builds[0]
	if b.BuildStatus != cbtypes.StatusTypeFailed {
		t.Fatalf("status %s", b.BuildStatus)
	}
	var build *cbtypes.BuildPhase
	for i := range b.Phases {
		if b.Phases[i].PhaseType == cbtypes.BuildPhaseTypeBuild {
			build = &b.Phases[i]
		}
	}
	if build == nil || build.PhaseStatus != cbtypes.StatusTypeFailed || len(build.Contexts) != 1 ||
		aws.ToString(build.Contexts[0].StatusCode) != "COMMAND_EXECUTION_ERROR" ||
		aws.ToString(build.Contexts[0].Message) != "Error while executing command: exit 1. Reason: exit status 1" {
		t.Fatalf("BUILD phase = %+v", build)
	}
	res, err := outcome.FromCodeBuild(b)
	if err != nil || res.Status != outcome.StatusFailed || res.FailedPhase != phaseBuild {
		t.Errorf("outcome.FromCodeBuild = %+v, %v", res, err)
	}
}

// StopBuild kills the running command and whatever it left in the background.
func TestStopBuild(t *testing.T) {
	w := newWorld(t, Options{})
	cb := w.starter()
	ctx := context.Background()
	out, err := cb.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("sleeper")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Build.Id)
	info := waitForFile(t, w, id, "background.pid")
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(info.WorkDir, "background.pid"))))
	if err != nil {
		t.Fatal(err)
	}

	began := time.Now()
	stopped, err := cb.StopBuild(ctx, &codebuild.StopBuildInput{Id: aws.String(id)})
	if err != nil || aws.ToString(stopped.Build.Id) != id {
		t.Fatalf("StopBuild: %+v %v", stopped, err)
	}
	info = w.wait(t, id)
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("stop took %s", took)
	}
	if info.Status != StatusStopped {
		t.Fatalf("status %s", info.Status)
	}
	assertPhase(t, info, phaseBuild, StatusStopped, PhaseContext{StatusCode: "", Message: "BUILD_STOPPED"})
	if p := info.Phases[len(info.Phases)-2]; p.Type != phaseFinalizing {
		t.Errorf("a stopped build should finalize, phases %+v", info.Phases)
	}
	waitGone(t, pid)

	// Stopping it again returns the finished build.
	again, err := cb.StopBuild(ctx, &codebuild.StopBuildInput{Id: aws.String(id)})
	if err != nil || again.Build.BuildStatus != cbtypes.StatusTypeStopped {
		t.Errorf("second StopBuild: %+v %v", again, err)
	}
}

// The build's timeout (shrunk by TimeoutUnit) kills it as TIMED_OUT.
func TestBuildTimesOut(t *testing.T) {
	w := newWorld(t, Options{TimeoutUnit: 40 * time.Millisecond})
	cb := w.starter()
	out, err := cb.StartBuild(context.Background(), &codebuild.StartBuildInput{
		ProjectName: aws.String("sleeper"), TimeoutInMinutesOverride: aws.Int32(5),
	})
	if err != nil {
		t.Fatal(err)
	}
	info := w.wait(t, aws.ToString(out.Build.Id))
	if info.Status != StatusTimedOut {
		t.Fatalf("status %s", info.Status)
	}
	assertPhase(t, info, phaseBuild, StatusTimedOut, PhaseContext{StatusCode: "", Message: "BUILD_TIMED_OUT"})
	if d := info.End.Sub(info.Start); d > 5*time.Second {
		t.Errorf("a 200ms timeout took %s", d)
	}
}

func assertPhase(t *testing.T, info BuildInfo, kind, status string, ctx PhaseContext) {
	t.Helper()
	for _, p := range info.Phases {
		if p.Type == kind {
			if p.Status != status || len(p.Contexts) != 1 || p.Contexts[0] != ctx {
				t.Errorf("%s phase = %+v, want %s with %+v", kind, p, status, ctx)
			}
			return
		}
	}
	t.Errorf("no %s phase in %+v", kind, info.Phases)
}

// waitForFile waits until a build has written a file to its source directory.
func waitForFile(t *testing.T, w *world, id, name string) BuildInfo {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		info, ok := w.svc.Build(targetAccount, targetRegion, id)
		if !ok {
			t.Fatalf("build %s unknown", id)
		}
		if raw, err := os.ReadFile(filepath.Join(info.WorkDir, name)); err == nil && strings.HasSuffix(string(raw), "\n") {
			return info
		}
		if info.Complete {
			t.Fatalf("build ended %s before writing %s", info.Status, name)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("build %s did not write %s", id, name)
	return BuildInfo{}
}

// waitGone waits until a process has exited (or is a zombie awaiting its reaper).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("background process %d outlived its build", pid)
}

// StartBuild refuses what CodeBuild refuses, with CodeBuild's error codes.
func TestStartBuildErrors(t *testing.T) {
	w := newWorld(t, Options{})
	cb := w.starter()
	type tc struct {
		Name    string          `json:"name"`
		Request json.RawMessage `json:"request"`
		Code    string          `json:"code"`
		Message string          `json:"message"`
	}
	for _, c := range loadJSON[[]tc](t, "start_errors.json") {
		t.Run(c.Name, func(t *testing.T) {
			var in codebuild.StartBuildInput
			if err := json.Unmarshal(c.Request, &in); err != nil {
				t.Fatal(err)
			}
			_, err := cb.StartBuild(context.Background(), &in)
			if code := errorCode(err); code != c.Code {
				t.Fatalf("error %v, want code %s", err, c.Code)
			}
			if c.Message != "" && !strings.Contains(err.Error(), c.Message) {
				t.Errorf("error %q lacks %q", err, c.Message)
			}
		})
	}
	// The SDK types the errors the crossbuild starter tells apart.
	_, err := cb.StartBuild(context.Background(), &codebuild.StartBuildInput{ProjectName: aws.String("no-such-project")})
	var nf *cbtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("unknown project: %T %v", err, err)
	}
	_, err = cb.StartBuild(context.Background(), &codebuild.StartBuildInput{ProjectName: aws.String(sampleProject),
		EnvironmentVariablesOverride: []cbtypes.EnvironmentVariable{plaintext("CODEBUILD_X", "1")}})
	var invalid *cbtypes.InvalidInputException
	if !errors.As(err, &invalid) {
		t.Errorf("reserved prefix: %T %v", err, err)
	}
}

// The same idempotency token returns the same build for five minutes, refuses a changed
// request meanwhile, and starts a new build afterwards.
func TestIdempotencyToken(t *testing.T) {
	clk := testclock.New(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	w := newWorld(t, Options{Clock: clk.Now})
	cb := w.starter()
	ctx := context.Background()
	in := func(value string) *codebuild.StartBuildInput {
		return &codebuild.StartBuildInput{
			ProjectName:                  aws.String(sampleProject),
			IdempotencyToken:             aws.String("token-1"),
			EnvironmentVariablesOverride: []cbtypes.EnvironmentVariable{plaintext("SAMPLE_VAR1", value)},
		}
	}
	first, err := cb.StartBuild(ctx, in("Value1"))
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(4 * time.Minute)
	again, err := cb.StartBuild(ctx, in("Value1"))
	if err != nil || aws.ToString(again.Build.Id) != aws.ToString(first.Build.Id) {
		t.Fatalf("retry within 5 minutes: %v, id %s, want %s", err, aws.ToString(again.Build.Id), aws.ToString(first.Build.Id))
	}
	if _, err := cb.StartBuild(ctx, in("Value2")); errorCode(err) != "InvalidInputException" {
		t.Errorf("changed request with the same token: %v", err)
	}
	other, err := cb.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String(sampleProject)})
	if err != nil || aws.ToString(other.Build.Id) == aws.ToString(first.Build.Id) || aws.ToInt64(other.Build.BuildNumber) != 2 {
		t.Fatalf("a request without a token starts build 2: %+v %v", other, err)
	}
	clk.Advance(2 * time.Minute)
	later, err := cb.StartBuild(ctx, in("Value1"))
	if err != nil || aws.ToString(later.Build.Id) == aws.ToString(first.Build.Id) {
		t.Fatalf("after 5 minutes the token starts a new build: %v", err)
	}
	for _, id := range []string{aws.ToString(first.Build.Id), aws.ToString(other.Build.Id), aws.ToString(later.Build.Id)} {
		w.wait(t, id)
	}
}

// BatchGetBuilds finds builds by id or ARN in the caller's account and Region only.
func TestBatchGetBuildsScope(t *testing.T) {
	w := newWorld(t, Options{})
	cb := w.starter()
	ctx := context.Background()
	out, err := cb.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String(sampleProject)})
	if err != nil {
		t.Fatal(err)
	}
	id, arn := aws.ToString(out.Build.Id), aws.ToString(out.Build.Arn)
	w.wait(t, id)

	unknown := sampleProject + ":00000000-0000-4000-8000-000000000000"
	got, err := cb.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{id, unknown, arn}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Builds) != 2 || aws.ToString(got.Builds[1].Id) != id || len(got.BuildsNotFound) != 1 || got.BuildsNotFound[0] != unknown {
		t.Errorf("builds %d, notFound %v", len(got.Builds), got.BuildsNotFound)
	}

	for name, other := range map[string]*codebuild.Client{
		"other account": w.client(otherAccount, "arn:aws:iam::333333333333:root", targetRegion),
		"other Region":  w.client(targetAccount, starterARN, "us-east-1"),
	} {
		got, err := other.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{id}})
		if err != nil || len(got.Builds) != 0 || len(got.BuildsNotFound) != 1 {
			t.Errorf("%s sees the build: %+v %v", name, got, err)
		}
		if _, err := other.StopBuild(ctx, &codebuild.StopBuildInput{Id: aws.String(id)}); errorCode(err) != "ResourceNotFoundException" {
			t.Errorf("%s StopBuild: %v", name, err)
		}
	}
	if _, err := cb.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: make([]string, 101)}); errorCode(err) != "ValidationException" {
		t.Errorf("101 ids: %v", err)
	}
}

func TestBatchGetProjects(t *testing.T) {
	w := newWorld(t, Options{})
	got, err := w.starter().BatchGetProjects(context.Background(), &codebuild.BatchGetProjectsInput{
		Names: []string{sampleProject, "other-account-project", "arn:aws:codebuild:eu-west-1:222222222222:project/sleeper"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Projects) != 2 || aws.ToString(got.Projects[0].Name) != sampleProject || aws.ToString(got.Projects[1].Name) != "sleeper" ||
		len(got.ProjectsNotFound) != 1 || got.ProjectsNotFound[0] != "other-account-project" {
		t.Fatalf("projects %+v notFound %v", got.Projects, got.ProjectsNotFound)
	}
	p := got.Projects[0]
	if p.Source == nil || p.Source.Type != cbtypes.SourceTypeNoSource || !strings.Contains(aws.ToString(p.Source.Buildspec), "env | tee env_vars.txt") ||
		aws.ToInt32(p.TimeoutInMinutes) != 10 || len(p.Environment.EnvironmentVariables) != 2 {
		t.Errorf("project = %+v", p)
	}
}

// DeleteProject removes a project of the caller's account by name or ARN; deleting one that
// does not exist succeeds.
func TestDeleteProject(t *testing.T) {
	w := newWorld(t, Options{})
	ctx := context.Background()
	for _, name := range []string{sampleProject, "arn:aws:codebuild:eu-west-1:222222222222:project/sleeper", "never-was"} {
		if _, err := w.starter().DeleteProject(ctx, &codebuild.DeleteProjectInput{Name: aws.String(name)}); err != nil {
			t.Fatalf("DeleteProject(%s): %v", name, err)
		}
	}
	got, err := w.starter().BatchGetProjects(ctx, &codebuild.BatchGetProjectsInput{Names: []string{sampleProject, "sleeper"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Projects) != 0 || len(got.ProjectsNotFound) != 2 {
		t.Fatalf("after DeleteProject: projects %+v notFound %v", got.Projects, got.ProjectsNotFound)
	}
}

// Close kills running builds, removes their folders and keeps their logs.
func TestCloseStopsBuildsAndCleansUp(t *testing.T) {
	work, logs := t.TempDir(), t.TempDir()
	w := newWorld(t, Options{WorkDir: work, LogDir: logs})
	out, err := w.starter().StartBuild(context.Background(), &codebuild.StartBuildInput{ProjectName: aws.String("sleeper")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Build.Id)
	info := waitForFile(t, w, id, "background.pid")
	pid, _ := strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(info.WorkDir, "background.pid"))))

	began := time.Now()
	if err := w.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Close took %s", took)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("work dir not emptied: %v", entries)
	}
	if !strings.HasPrefix(info.LogPath, logs) || !strings.Contains(readFile(t, info.LogPath), "Running command sleep 30") {
		t.Errorf("log %s not kept", info.LogPath)
	}
	waitGone(t, pid)
	if final, _ := w.svc.Build(targetAccount, targetRegion, id); final.Status != StatusStopped {
		t.Errorf("status after Close = %s", final.Status)
	}
	if _, err := w.starter().StartBuild(context.Background(), &codebuild.StartBuildInput{ProjectName: aws.String(sampleProject)}); err == nil {
		t.Error("StartBuild after Close succeeded")
	}
}

// ListBuildsForProject pages through a project's builds, newest first unless asked
// otherwise, and the builds it lists carry the overrides they were started with.
func TestListBuildsForProject(t *testing.T) {
	w := newWorld(t, Options{})
	cb := w.starter()
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		out, err := cb.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String(sampleProject),
			EnvironmentVariablesOverride: []cbtypes.EnvironmentVariable{plaintext("SAMPLE_VAR1", fmt.Sprint(i))}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.Build.Id))
	}
	for _, id := range ids {
		w.wait(t, id)
	}
	desc, err := cb.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String(sampleProject)})
	if err != nil || !slices.Equal(desc.Ids, []string{ids[2], ids[1], ids[0]}) || desc.NextToken != nil {
		t.Fatalf("newest first: %+v %v", desc, err)
	}
	asc, err := cb.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String(sampleProject), SortOrder: cbtypes.SortOrderTypeAscending})
	if err != nil || !slices.Equal(asc.Ids, ids) {
		t.Fatalf("ascending: %+v %v", asc, err)
	}
	got, err := cb.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: desc.Ids[:1]})
	if err != nil || len(got.Builds) != 1 {
		t.Fatalf("describe: %+v %v", got, err)
	}
	found := false
	for _, v := range got.Builds[0].Environment.EnvironmentVariables {
		found = found || (aws.ToString(v.Name) == "SAMPLE_VAR1" && aws.ToString(v.Value) == "2")
	}
	if !found {
		t.Fatalf("the newest build does not carry its override: %+v", got.Builds[0].Environment.EnvironmentVariables)
	}
	if _, err := cb.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("no-such-project")}); errorCode(err) != "ResourceNotFoundException" {
		t.Fatalf("unknown project: %v", err)
	}
	if _, err := cb.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String(sampleProject), NextToken: aws.String("x")}); errorCode(err) != "InvalidInputException" {
		t.Fatalf("bad token: %v", err)
	}
}
