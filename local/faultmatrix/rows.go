package faultmatrix

import (
	"time"

	"github.com/crossbuild/crossbuild/local/faults"
)

// Row is one fault of the matrix: a plan run over one execution of many targets, or an
// execution stopped while its builds run.
type Row struct {
	Name  string // short and unique: the subtest's name and Run's selector
	Fault string // what is injected, for the table
	Plan  faults.Plan
	// Abort stops the execution once every build runs and counts the builds still running
	// a little later, instead of letting the execution end.
	Abort bool
	// HeartbeatSeconds is each target's heartbeat; 0 means the smallest, 60 s (2 s of wall
	// time), so that a lost event costs a poll. A row that must not lean on the polling
	// fallback asks for the planner's default, 3600 s, which outlasts the row.
	HeartbeatSeconds int
}

// Functions and operations the rows aim at.
const (
	starter  = "crossbuild-starter"
	callback = "crossbuild-callback"
	poller   = "crossbuild-poller"
)

// Rows is the matrix docs/reliability.md describes, in its order.
func Rows() []Row {
	return []Row{
		{Name: "baseline", Fault: "none"},
		{Name: "dynamodb-500", Fault: "30% of the functions' writes applied, then answered 500",
			Plan: faults.Plan{Answers: []faults.AnswerRule{{Name: "writes answered 500", Loss: faults.Answer500, Fraction: 0.3}}}},
		{Name: "dynamodb-drop", Fault: "30% of the functions' writes applied, then the connection dropped",
			Plan: faults.Plan{Answers: []faults.AnswerRule{{Name: "writes with dropped answers", Loss: faults.DropConnection, Fraction: 0.3}}}},
		{Name: "sfn-throttle", Fault: "50% of SendTaskSuccess/Failure/Heartbeat throttled (ThrottlingException)",
			Plan: faults.Plan{Throttles: []faults.ThrottleRule{{Name: "Step Functions throttled", Service: "states",
				Ops: []string{"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"}, Fraction: 0.5}}}},
		{Name: "sts-throttle", Fault: "60% of AssumeRole throttled (Throttling)",
			Plan: faults.Plan{Throttles: []faults.ThrottleRule{{Name: "STS throttled", Service: "sts",
				Ops: []string{"AssumeRole"}, Fraction: 0.6}}}},
		{Name: "codebuild-throttle", Fault: "50% of StartBuild/BatchGetBuilds/StopBuild throttled (ThrottlingException)",
			Plan: faults.Plan{Throttles: []faults.ThrottleRule{{Name: "CodeBuild throttled", Service: "codebuild",
				Ops: []string{"StartBuild", "BatchGetBuilds", "StopBuild"}, Fraction: 0.5}}}},
		{Name: "events-drop", Fault: "30% of the events to the callback dropped",
			Plan: faults.Plan{Events: []faults.EventRule{{Name: "events dropped", Function: callback, Kind: faults.Drop, Fraction: 0.3}}}},
		{Name: "events-duplicate", Fault: "50% of the events to the callback delivered 3 times at once",
			Plan: faults.Plan{Events: []faults.EventRule{{Name: "events tripled", Function: callback, Kind: faults.Duplicate, Fraction: 0.5, Copies: 3}}}},
		{Name: "events-reorder", Fault: "50% of the events to the callback overtaken by their build's next event",
			Plan: faults.Plan{Events: []faults.EventRule{{Name: "events reordered", Function: callback, Kind: faults.Reorder, Fraction: 0.5, MaxDelay: time.Second}}}},
		{Name: "events-delay", Fault: "every event to the callback delayed 0-3 s (the heartbeat times out after 2 s)",
			Plan: faults.Plan{Events: []faults.EventRule{{Name: "events delayed", Function: callback, Kind: faults.Delay, Fraction: 1, MaxDelay: 3 * time.Second}}}},
		{Name: "starter-killed", Fault: "60% of the starters killed between StartBuild and their record write",
			Plan: faults.Plan{Kills: []faults.KillRule{{Name: "starter killed before its record", Fraction: 0.6,
				Writes: faults.Writes{Function: starter, KeyPrefix: "arn:"}}}}},
		{Name: "starter-slow", Fault: "every starter's record write held 1.5 s, past its build's end: the terminal event comes first and is parked",
			Plan: faults.Plan{Stalls: []faults.StallRule{{Name: "record write held", Fraction: 1, Delay: 1500 * time.Millisecond,
				Writes: faults.Writes{Function: starter, Ops: []string{"PutItem"}, KeyPrefix: "arn:"}}}}},
		{Name: "parked-send-throttled", Fault: "every starter's record write held 1.5 s, so it adopts a parked outcome; 60% of the sends throttled; 1 h heartbeat",
			HeartbeatSeconds: 3600,
			Plan: faults.Plan{
				Stalls: []faults.StallRule{{Name: "record write held", Fraction: 1, Delay: 1500 * time.Millisecond,
					Writes: faults.Writes{Function: starter, Ops: []string{"PutItem"}, KeyPrefix: "arn:"}}},
				Throttles: []faults.ThrottleRule{{Name: "sends throttled", Service: "states",
					Ops: []string{"SendTaskSuccess", "SendTaskFailure"}, Fraction: 0.6}},
			}},
		{Name: "callback-killed", Fault: "60% of the callbacks killed once their claim is applied",
			Plan: faults.Plan{Kills: []faults.KillRule{{Name: "callback killed after its claim", Fraction: 0.6, After: true,
				Writes: faults.Writes{Function: callback, SetsState: "CLAIMED"}}}}},
		{Name: "callback-killed-after-send", Fault: "60% of the callbacks killed after their completion was accepted, before the record says so",
			Plan: faults.Plan{Kills: []faults.KillRule{{Name: "callback killed after its send", Fraction: 0.6,
				Writes: faults.Writes{Function: callback, SetsState: "COMPLETED"}}}}},
		{Name: "poller-killed", Fault: "every event to the callback dropped, so every target polls; 60% of the pollers killed as they record the build's end",
			Plan: faults.Plan{
				Events: []faults.EventRule{{Name: "events dropped", Function: callback, Kind: faults.Drop, Fraction: 1}},
				Kills: []faults.KillRule{{Name: "poller killed at its record write", Fraction: 0.6,
					Writes: faults.Writes{Function: poller, SetsState: "COMPLETED"}}},
			}},
		{Name: "mixed", Fault: "the faults above at once, at lower rates", Plan: mixed()},
		{Name: "abort", Fault: "execution stopped while its builds run", Abort: true},
		{Name: "abort-stopbuild-throttled", Fault: "execution stopped while its builds run, 60% of StopBuild throttled", Abort: true,
			Plan: faults.Plan{Throttles: []faults.ThrottleRule{{Name: "StopBuild throttled", Service: "codebuild",
				Ops: []string{"StopBuild"}, Fraction: 0.6}}}},
	}
}

// mixed is the faults at once, each at a lower rate, so that they meet: a throttled send
// after a lost claim answer, a duplicate of a delayed event, a killed callback whose event
// is retried while its build's next event overtakes it, a retried starter whose first
// attempt died.
func mixed() faults.Plan {
	return faults.Plan{
		Answers: []faults.AnswerRule{
			{Name: "mixed: writes answered 500", Loss: faults.Answer500, Fraction: 0.1},
			{Name: "mixed: writes with dropped answers", Loss: faults.DropConnection, Fraction: 0.1},
		},
		Throttles: []faults.ThrottleRule{
			{Name: "mixed: Step Functions throttled", Service: "states", Ops: []string{"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"}, Fraction: 0.2},
			{Name: "mixed: STS throttled", Service: "sts", Ops: []string{"AssumeRole"}, Fraction: 0.2},
			{Name: "mixed: CodeBuild throttled", Service: "codebuild", Ops: []string{"StartBuild", "BatchGetBuilds", "StopBuild"}, Fraction: 0.2},
		},
		Events: []faults.EventRule{
			{Name: "mixed: events dropped", Function: callback, Kind: faults.Drop, Fraction: 0.1},
			{Name: "mixed: events tripled", Function: callback, Kind: faults.Duplicate, Fraction: 0.2, Copies: 3},
			{Name: "mixed: events reordered", Function: callback, Kind: faults.Reorder, Fraction: 0.2, MaxDelay: time.Second},
			{Name: "mixed: events delayed", Function: callback, Kind: faults.Delay, Fraction: 0.2, MaxDelay: 3 * time.Second},
		},
		Kills: []faults.KillRule{
			{Name: "mixed: starter killed before its record", Fraction: 0.2, Writes: faults.Writes{Function: starter, KeyPrefix: "arn:"}},
			{Name: "mixed: callback killed after its claim", Fraction: 0.2, After: true, Writes: faults.Writes{Function: callback, SetsState: "CLAIMED"}},
			{Name: "mixed: callback killed after its send", Fraction: 0.2, Writes: faults.Writes{Function: callback, SetsState: "COMPLETED"}},
			{Name: "mixed: poller killed at its record write", Fraction: 0.2, Writes: faults.Writes{Function: poller, SetsState: "COMPLETED"}},
		},
		Stalls: []faults.StallRule{{Name: "mixed: record write held", Fraction: 0.2, Delay: 1500 * time.Millisecond,
			Writes: faults.Writes{Function: starter, Ops: []string{"PutItem"}, KeyPrefix: "arn:"}}},
	}
}
