package codebuild

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"

	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
)

// startAndCollect runs a build of the sample project with a buildspec and returns its
// events, decoded as the callback decodes them, and the raw JSON.
func startAndCollect(t *testing.T, w *world, buildspec string) (BuildInfo, []events.CodeBuildEvent, []json.RawMessage) {
	t.Helper()
	in := &codebuild.StartBuildInput{
		ProjectName:                  aws.String(sampleProject),
		EnvironmentVariablesOverride: []cbtypes.EnvironmentVariable{plaintext("SAMPLE_VAR1", "Value1")},
	}
	if buildspec != "" {
		in.BuildspecOverride = aws.String(buildspec)
	}
	out, err := w.starter().StartBuild(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	info := w.wait(t, aws.ToString(out.Build.Id))
	var evs []events.CodeBuildEvent
	var raws []json.RawMessage
	for _, p := range w.pub.of(t, info.ARN) {
		if p.account != targetAccount || p.region != targetRegion {
			t.Errorf("event published to %s/%s, want the build's own default bus", p.account, p.region)
		}
		var ev events.CodeBuildEvent
		if err := json.Unmarshal(p.raw, &ev); err != nil {
			t.Fatalf("events.CodeBuildEvent cannot decode %s: %v", p.raw, err)
		}
		evs, raws = append(evs, ev), append(raws, p.raw)
	}
	return info, evs, raws
}

// eventName is "state IN_PROGRESS" or "phase BUILD".
func eventName(ev events.CodeBuildEvent) string {
	if ev.DetailType == events.CodeBuildStateChangeDetailType {
		return "state " + string(ev.Detail.BuildStatus)
	}
	return "phase " + string(ev.Detail.CompletedPhase)
}

// A build publishes IN_PROGRESS, a phase change for every phase, then its final state,
// with every field the callback reads.
func TestEventsOfASucceededBuild(t *testing.T) {
	w := newWorld(t, Options{})
	info, evs, _ := startAndCollect(t, w, "")

	want := []string{"state IN_PROGRESS", "phase SUBMITTED", "phase QUEUED", "phase PROVISIONING", "phase DOWNLOAD_SOURCE",
		"phase INSTALL", "phase PRE_BUILD", "phase BUILD", "phase POST_BUILD", "phase UPLOAD_ARTIFACTS", "phase FINALIZING",
		"state SUCCEEDED"}
	var got []string
	for _, ev := range evs {
		got = append(got, eventName(ev))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}

	ids := map[string]bool{}
	for i, ev := range evs {
		// Until provisioning ends CodeBuild's events link to no log at all.
		wantLink, wantStream := info.LogsDeepLink, strings.TrimPrefix(info.ID, sampleProject+":")
		if i < 3 {
			wantLink, wantStream = "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logEvent:group=null;stream=null", ""
		}
		if ev.Source != events.CodeBuildEventSource || ev.Version != "0" || ev.AccountID != targetAccount || ev.Region != targetRegion ||
			len(ev.Resources) != 1 || ev.Resources[0] != info.ARN || ev.Time.IsZero() || ids[ev.ID] || len(ev.ID) != 36 {
			t.Errorf("%s envelope = %+v", eventName(ev), ev)
		}
		ids[ev.ID] = true
		d := ev.Detail
		ai := d.AdditionalInformation
		if d.BuildID != info.ARN || d.ProjectName != sampleProject || d.Version != "1" || ai.Initiator != starterName ||
			ai.Logs.DeepLink != wantLink || ai.Logs.StreamName != wantStream ||
			!time.Time(ai.BuildStartTime).Equal(info.Start.UTC().Truncate(time.Second)) || ai.Source.Type != SourceNone {
			t.Errorf("%s detail = %+v", eventName(ev), d)
		}
		vars := ai.Environment.EnvironmentVariables
		if len(vars) != 2 || vars[0].Name != "SAMPLE_VAR1" || vars[0].Value != "Value1" || vars[0].Type != EnvPlaintext {
			t.Errorf("%s environment-variables = %+v", eventName(ev), vars)
		}
	}

	first, last := evs[0], evs[len(evs)-1]
	if first.Detail.CurrentPhase != phaseSubmitted || first.Detail.AdditionalInformation.BuildComplete {
		t.Errorf("IN_PROGRESS detail = %+v", first.Detail)
	}
	if ph := first.Detail.AdditionalInformation.Phases; len(ph) != 3 || ph[2].PhaseType != phaseProvisioning || ph[2].PhaseStatus != "" {
		t.Errorf("IN_PROGRESS phases = %+v", ph)
	}
	build := evs[7]
	if build.Detail.CompletedPhaseStatus != StatusSucceeded || build.Detail.CompletedPhaseContext != "[]" ||
		build.Detail.AdditionalInformation.BuildNumber != 1 || time.Duration(build.Detail.AdditionalInformation.Timeout) != 10*time.Minute {
		t.Errorf("BUILD phase change = %+v", build.Detail)
	}
	if !last.Detail.AdditionalInformation.BuildComplete || last.Detail.CurrentPhase != phaseCompleted {
		t.Errorf("final detail = %+v", last.Detail)
	}

	// The callback's reading of the final event agrees with the poller's reading of the
	// build through BatchGetBuilds.
	fromEvent, err := outcome.FromEvent(last)
	if err != nil {
		t.Fatal(err)
	}
	got2, err := w.starter().BatchGetBuilds(context.Background(), &codebuild.BatchGetBuildsInput{Ids: []string{info.ID}})
	if err != nil {
		t.Fatal(err)
	}
	fromAPI, err := outcome.FromCodeBuild(got2.Builds[0])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromEvent, fromAPI) || fromEvent.Status != outcome.StatusSucceeded || fromEvent.End.IsZero() {
		t.Errorf("outcome from event %+v\n       from API   %+v", fromEvent, fromAPI)
	}
}

// A failed build's events say which phase failed and why.
func TestEventsOfAFailedBuild(t *testing.T) {
	w := newWorld(t, Options{})
	_, evs, _ := startAndCollect(t, w, "version: 0.2\nphases:\n  build:\n    commands:\n      - exit 1\n")
	const why = "COMMAND_EXECUTION_ERROR: Error while executing command: exit 1. Reason: exit status 1"
	var sawPhase bool
	for _, ev := range evs {
		if ev.Detail.CompletedPhase == phaseBuild {
			sawPhase = true
			if ev.Detail.CompletedPhaseStatus != StatusFailed || ev.Detail.CompletedPhaseContext != "["+why+"]" {
				t.Errorf("BUILD phase change = %+v", ev.Detail)
			}
		}
	}
	last := evs[len(evs)-1]
	b, err := outcome.FromEvent(last)
	if !sawPhase || err != nil || b.Status != outcome.StatusFailed || b.FailedPhase != phaseBuild {
		t.Fatalf("final event: %+v %v", b, err)
	}
	for _, p := range last.Detail.AdditionalInformation.Phases {
		if p.PhaseType == phaseBuild && (len(p.PhaseContext) != 1 || p.PhaseContext[0] != why) {
			t.Errorf("BUILD phase-context = %v", p.PhaseContext)
		}
	}
}

// The events carry exactly the fields of the recorded CodeBuild events in
// internal/testfixtures, at every level.
func TestEventShapesMatchCodeBuild(t *testing.T) {
	w := newWorld(t, Options{})
	_, evs, raws := startAndCollect(t, w, "")
	byName := map[string]json.RawMessage{}
	for i, ev := range evs {
		byName[eventName(ev)] = raws[i]
	}
	for name, fixture := range map[string]string{
		"state IN_PROGRESS":  testfixtures.StateInProgress,
		"state SUCCEEDED":    testfixtures.StateSucceeded,
		"phase PROVISIONING": testfixtures.PhaseProvision,
		"phase BUILD":        testfixtures.PhaseBuild,
	} {
		want, err := testfixtures.Raw(fixture)
		if err != nil {
			t.Fatal(err)
		}
		got := byName[name]
		if got == nil {
			t.Fatalf("no %s event", name)
		}
		if g, w := keyPaths(t, got), keyPaths(t, want); strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: fields differ from %s\n got %v\nwant %v", name, fixture, g, w)
		}
	}
}

// keyPaths lists every key path of a JSON document, array elements merged under "[]".
func keyPaths(t *testing.T, raw []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				set[prefix+"/"+k] = true
				walk(prefix+"/"+k, child)
			}
		case []any:
			for _, child := range x {
				walk(prefix+"[]", child)
			}
		}
	}
	walk("", v)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
