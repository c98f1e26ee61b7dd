// Package outcome turns what CodeBuild says about a build, through an event or through
// BatchGetBuilds, into the per-target result and failure cause of crossbuild.
//
// Both completion paths (callback and poller) go through Build, so the same build yields
// the same result whichever path completes it; only CompletedBy differs.
package outcome

import (
	"encoding/json"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"

	"github.com/crossbuild/crossbuild/internal/failure"
)

// Build statuses.
const (
	StatusSucceeded  = "SUCCEEDED"
	StatusFailed     = "FAILED"
	StatusFault      = "FAULT"
	StatusStopped    = "STOPPED"
	StatusTimedOut   = "TIMED_OUT"
	StatusInProgress = "IN_PROGRESS"
)

// Completion paths.
const (
	ByEvent      = "event"
	ByPoll       = "poll"
	ByReconciler = "reconciler" // a scheduled sweep found the build ended and completed it
)

// IsTerminal reports whether a build status is final. CodeBuild has five; AWS's own sample
// event pattern lists only three, which leaves FAULT and TIMED_OUT builds waiting forever.
func IsTerminal(status string) bool {
	switch status {
	case StatusSucceeded, StatusFailed, StatusFault, StatusStopped, StatusTimedOut:
		return true
	}
	return false
}

// ErrorName is the Step Functions error of a failed build, e.g. "CodeBuild.FAILED".
func ErrorName(status string) string { return failure.CodeBuild(status) }

// What CodeBuild allows in a build ARN's parts; lengths are checked apart (a bounded
// repetition would compile into one instruction per repetition at every cold start).
var (
	partitionRe = regexp.MustCompile(`^[a-z-]+$`)
	regionRe    = regexp.MustCompile(`^[a-z0-9-]+$`)
	accountRe   = regexp.MustCompile(`^[0-9]{12}$`)
	projectRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]+$`) // 2-255 characters
	buildUUIDRe = regexp.MustCompile(`^[A-Za-z0-9-]+$`)             // at most 128 characters
)

// ARN is a parsed CodeBuild build ARN.
type ARN struct {
	Partition, Region, Account, Project, BuildID string
}

// ParseBuildARN parses arn:<partition>:codebuild:<region>:<account>:build/<project>:<uuid>.
func ParseBuildARN(s string) (ARN, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return ARN{}, fmt.Errorf("%q is not a CodeBuild build ARN: %w", s, err)
	}
	id, isBuild := strings.CutPrefix(a.Resource, "build/")
	project, uuid, _ := strings.Cut(id, ":")
	if a.Service != "codebuild" || !isBuild || !partitionRe.MatchString(a.Partition) || !regionRe.MatchString(a.Region) ||
		!accountRe.MatchString(a.AccountID) || len(project) > 255 || !projectRe.MatchString(project) ||
		len(uuid) > 128 || !buildUUIDRe.MatchString(uuid) {
		return ARN{}, fmt.Errorf("%q is not a CodeBuild build ARN", s)
	}
	return ARN{Partition: a.Partition, Region: a.Region, Account: a.AccountID, Project: project, BuildID: id}, nil
}

// BuildARN returns the ARN of build id (project:uuid) in an account and Region.
func BuildARN(partition, region, account, buildID string) string {
	return fmt.Sprintf("arn:%s:codebuild:%s:%s:build/%s", partition, region, account, buildID)
}

// Build is what crossbuild needs to know about one build, whichever way it learned it.
// Times are truncated to seconds because events carry no more precision than that.
type Build struct {
	ARN          string    `json:"buildArn"`
	ID           string    `json:"buildId"`
	Project      string    `json:"project"`
	Account      string    `json:"account"`
	Region       string    `json:"region"`
	Status       string    `json:"status"`
	Start        time.Time `json:"startTime,omitzero"`
	End          time.Time `json:"endTime,omitzero"`
	FailedPhase  string    `json:"failedPhase,omitempty"`
	LogsDeepLink string    `json:"logsDeepLink,omitempty"`
	// Phases is what the build did so far, for its trace; not stored with an outcome kept
	// on a token record.
	Phases []Phase `json:"-"`
}

// Phase is one phase of a build, times truncated to seconds like the rest of Build. End is
// zero while the phase runs, and for COMPLETED, which marks the build's end.
type Phase struct {
	Name, Status string
	Start, End   time.Time
}

// FromEvent reads a CodeBuild "Build State Change" or "Build Phase Change" event. The
// event's account and Region must be those of the build ARN: an event that claims
// otherwise is misrouted or forged.
func FromEvent(ev events.CodeBuildEvent) (Build, error) {
	arn, err := ParseBuildARN(ev.Detail.BuildID)
	if err != nil {
		return Build{}, fmt.Errorf("detail.build-id: %w", err)
	}
	if ev.AccountID != arn.Account || ev.Region != arn.Region {
		return Build{}, fmt.Errorf("event from account %s in %s names build %s of account %s in %s",
			ev.AccountID, ev.Region, ev.Detail.BuildID, arn.Account, arn.Region)
	}
	if ev.Detail.ProjectName != "" && ev.Detail.ProjectName != arn.Project {
		return Build{}, fmt.Errorf("detail.project-name %q does not match build %s", ev.Detail.ProjectName, ev.Detail.BuildID)
	}
	info := ev.Detail.AdditionalInformation
	b := Build{
		ARN: ev.Detail.BuildID, ID: arn.BuildID, Project: arn.Project, Account: arn.Account, Region: arn.Region,
		Status:       string(ev.Detail.BuildStatus),
		Start:        seconds(time.Time(info.BuildStartTime)),
		LogsDeepLink: info.Logs.DeepLink,
	}
	for _, p := range info.Phases {
		b.Phases = append(b.Phases, Phase{Name: string(p.PhaseType), Status: string(p.PhaseStatus),
			Start: seconds(time.Time(p.StartTime)), End: seconds(time.Time(p.EndTime))})
	}
	b.End, b.FailedPhase = summarize(b.Phases)
	if b.End.IsZero() && IsTerminal(b.Status) {
		b.End = seconds(ev.Time)
	}
	return b, nil
}

// FromCodeBuild reads a build returned by BatchGetBuilds.
func FromCodeBuild(cb cbtypes.Build) (Build, error) {
	arnStr := deref(cb.Arn)
	arn, err := ParseBuildARN(arnStr)
	if err != nil {
		return Build{}, fmt.Errorf("build arn: %w", err)
	}
	b := Build{
		ARN: arnStr, ID: arn.BuildID, Project: arn.Project, Account: arn.Account, Region: arn.Region,
		Status: string(cb.BuildStatus),
	}
	if cb.StartTime != nil {
		b.Start = seconds(*cb.StartTime)
	}
	if cb.Logs != nil {
		b.LogsDeepLink = deref(cb.Logs.DeepLink)
	}
	for _, p := range cb.Phases {
		ph := Phase{Name: string(p.PhaseType), Status: string(p.PhaseStatus)}
		if p.StartTime != nil {
			ph.Start = seconds(*p.StartTime)
		}
		if p.EndTime != nil {
			ph.End = seconds(*p.EndTime)
		}
		b.Phases = append(b.Phases, ph)
	}
	b.End, b.FailedPhase = summarize(b.Phases)
	if cb.EndTime != nil && IsTerminal(b.Status) {
		b.End = seconds(*cb.EndTime)
	}
	return b, nil
}

// summarize finds when the build ended (the COMPLETED phase starts when the build ends)
// and the first phase that did not succeed.
func summarize(phases []Phase) (end time.Time, failed string) {
	for _, p := range phases {
		if p.Name == "COMPLETED" && !p.Start.IsZero() {
			end = seconds(p.Start)
		}
		if failed == "" && p.Status != "" && p.Status != StatusSucceeded && p.Status != StatusInProgress {
			failed = p.Name
		}
	}
	return end, failed
}

// Result is the per-target result collected into the execution output.
type Result struct {
	Account         string    `json:"account"`
	Region          string    `json:"region"`
	Project         string    `json:"project"`
	BuildID         string    `json:"buildId"`
	BuildARN        string    `json:"buildArn"`
	Status          string    `json:"status"`
	CompletedBy     string    `json:"completedBy"`
	StartTime       time.Time `json:"startTime,omitzero"`
	EndTime         time.Time `json:"endTime,omitzero"`
	DurationSeconds int64     `json:"durationSeconds"`
	LogsDeepLink    string    `json:"logsDeepLink,omitempty"`
	EnvOverrides    []string  `json:"envOverrides"`
	FailedPhase     string    `json:"failedPhase,omitempty"`
}

// NewResult builds the result of a finished build. envOverrides are variable names only.
func NewResult(b Build, envOverrides []string, completedBy string) Result {
	if envOverrides == nil {
		envOverrides = []string{}
	}
	r := Result{
		Account: b.Account, Region: b.Region, Project: b.Project, BuildID: b.ID, BuildARN: b.ARN,
		Status: b.Status, CompletedBy: completedBy, StartTime: b.Start, EndTime: b.End,
		LogsDeepLink: b.LogsDeepLink, EnvOverrides: envOverrides,
	}
	if b.Status != StatusSucceeded {
		r.FailedPhase = b.FailedPhase
	}
	if !b.Start.IsZero() && b.End.After(b.Start) {
		r.DurationSeconds = int64(b.End.Sub(b.Start) / time.Second)
	}
	return r
}

// Cause is the small JSON cause of a CodeBuild.<STATUS> failure.
type Cause struct {
	BuildARN     string `json:"buildArn"`
	Status       string `json:"status"`
	Phase        string `json:"phase,omitempty"`
	LogsDeepLink string `json:"logsDeepLink,omitempty"`
}

// Failure returns the Step Functions error name and cause of a build that did not succeed.
func Failure(b Build) (errorName, cause string) {
	raw, _ := json.Marshal(Cause{BuildARN: b.ARN, Status: b.Status, Phase: b.FailedPhase, LogsDeepLink: b.LogsDeepLink})
	return ErrorName(b.Status), string(raw)
}

func seconds(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
