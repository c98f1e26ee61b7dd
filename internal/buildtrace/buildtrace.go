// Package buildtrace puts a build into the X-Ray trace of the execution that started it:
// under the starter's invocation, the build as a segment of its own (a CodeBuild project
// node), one subsegment per phase, and the completion of the target's task.
//
// Every function that learns something about a build adds to that one trace: the starter
// when it starts the build, the callback from each Phase Change and State Change event,
// the poller from BatchGetBuilds, whoever sends the task's outcome when Step Functions
// accepts it. Document ids are derived from the trace, the build ARN and what the
// document stands for, so duplicated and late events rewrite the same documents instead of
// adding segments. The trace and the starter's span come from the token record (traceId,
// traceParent); a record without a parent belongs to a trace that was not sampled, and
// nothing is sent for it.
package buildtrace

import (
	"context"
	"log/slog"
	"time"

	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// Origin is the type of the build's segment, shown under its name on the service map.
const Origin = "AWS::CodeBuild::Project"

// CompletionName names the completion's subsegment.
const CompletionName = "completion"

// Annotation keys the build's documents add to the project's own (tracing.Key*).
const (
	KeyBuildStatus    = "build_status"
	KeyCompletedBy    = "completed_by"    // event | poll | reconciler, as in the results
	KeyCompletionPath = "completion_path" // event | fallback | poll | reconciler
)

// Target is a build and the place in its execution's trace where it goes.
type Target struct {
	TraceID, Parent                    string
	BuildARN, Account, Region, Project string
}

// FromRecord reads the target from a token record.
func FromRecord(rec tokenstore.Record) Target {
	return Target{TraceID: rec.TraceID, Parent: rec.TraceParent, BuildARN: rec.BuildARN,
		Account: rec.Account, Region: rec.Region, Project: rec.Project}
}

// Traced reports whether the build has a trace to go into.
func (t Target) Traced() bool { return t.TraceID != "" && t.Parent != "" && t.BuildARN != "" }

// BuildID is the id of the build's segment.
func (t Target) BuildID() string { return tracing.DocumentID(t.TraceID, t.BuildARN, "build") }

// PhaseID is the id of a phase's subsegment.
func (t Target) PhaseID(name string) string {
	return tracing.DocumentID(t.TraceID, t.BuildARN, "phase", name)
}

// CompletionID is the id of the completion's subsegment.
func (t Target) CompletionID() string {
	return tracing.DocumentID(t.TraceID, t.BuildARN, "completion")
}

// Started is the build's segment, in progress, as the starter knows it right after
// StartBuild. Any later complete segment of the build replaces it.
func Started(t Target, at time.Time) []tracing.Document {
	if !t.Traced() {
		return nil
	}
	d := t.build(at)
	d.InProgress = true
	d.Annotations[KeyBuildStatus] = outcome.StatusInProgress
	return []tracing.Document{d}
}

// Phases are the subsegments of b's phases that ended. A phase's document is the same
// whichever event or BatchGetBuilds answer reports it.
func Phases(t Target, b outcome.Build) []tracing.Document {
	if !t.Traced() {
		return nil
	}
	var out []tracing.Document
	for _, p := range b.Phases {
		if p.Name == "" || p.Start.IsZero() || p.End.IsZero() {
			continue // running, or COMPLETED, which only marks the end
		}
		d := tracing.Document{
			TraceID: t.TraceID, ID: t.PhaseID(p.Name), ParentID: t.BuildID(), Subsegment: true,
			Name: p.Name, Start: p.Start, End: p.End,
			Metadata: map[string]any{"phase_status": p.Status},
		}
		d.Error, d.Fault = failed(p.Status)
		if d.Error || d.Fault {
			d.ErrorType, d.ErrorMessage = "CodeBuild.phase."+p.Status, "phase "+p.Name+" "+p.Status
		}
		out = append(out, d)
	}
	return out
}

// Finished is the complete build segment of a build that ended, and its phases.
func Finished(t Target, b outcome.Build) []tracing.Document {
	if !t.Traced() || !outcome.IsTerminal(b.Status) {
		return nil
	}
	start, end := b.Start, b.End
	if start.IsZero() && len(b.Phases) > 0 {
		start = b.Phases[0].Start
	}
	if end.IsZero() || start.IsZero() {
		return Phases(t, b) // nothing to draw the build with; its phases still show
	}
	d := t.build(start)
	d.End = end
	d.Annotations[KeyBuildStatus] = b.Status
	d.Error, d.Fault = failed(b.Status)
	if d.Error || d.Fault {
		d.ErrorType = outcome.ErrorName(b.Status)
		d.ErrorMessage = "build " + b.Status
		if b.FailedPhase != "" {
			d.ErrorMessage += " in phase " + b.FailedPhase
		}
	}
	if b.LogsDeepLink != "" {
		d.Metadata["logs"] = b.LogsDeepLink
	}
	return append([]tracing.Document{d}, Phases(t, b)...)
}

// Closed says how a target's task was closed.
type Closed struct {
	By        string // completedBy of the result: event, poll, reconciler
	Path      string // event, fallback, poll, reconciler: see Path
	Operation string // SendTaskSuccess or SendTaskFailure; empty when the poller's result closed it
	At        time.Time
}

// Completion is the completion's subsegment, under the build: it spans from the build's
// end to the moment the task was closed, which is the completion's lag.
func Completion(t Target, b outcome.Build, c Closed) []tracing.Document {
	if !t.Traced() {
		return nil
	}
	start := b.End
	if start.IsZero() || start.After(c.At) {
		start = c.At
	}
	d := tracing.Document{
		TraceID: t.TraceID, ID: t.CompletionID(), ParentID: t.BuildID(), Subsegment: true,
		Name: CompletionName, Start: start, End: c.At, Operation: c.Operation,
		Annotations: map[string]any{KeyCompletedBy: c.By, KeyCompletionPath: c.Path},
		Metadata:    map[string]any{"build_status": b.Status, "lag_seconds": c.At.Sub(start).Seconds()},
	}
	return []tracing.Document{d}
}

// Close adds the ended build, its phases and its completion to the execution's trace.
// Best effort: a trace never holds up a completion, so a failure is only logged.
func Close(ctx context.Context, log *slog.Logger, t Target, b outcome.Build, closed Closed) {
	docs := append(Finished(t, b), Completion(t, b, closed)...)
	if err := tracing.Emit(ctx, docs...); err != nil {
		log.Warn("build not added to the execution's trace", "error", err.Error())
	}
}

// Lag is how long after the build's end its task was closed, or -1 when the build's end is
// unknown (metrics.Recorder.Completion then records no lag).
func Lag(b outcome.Build, at time.Time) time.Duration {
	if b.End.IsZero() {
		return -1
	}
	return max(at.Sub(b.End), 0)
}

// Path names the way a completion came, for the completion metrics (metrics.Path*) and the
// trace: the completedBy of the result, except that a poller closing a target that was waiting for
// events is the fallback, taken when events stopped (heartbeat timeout or the target's
// timeout).
func Path(by, completion string) string {
	if by == outcome.ByPoll && completion == target.CompletionEvent {
		return metrics.PathFallback
	}
	return by
}

func (t Target) build(start time.Time) tracing.Document {
	return tracing.Document{
		TraceID: t.TraceID, ID: t.BuildID(), ParentID: t.Parent, Name: t.Project, Origin: Origin,
		Start: start, Region: t.Region, AccountID: t.Account,
		Annotations: map[string]any{tracing.KeyBuildARN: t.BuildARN},
		Metadata:    map[string]any{"build_arn": t.BuildARN},
	}
}

// failed maps a build or phase status to X-Ray's flags: a fault for CodeBuild's own
// failures, an error for the build's (failed commands, timeouts, stops).
func failed(status string) (isError, fault bool) {
	switch status {
	case "", outcome.StatusSucceeded, outcome.StatusInProgress:
		return false, false
	case outcome.StatusFault:
		return false, true
	}
	return true, false
}
