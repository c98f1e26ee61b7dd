// Package metrics writes counters in CloudWatch embedded metric format: one JSON line on
// stdout that CloudWatch Logs turns into a metric, with no API call on the hot path.
package metrics

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Namespace of every crossbuild metric.
const Namespace = "crossbuild"

// Counter names.
const (
	TaskAlreadyClosed = "TaskAlreadyClosed" // SendTask* found the task closed
	EventIgnored      = "EventIgnored"      // event for an unknown build or already completed task
	EventRejected     = "EventRejected"     // event whose account or Region contradicts the record
	EventParked       = "EventParked"       // terminal event that arrived before the record
	EventForeignBuild = "EventForeignBuild" // terminal event without a record of a build crossbuild did not start
	TaskCompleted     = "TaskCompleted"     // completion sent
	SendFailed        = "SendFailed"        // SendTask* failed and the claim was released
	BuildStarted      = "BuildStarted"      // the starter's StartBuild was accepted
	BuildStopped      = "BuildStopped"      // the canceller or the reconciler stopped a build of an ended execution
	StopSkipped       = "StopSkipped"       // the canceller left a record alone (build ended, not ours)
	StopFailed        = "StopFailed"        // the canceller could not stop a build; the event is retried

	// The reconciler's sweep over open records.
	RecordsReconciled      = "RecordsReconciled"      // a completion had been lost; the reconciler delivered it
	RecordsClosed          = "RecordsClosed"          // a record whose execution had ended was closed (STOPPED)
	ReconcileBuildNotFound = "ReconcileBuildNotFound" // CodeBuild does not know an open record's build
	ReconcileFailed        = "ReconcileFailed"        // a record could not be reconciled; the next run tries again
	ReconcileTruncated     = "ReconcileTruncated"     // a run stopped at its limit or deadline with records left
)

// Completion metrics, with the dimension Path (one of the Path* values) instead of
// Function: one path is taken by several functions (event: the callback, and the starter
// when the build ended before its record).
const (
	Completions   = "Completions"   // a target's task was closed
	CompletionLag = "CompletionLag" // seconds from the build's end to its task closed

	PathEvent      = "event"      // the callback (or the starter) sent the outcome of the build's event
	PathFallback   = "fallback"   // the poller closed a target that waited for events
	PathPoll       = "poll"       // the poller closed a target in poll mode
	PathReconciler = "reconciler" // the reconciler delivered a completion that had been lost
)

// Recorder emits counters for one function.
type Recorder struct {
	mu       sync.Mutex
	w        io.Writer
	function string
	now      func() time.Time
}

// New returns a recorder writing to w with a Function dimension.
func New(w io.Writer, function string) *Recorder {
	return &Recorder{w: w, function: function, now: time.Now}
}

type emfDirective struct {
	Namespace  string     `json:"Namespace"`
	Dimensions [][]string `json:"Dimensions"`
	Metrics    []emfName  `json:"Metrics"`
}

type emfName struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// Count adds 1 to the named counter. A nil Recorder counts nothing.
func (r *Recorder) Count(name string) {
	if r == nil {
		return
	}
	r.write([]string{"Function"}, []emfName{{Name: name, Unit: "Count"}}, map[string]any{name: 1})
}

// Completion records one closed task on path: Completions, and CompletionLag when the
// build's end is known (lag >= 0; pass a negative lag when it is not). A nil Recorder
// records nothing.
func (r *Recorder) Completion(path string, lag time.Duration) {
	if r == nil {
		return
	}
	names := []emfName{{Name: Completions, Unit: "Count"}}
	values := map[string]any{Completions: 1, "Path": path}
	if lag >= 0 {
		names = append(names, emfName{Name: CompletionLag, Unit: "Seconds"})
		values[CompletionLag] = lag.Seconds()
	}
	r.write([]string{"Path"}, names, values)
}

// write emits one EMF line: the metrics in names, with their values and the dimension
// values in values, and Function always as a property.
func (r *Recorder) write(dimensions []string, names []emfName, values map[string]any) {
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp":         r.now().UnixMilli(),
			"CloudWatchMetrics": []emfDirective{{Namespace: Namespace, Dimensions: [][]string{dimensions}, Metrics: names}},
		},
		"Function": r.function,
	}
	for k, v := range values {
		doc[k] = v
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.w.Write(append(line, '\n'))
}
