package codebuild

import (
	"encoding/json"
	"strings"
	"time"
)

// Event detail types and source, as CodeBuild sends them.
const (
	eventSource          = "aws.codebuild"
	detailTypeState      = "CodeBuild Build State Change"
	detailTypePhase      = "CodeBuild Build Phase Change"
	eventVersion         = "0"
	detailVersion        = "1"
	emptyContextListText = "[]"
)

// The EventBridge envelope.
type eventEnvelope struct {
	Version    string   `json:"version"`
	ID         string   `json:"id"`
	DetailType string   `json:"detail-type"`
	Source     string   `json:"source"`
	Account    string   `json:"account"`
	Time       string   `json:"time"`
	Region     string   `json:"region"`
	Resources  []string `json:"resources"`
	Detail     any      `json:"detail"`
}

type stateDetail struct {
	BuildStatus           string         `json:"build-status"`
	ProjectName           string         `json:"project-name"`
	BuildID               string         `json:"build-id"`
	AdditionalInformation additionalInfo `json:"additional-information"`
	CurrentPhase          string         `json:"current-phase"`
	CurrentPhaseContext   string         `json:"current-phase-context"`
	Version               string         `json:"version"`
}

type phaseDetail struct {
	CompletedPhase         string         `json:"completed-phase"`
	ProjectName            string         `json:"project-name"`
	BuildID                string         `json:"build-id"`
	CompletedPhaseContext  string         `json:"completed-phase-context"`
	AdditionalInformation  additionalInfo `json:"additional-information"`
	CompletedPhaseStatus   string         `json:"completed-phase-status"`
	CompletedPhaseDuration float64        `json:"completed-phase-duration-seconds"`
	Version                string         `json:"version"`
	CompletedPhaseStart    string         `json:"completed-phase-start"`
	CompletedPhaseEnd      string         `json:"completed-phase-end"`
}

type additionalInfo struct {
	Artifact    eventArtifact    `json:"artifact"`
	Environment eventEnvironment `json:"environment"`
	// Timeout and BuildNumber are numbers with a fraction in CodeBuild's events. They are
	// missing from the events sent before provisioning ends.
	Timeout        *float64     `json:"timeout-in-minutes,omitempty"`
	BuildComplete  bool         `json:"build-complete"`
	BuildNumber    *float64     `json:"build-number,omitempty"`
	Initiator      string       `json:"initiator"`
	BuildStartTime string       `json:"build-start-time"`
	Source         eventSrc     `json:"source"`
	SourceVersion  string       `json:"source-version"`
	Logs           eventLogs    `json:"logs"`
	Phases         []eventPhase `json:"phases"`
	QueuedTimeout  float64      `json:"queued-timeout-in-minutes"`
}

type eventArtifact struct {
	Location string `json:"location"`
}

type eventEnvironment struct {
	Image          string     `json:"image"`
	PrivilegedMode bool       `json:"privileged-mode"`
	ComputeType    string     `json:"compute-type"`
	Type           string     `json:"type"`
	Variables      []eventVar `json:"environment-variables"`
}

type eventVar struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

type eventSrc struct {
	Buildspec string `json:"buildspec"`
	Type      string `json:"type"`
}

// eventLogs names the build's log. Until provisioning ends CodeBuild has no log stream
// yet, and its events carry only a deep link to nowhere.
type eventLogs struct {
	GroupName  string `json:"group-name,omitempty"`
	StreamName string `json:"stream-name,omitempty"`
	DeepLink   string `json:"deep-link"`
}

func pendingLogs(region string) eventLogs {
	return eventLogs{DeepLink: "https://console.aws.amazon.com/cloudwatch/home?region=" + region + "#logEvent:group=null;stream=null"}
}

// eventPhase is a phase as events list it: a running phase has no end, duration or
// status, and COMPLETED has no context either.
type eventPhase struct {
	Context   *[]string `json:"phase-context,omitempty"`
	StartTime string    `json:"start-time"`
	EndTime   string    `json:"end-time,omitempty"`
	Duration  *float64  `json:"duration-in-seconds,omitempty"`
	PhaseType string    `json:"phase-type"`
	Status    string    `json:"phase-status,omitempty"`
}

// contextText is how events write a phase context: "<status code>: <message>".
func contextText(c PhaseContext) string { return c.StatusCode + ": " + c.Message }

// contextListText is how events write a list of contexts inside a string field.
func contextListText(cs []PhaseContext) string {
	if len(cs) == 0 {
		return emptyContextListText
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = contextText(c)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// additional describes the build for an event; phases are the first n of the build's.
// detailed adds the timeout and build number, which CodeBuild's events carry only once
// the build is provisioned. Service.mu is held.
func (b *build) additional(n int, detailed bool) additionalInfo {
	p := b.project
	ai := additionalInfo{
		Environment: eventEnvironment{Image: p.Image, ComputeType: p.ComputeType, Type: environmentType,
			Variables: make([]eventVar, 0, len(b.env))},
		BuildComplete:  b.complete,
		Initiator:      b.initiator,
		BuildStartTime: eventTime(b.start),
		Source:         eventSrc{Buildspec: b.buildspec, Type: p.SourceType},
		SourceVersion:  b.sourceVersion,
		Phases:         make([]eventPhase, 0, n),
		QueuedTimeout:  float64(b.queuedTimeout),
	}
	for _, v := range b.env {
		ai.Environment.Variables = append(ai.Environment.Variables, eventVar{Name: v.Name, Type: v.Type, Value: v.Value})
	}
	if detailed {
		timeout, number := float64(b.timeout), float64(b.number)
		ai.Timeout, ai.BuildNumber = &timeout, &number
	}
	ai.Logs = pendingLogs(p.Region)
	for _, ph := range b.phases[:n] {
		if ph.kind == phaseProvisioning && ph.status != "" {
			ai.Logs = eventLogs{GroupName: logGroup(p.Name), StreamName: b.uuid, DeepLink: deepLink(p.Region, p.Name, b.uuid)}
		}
		ep := eventPhase{StartTime: eventTime(ph.start), PhaseType: ph.kind}
		if ph.kind != phaseCompleted {
			ctx := make([]string, 0, len(ph.contexts))
			for _, c := range ph.contexts {
				ctx = append(ctx, contextText(c))
			}
			ep.Context = &ctx
		}
		if ph.status != "" {
			d := float64(seconds(ph.start, ph.end))
			ep.EndTime, ep.Duration, ep.Status = eventTime(ph.end), &d, ph.status
		}
		ai.Phases = append(ai.Phases, ep)
	}
	return ai
}

// stateEvent is a "Build State Change" for the build as it is now. CodeBuild reports
// SUBMITTED as the current phase of its IN_PROGRESS event, whatever phase has begun since.
// Service.mu is held.
func (b *build) stateEvent(at time.Time) json.RawMessage {
	status, current, detailed := b.status, b.current().kind, b.complete
	if !b.complete {
		status, current = StatusInProgress, phaseSubmitted
	}
	d := stateDetail{
		BuildStatus: status, ProjectName: b.project.Name, BuildID: b.arn,
		AdditionalInformation: b.additional(len(b.phases), detailed),
		CurrentPhase:          current, CurrentPhaseContext: emptyContextListText, Version: detailVersion,
	}
	return b.envelope(detailTypeState, at, d)
}

// phaseEvent is a "Build Phase Change" for the i-th phase, which has just ended.
// Service.mu is held.
func (b *build) phaseEvent(i int, at time.Time) json.RawMessage {
	ph := b.phases[i]
	d := phaseDetail{
		CompletedPhase: ph.kind, ProjectName: b.project.Name, BuildID: b.arn,
		CompletedPhaseContext:  contextListText(ph.contexts),
		AdditionalInformation:  b.additional(i+1, phaseIndex(ph.kind) > phaseIndex(phaseProvisioning)),
		CompletedPhaseStatus:   ph.status,
		CompletedPhaseDuration: float64(seconds(ph.start, ph.end)),
		Version:                detailVersion,
		CompletedPhaseStart:    eventTime(ph.start),
		CompletedPhaseEnd:      eventTime(ph.end),
	}
	return b.envelope(detailTypePhase, at, d)
}

func (b *build) envelope(detailType string, at time.Time, detail any) json.RawMessage {
	raw, err := json.Marshal(eventEnvelope{
		Version: eventVersion, ID: newUUID(), DetailType: detailType, Source: eventSource,
		Account: b.project.Account, Time: at.UTC().Format(time.RFC3339), Region: b.project.Region,
		Resources: []string{b.arn}, Detail: detail,
	})
	if err != nil {
		// Only plain strings, numbers and slices are marshalled: this cannot happen.
		return nil
	}
	return raw
}

var phaseOrder = []string{phaseSubmitted, phaseQueued, phaseProvisioning, phaseDownloadSource, phaseInstall,
	phasePreBuild, phaseBuild, phasePostBuild, phaseUploadArtifacts, phaseFinalizing, phaseCompleted}

func phaseIndex(kind string) int {
	for i, k := range phaseOrder {
		if k == kind {
			return i
		}
	}
	return -1
}
