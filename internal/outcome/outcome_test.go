package outcome

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"

	"github.com/crossbuild/crossbuild/internal/testfixtures"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestFromEvent(t *testing.T) {
	const start = "2026-11-26T08:00:00Z"
	cases := []struct {
		fixture, status, failedPhase, end string
		terminal                          bool
	}{
		{testfixtures.StateSucceeded, StatusSucceeded, "", "2026-11-26T08:01:33Z", true},
		{testfixtures.StateFailed, StatusFailed, "BUILD", "2026-11-26T08:01:33Z", true},
		{testfixtures.StateFault, StatusFault, "DOWNLOAD_SOURCE", "2026-11-26T08:00:23Z", true},
		{testfixtures.StateStopped, StatusStopped, "BUILD", "2026-11-26T08:01:33Z", true},
		{testfixtures.StateTimedOut, StatusTimedOut, "BUILD", "2026-11-26T08:01:33Z", true},
		{testfixtures.StateInProgress, StatusInProgress, "", "", false},
		{testfixtures.PhaseBuild, "", "", "", false},
		{testfixtures.PhaseProvision, "", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			ev, err := testfixtures.Event(tc.fixture)
			if err != nil {
				t.Fatal(err)
			}
			b, err := FromEvent(ev)
			if err != nil {
				t.Fatalf("FromEvent: %v", err)
			}
			if b.ARN != testfixtures.BuildARN || b.ID != "sample-codebuild-project:0f8c3b4e-7d2a-4c1b-9e55-2a6d1f3c8b90" ||
				b.Account != "222222222222" || b.Region != "eu-west-1" || b.Project != "sample-codebuild-project" {
				t.Errorf("identity = %+v", b)
			}
			if b.Status != tc.status || b.FailedPhase != tc.failedPhase || IsTerminal(b.Status) != tc.terminal {
				t.Errorf("status %q phase %q, want %q %q", b.Status, b.FailedPhase, tc.status, tc.failedPhase)
			}
			if !b.Start.Equal(ts(start)) {
				t.Errorf("start = %v", b.Start)
			}
			if tc.end != "" && !b.End.Equal(ts(tc.end)) {
				t.Errorf("end = %v, want %s", b.End, tc.end)
			}
		})
	}
}

func TestFromEventRejectsMismatch(t *testing.T) {
	ev, err := testfixtures.Event(testfixtures.StateSucceeded)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(){
		"other account": func() { ev.AccountID = "999999999999" },
		"other region":  func() { ev.Region = "us-east-1" },
		"other project": func() { ev.Detail.ProjectName = "another-project" },
		"not an arn":    func() { ev.Detail.BuildID = "sample-codebuild-project:0f8c3b4e" },
		"empty":         func() { ev.Detail.BuildID = "" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			orig := ev
			defer func() { ev = orig }()
			mutate()
			if _, err := FromEvent(ev); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

// The callback and the poller must report the same build identically.
func TestEventAndBatchGetBuildsAgree(t *testing.T) {
	ev, err := testfixtures.Event(testfixtures.StateFailed)
	if err != nil {
		t.Fatal(err)
	}
	fromEvent, err := FromEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) *time.Time { v := ts(s).Add(417 * time.Millisecond); return &v }
	cb := cbtypes.Build{
		Arn: aws.String(testfixtures.BuildARN), Id: aws.String("sample-codebuild-project:0f8c3b4e-7d2a-4c1b-9e55-2a6d1f3c8b90"),
		BuildStatus: cbtypes.StatusTypeFailed, StartTime: at("2026-11-26T08:00:00Z"), EndTime: at("2026-11-26T08:01:33Z"),
		Logs: &cbtypes.LogsLocation{DeepLink: aws.String(ev.Detail.AdditionalInformation.Logs.DeepLink)},
		Phases: []cbtypes.BuildPhase{
			{PhaseType: cbtypes.BuildPhaseTypeSubmitted, PhaseStatus: cbtypes.StatusTypeSucceeded},
			{PhaseType: cbtypes.BuildPhaseTypeProvisioning, PhaseStatus: cbtypes.StatusTypeSucceeded},
			{PhaseType: cbtypes.BuildPhaseTypeBuild, PhaseStatus: cbtypes.StatusTypeFailed},
			{PhaseType: cbtypes.BuildPhaseTypeFinalizing, PhaseStatus: cbtypes.StatusTypeSucceeded},
			{PhaseType: cbtypes.BuildPhaseTypeCompleted, StartTime: at("2026-11-26T08:01:33Z")},
		},
	}
	fromAPI, err := FromCodeBuild(cb)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"HARDCODED_VAR1", "SAMPLE_VAR1"}
	a, b := NewResult(fromEvent, names, ByEvent), NewResult(fromAPI, names, ByEvent)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("event result %+v\n  api result %+v", a, b)
	}
	if a.DurationSeconds != 93 || a.FailedPhase != "BUILD" {
		t.Errorf("duration %d phase %q", a.DurationSeconds, a.FailedPhase)
	}
	e1, c1 := Failure(fromEvent)
	e2, c2 := Failure(fromAPI)
	if e1 != "CodeBuild.FAILED" || e1 != e2 || c1 != c2 {
		t.Fatalf("failures differ: %s %s / %s %s", e1, c1, e2, c2)
	}
	var cause Cause
	if err := json.Unmarshal([]byte(c1), &cause); err != nil {
		t.Fatal(err)
	}
	if cause != (Cause{BuildARN: testfixtures.BuildARN, Status: "FAILED", Phase: "BUILD", LogsDeepLink: ev.Detail.AdditionalInformation.Logs.DeepLink}) {
		t.Errorf("cause = %+v", cause)
	}
}

func TestResultJSON(t *testing.T) {
	b := Build{ARN: testfixtures.BuildARN, ID: "p:1", Project: "p", Account: "222222222222", Region: "eu-west-1",
		Status: StatusSucceeded, Start: ts("2026-11-26T08:00:00Z"), End: ts("2026-11-26T08:01:10Z"), FailedPhase: "X"}
	raw, err := json.Marshal(NewResult(b, nil, ByPoll))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"account":"222222222222","region":"eu-west-1","project":"p","buildId":"p:1","buildArn":"` + testfixtures.BuildARN +
		`","status":"SUCCEEDED","completedBy":"poll","startTime":"2026-11-26T08:00:00Z","endTime":"2026-11-26T08:01:10Z","durationSeconds":70,"envOverrides":[]}`
	if string(raw) != want {
		t.Fatalf("got  %s\nwant %s", raw, want)
	}
}

func TestParseBuildARN(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{testfixtures.BuildARN, true},
		{"arn:aws-cn:codebuild:cn-north-1:222222222222:build/p1:abc-def", true},
		{"arn:aws:codebuild:eu-west-1:222222222222:project/p1", false},
		{"arn:aws:codebuild:eu-west-1:2222:build/p1:abc", false},
		{"arn:aws:codebuild:eu-west-1:222222222222:build/p1", false},
		{"", false},
		// CodeBuild's limits: project names of 2-255 characters, build ids up to 128.
		{"arn:aws:codebuild:eu-west-1:222222222222:build/" + strings.Repeat("p", 255) + ":" + strings.Repeat("a", 128), true},
		{"arn:aws:codebuild:eu-west-1:222222222222:build/" + strings.Repeat("p", 256) + ":abc", false},
		{"arn:aws:codebuild:eu-west-1:222222222222:build/p1:" + strings.Repeat("a", 129), false},
	}
	for _, tc := range cases {
		a, err := ParseBuildARN(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseBuildARN(%q) err=%v", tc.in, err)
		}
		if tc.ok && BuildARN(a.Partition, a.Region, a.Account, a.BuildID) != tc.in {
			t.Errorf("round trip of %q gave %q", tc.in, BuildARN(a.Partition, a.Region, a.Account, a.BuildID))
		}
	}
}
