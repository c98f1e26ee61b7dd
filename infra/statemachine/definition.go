// Package statemachine builds the crossbuild state machine definition (Amazon States Language,
// JSONPath query language).
//
// The definition is plain data so it can be tested without CDK; the source stack passes
// the Lambda ARNs as CDK tokens, which end up as an Fn::Join in the template.
//
// Shape: the planner function checks the execution input and writes one item per target into
// the deployment's bucket; a Distributed Map reads them and runs each target as a child
// execution of its own (own history, own payload budget); the children's results are written
// back to the bucket; the summariser function reads them and returns a small summary, which
// ends the execution as its output or, beyond the failure tolerance, as the cause of
// TargetsFailed.
//
// A child execution either waits for the build's completion event
// (lambda:invoke.waitForTaskToken on the starter) or polls (starter, then Wait → poller →
// Choice). A heartbeat or overall timeout of the event wait falls back to polling the same
// build; the poller doubles its interval up to a cap, so a child's history stays bounded
// whatever the build's length. A child ends with the target's result as its output, or fails
// with the target's error name and its failure result as the cause, so the Map Run counts
// failures against ToleratedFailureCount and ToleratedFailurePercentage.
package statemachine

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/crossbuild/crossbuild/internal/failure"
)

// Resource ARNs of the Step Functions integrations.
const (
	LambdaInvoke          = "arn:aws:states:::lambda:invoke"
	LambdaInvokeWithToken = "arn:aws:states:::lambda:invoke.waitForTaskToken"
	S3GetObject           = "arn:aws:states:::s3:getObject"
	S3PutObject           = "arn:aws:states:::s3:putObject"
)

// State names. Tests and docs refer to them. State names are unique across the definition,
// child states included.
const (
	StatePlanRun           = "Plan run"
	StateReadInputError    = "Read input error"
	StateInvalidInput      = "Invalid input"
	StateRunTargets        = "Run targets"
	StateSummarise         = "Summarise"
	StateCheckFailures     = "Within failure tolerance?"
	StateDone              = "Done"
	StateTargetsFailed     = "Targets failed"
	StateCheckTarget       = "Check target"
	StateInvalidTarget     = "Invalid target"
	StateStartAndWait      = "Start build and wait for event"
	StateFallBack          = "Fall back to polling"
	StateStartForPolling   = "Start build for polling"
	StateWaitBeforePolling = "Wait before polling"
	StatePollBuild         = "Poll build"
	StateBuildFinished     = "Build finished?"
	StateBuildSucceeded    = "Build succeeded"
	StateBuildFailed       = "Build failed"
	StateStopTargetBuild   = "Stop target build"
	StateTargetFailed      = "Target failed"
	StateFailTarget        = "Fail target"
)

// Error names raised by the state machine itself or by its functions for the whole input.
// Every error name of the definition comes from failure's table, which a test holds to the
// Go types and to the names the Lambda runtime sends.
const (
	ErrInvalidInput      = failure.NameInvalidInput
	ErrInvalidTarget     = failure.NameInvalidTarget
	ErrTargetsFailed     = failure.NameTargetsFailed
	ErrToleranceExceeded = failure.StatesToleratedFailureExit
)

// MapRunLabel names the Map Run; child executions are named <state machine>/<label>:<id>.
const MapRunLabel = "targets"

// Error names the Lambda functions raise (internal/failure) and the Lambda service errors.
var (
	LambdaServiceErrors = []string{
		failure.LambdaServiceException,
		failure.LambdaAWSLambdaException,
		failure.LambdaSdkClientException,
		failure.LambdaTooManyRequestsException,
	}
	// RetriedErrors are retried with backoff; every other error fails the target at once
	// (InvalidTarget, TargetNotAllowed, StartBuildFailed, AssumeRoleFailed, ...).
	RetriedErrors = append(append([]string{}, LambdaServiceErrors...), failure.NameBuildQuotaExceeded, failure.NameTransientError)
	// TimeoutErrors of the event wait trigger the polling fallback.
	TimeoutErrors = []string{failure.StatesHeartbeatTimeout, failure.StatesTimeout}
	// InterruptedErrors end an invocation that may have done part of its work: the function
	// timed out (Sandbox.Timedout; Lambda.Unknown where Lambda reports it so), its process
	// exited (Runtime.ExitError), or the invoke gave up waiting for it
	// (Lambda.ClientExecutionTimeoutException). Only idempotent functions retry them.
	// NoBuildRunningErrors fail a target with no build left running: the build ended (its
	// terminal status names the error), or none was started (a refused target). Every other
	// failure first goes through the canceller, which stops the item's build if it runs.
	NoBuildRunningErrors = []string{
		failure.CodeBuildFailed, failure.CodeBuildFault, failure.CodeBuildStopped, failure.CodeBuildTimedOut,
		failure.NameInvalidTarget, failure.NameTargetNotAllowed, failure.NameAssumeRoleFailed,
	}
	InterruptedErrors = []string{
		failure.SandboxTimedout,
		failure.RuntimeExitError,
		failure.LambdaUnknown,
		failure.LambdaClientExecutionTimeoutException,
	}
)

// Params are the values the definition is built from. Input defaults and limits live in the
// planner (internal/plan), which resolves every target's settings before the Map reads them.
type Params struct {
	PlannerARN    string // may be a CDK token
	StarterARN    string // may be a CDK token
	PollerARN     string // may be a CDK token
	SummariserARN string // may be a CDK token
	CancellerARN  string // may be a CDK token
}

func (p Params) validate() error {
	if p.PlannerARN == "" || p.StarterARN == "" || p.PollerARN == "" || p.SummariserARN == "" || p.CancellerARN == "" {
		return fmt.Errorf("planner, starter, poller, summariser and canceller ARNs are required")
	}
	return nil
}

// obj keeps the definition literals short.
type obj = map[string]any

// Definition returns the state machine definition as a JSON document.
func Definition(p Params) (string, error) {
	def, err := Build(p)
	if err != nil {
		return "", err
	}
	// No HTML escaping: causes stay readable in the console.
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(def); err != nil {
		return "", fmt.Errorf("encode state machine definition: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// Build returns the state machine definition as data.
func Build(p Params) (map[string]any, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("state machine parameters: %w", err)
	}
	return obj{
		"Comment":       "crossbuild: start CodeBuild builds across accounts and Regions and collect their results",
		"QueryLanguage": "JSONPath",
		"StartAt":       StatePlanRun,
		"States":        topStates(p),
	}, nil
}

func topStates(p Params) obj {
	return obj{
		StatePlanRun: obj{
			"Type":     "Task",
			"Comment":  "Check the whole input and write one item per target to the bucket; any JSON is accepted here, so a bad input always gets a named error.",
			"Resource": LambdaInvoke,
			"Parameters": obj{
				"FunctionName": p.PlannerARN,
				"Payload": obj{
					"input.$":         "$",
					"executionArn.$":  "$$.Execution.Id",
					"executionName.$": "$$.Execution.Name",
				},
			},
			"ResultSelector": obj{"plan.$": "$.Payload"},
			"OutputPath":     "$.plan",
			"Retry":          []any{lambdaRetry(), transientRetry()},
			"Catch": []any{
				// ResultPath "$": the input may be an array or a string, where no path
				// below "$" can be set.
				obj{"ErrorEquals": []any{ErrInvalidInput}, "ResultPath": "$", "Next": StateReadInputError},
			},
			"Next": StateRunTargets,
		},
		StateReadInputError: obj{
			"Type":       "Pass",
			"Comment":    "The cause of a function error is its error document; its message names the field and the rule.",
			"Parameters": obj{"document.$": "States.StringToJson($.Cause)"},
			"Next":       StateInvalidInput,
		},
		StateInvalidInput: obj{
			"Type":      "Fail",
			"Error":     ErrInvalidInput,
			"CausePath": "$.document.errorMessage",
		},
		StateRunTargets: obj{
			"Type":  "Map",
			"Label": MapRunLabel,
			"ItemReader": obj{
				"Resource":     S3GetObject,
				"ReaderConfig": obj{"InputType": "JSON"},
				"Parameters":   obj{"Bucket.$": "$.items.bucket", "Key.$": "$.items.key"},
			},
			// Evaluated in this execution's context: $$.Execution.Id is the parent execution,
			// which with the index identifies the target's build (idempotency token, record).
			"ItemSelector": obj{
				"target.$":       "$$.Map.Item.Value.target",
				"settings.$":     "$$.Map.Item.Value.settings",
				"problem.$":      "$$.Map.Item.Value.problem",
				"mapIndex.$":     "$$.Map.Item.Index",
				"executionArn.$": "$$.Execution.Id",
			},
			"MaxConcurrencyPath":             "$.maxConcurrency",
			"ToleratedFailureCountPath":      "$.toleratedFailureCount",
			"ToleratedFailurePercentagePath": "$.toleratedFailurePercentage",
			"ItemProcessor": obj{
				"ProcessorConfig": obj{"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
				"StartAt":         StateCheckTarget,
				"States":          targetStates(p),
			},
			"ResultWriter": obj{
				"Resource":   S3PutObject,
				"Parameters": obj{"Bucket.$": "$.results.bucket", "Prefix.$": "$.results.prefix"},
			},
			"ResultPath": "$.mapRun",
			"Catch": []any{
				// Too many targets failed: the Map Run stopped; the summariser still reports
				// every result written so far.
				obj{"ErrorEquals": []any{ErrToleranceExceeded}, "ResultPath": "$.mapRunError", "Next": StateSummarise},
			},
			"Next": StateSummarise,
		},
		StateSummarise: obj{
			"Type":     "Task",
			"Comment":  "Read the results from the bucket and return counts, the first failures and where the full results are: a small output whatever the target count.",
			"Resource": LambdaInvoke,
			"Parameters": obj{
				"FunctionName": p.SummariserARN,
				"Payload.$":    "$",
			},
			"ResultSelector": obj{"report.$": "$.Payload"},
			"OutputPath":     "$.report",
			"Retry":          []any{lambdaRetry(), transientRetry()},
			"Next":           StateCheckFailures,
		},
		StateCheckFailures: obj{
			"Type": "Choice",
			"Choices": []any{
				obj{"Variable": "$.failed", "BooleanEquals": false, "Next": StateDone},
			},
			"Default": StateTargetsFailed,
		},
		StateDone: obj{"Type": "Succeed", "OutputPath": "$.output"},
		StateTargetsFailed: obj{
			"Type":      "Fail",
			"Error":     ErrTargetsFailed,
			"CausePath": "$.cause",
		},
	}
}

func targetStates(p Params) obj {
	hb, to := "$.settings.heartbeatSeconds", "$.settings.timeoutSeconds"

	// failure shapes the result of a target that did not succeed; the child then fails with
	// it. Every path it reads exists: the planner writes every settings key.
	failTarget := func(errorAndCause obj) obj {
		params := obj{
			"mapIndex.$": "$.mapIndex",
			"roleArn.$":  "$.settings.arn",
			"region.$":   "$.settings.region",
			"project.$":  "$.settings.codeBuildProject",
			"status":     "FAILED",
		}
		for k, v := range errorAndCause {
			params[k] = v
		}
		return obj{"Type": "Pass", "Parameters": params, "Next": StateFailTarget}
	}
	noBuildRunning := obj{"ErrorEquals": toAny(NoBuildRunningErrors), "ResultPath": "$.error", "Next": StateTargetFailed}
	catchAll := obj{"ErrorEquals": []any{failure.StatesALL}, "ResultPath": "$.error", "Next": StateStopTargetBuild}

	return obj{
		StateCheckTarget: obj{
			"Type": "Choice",
			"Choices": []any{
				obj{"Not": obj{"Variable": "$.problem", "IsNull": true}, "Next": StateInvalidTarget},
				obj{"And": []any{
					obj{"Variable": "$.settings.completion", "IsString": true},
					obj{"Variable": "$.settings.completion", "StringEquals": "poll"},
				}, "Next": StateStartForPolling},
			},
			// Any other completion value goes to the starter, which rejects it by name.
			"Default": StateStartAndWait,
		},
		StateInvalidTarget: failTarget(obj{"error": ErrInvalidTarget, "cause.$": "$.problem"}),
		StateStartAndWait: obj{
			"Type":     "Task",
			"Comment":  "The starter records the token; the callback completes the task from CodeBuild's events.",
			"Resource": LambdaInvokeWithToken,
			"Parameters": obj{
				"FunctionName": p.StarterARN,
				"Payload": obj{
					"target.$":       "$.target",
					"executionArn.$": "$.executionArn",
					"mapIndex.$":     "$.mapIndex",
					"taskToken.$":    "$$.Task.Token",
				},
			},
			"HeartbeatSecondsPath": hb,
			"TimeoutSecondsPath":   to,
			"Retry":                startRetries(),
			"Catch": []any{
				obj{"ErrorEquals": toAny(TimeoutErrors), "ResultPath": "$.fallback", "Next": StateFallBack},
				noBuildRunning,
				catchAll,
			},
			// The output is what the callback sent with SendTaskSuccess: the target's result.
			"End": true,
		},
		StateFallBack: obj{
			"Type":    "Pass",
			"Comment": "No event arrived in time: poll the build the starter already started, found by execution and index.",
			"Parameters": obj{"payload": obj{"next": obj{
				"executionArn.$":    "$.executionArn",
				"mapIndex.$":        "$.mapIndex",
				"intervalSeconds.$": "$.settings.pollIntervalSeconds",
			}}},
			"ResultPath": "$.poll",
			"Next":       StatePollBuild,
		},
		StateStartForPolling: obj{
			"Type":     "Task",
			"Resource": LambdaInvoke,
			"Parameters": obj{
				"FunctionName": p.StarterARN,
				"Payload": obj{
					"target.$":       "$.target",
					"executionArn.$": "$.executionArn",
					"mapIndex.$":     "$.mapIndex",
				},
			},
			// Shaped as a poller response, so the wait and the poll read one place.
			"ResultSelector": obj{"payload": obj{"next": obj{
				"buildId.$":         "$.Payload.buildId",
				"roleArn.$":         "$.Payload.roleArn",
				"region.$":          "$.Payload.region",
				"intervalSeconds.$": "$.Payload.pollIntervalSeconds",
			}}},
			"ResultPath": "$.poll",
			"Retry":      startRetries(),
			"Catch":      []any{noBuildRunning, catchAll},
			"Next":       StateWaitBeforePolling,
		},
		StateWaitBeforePolling: obj{
			"Type":        "Wait",
			"Comment":     "The poller doubles the interval after each poll, up to its cap.",
			"SecondsPath": "$.poll.payload.next.intervalSeconds",
			"Next":        StatePollBuild,
		},
		StatePollBuild: obj{
			"Type":     "Task",
			"Resource": LambdaInvoke,
			"Parameters": obj{
				"FunctionName": p.PollerARN,
				"Payload.$":    "$.poll.payload.next",
			},
			"ResultSelector": obj{"payload.$": "$.Payload"},
			"ResultPath":     "$.poll",
			"Retry":          pollRetries(),
			"Catch":          []any{catchAll},
			"Next":           StateBuildFinished,
		},
		StateBuildFinished: obj{
			"Type": "Choice",
			"Choices": []any{
				obj{"Variable": "$.poll.payload.status", "StringEquals": "SUCCEEDED", "Next": StateBuildSucceeded},
				obj{"Variable": "$.poll.payload.terminal", "BooleanEquals": true, "Next": StateBuildFailed},
			},
			"Default": StateWaitBeforePolling,
		},
		StateBuildSucceeded: obj{
			"Type":       "Pass",
			"OutputPath": "$.poll.payload.result",
			"End":        true,
		},
		StateBuildFailed: failTarget(obj{"error.$": "$.poll.payload.error", "cause.$": "$.poll.payload.cause"}),
		StateStopTargetBuild: obj{
			"Type":     "Task",
			"Comment":  "The target failed while its build may still run: the canceller stops the build this item started, if any, and closes its record.",
			"Resource": LambdaInvoke,
			"Parameters": obj{
				"FunctionName": p.CancellerARN,
				"Payload": obj{"stopTarget": obj{
					"executionArn.$": "$.executionArn",
					"mapIndex.$":     "$.mapIndex",
				}},
			},
			"ResultPath": nil,
			"Retry":      []any{lambdaRetry(), transientRetry()},
			// Best effort: the target's failure is reported whatever happens here; the
			// reconciler stops a build whose execution ended.
			"Catch": []any{obj{"ErrorEquals": []any{failure.StatesALL}, "ResultPath": nil, "Next": StateTargetFailed}},
			"Next":  StateTargetFailed,
		},
		StateTargetFailed: failTarget(obj{"error.$": "$.error.Error", "cause.$": "$.error.Cause"}),
		StateFailTarget: obj{
			"Type":      "Fail",
			"Comment":   "The child fails with the target's error name, so the Map Run counts it; the cause is the failure result.",
			"ErrorPath": "$.error",
			"CausePath": "States.JsonToString($)",
		},
	}
}

// startRetries retry the Lambda service errors, CodeBuild quota errors and transient
// dependency errors with exponential backoff and full jitter (many targets may hit the
// same quota at once). Nothing else is retried: invalid or refused targets fail fast.
//
// BuildQuotaExceeded waits longest, up to about 7.8 hours, like CodeBuild's own 8-hour
// queue timeout: a StartBuild refused for a quota or a rate started nothing, so waiting
// for capacity can never start a second build (docs/scale.md).
//
// An interrupted starter is retried too: it starts builds intent-first (internal/tokenstore
// intent.go), so a retry reuses the build an interrupted attempt started.
func startRetries() []any {
	return []any{
		lambdaRetry(),
		interruptedRetry(),
		obj{"ErrorEquals": []any{failure.NameBuildQuotaExceeded}, "IntervalSeconds": 30, "MaxAttempts": 50, "BackoffRate": 2, "MaxDelaySeconds": 600, "JitterStrategy": "FULL"},
		transientRetry(),
	}
}

// pollRetries have no quota rule (the poller never starts builds) and wait longer than the
// starter's, up to about 75 minutes: a poll only reads, so a throttled dependency must not
// fail a target whose build is running.
func pollRetries() []any {
	long := func(errs ...string) obj {
		return obj{"ErrorEquals": toAny(errs), "IntervalSeconds": 5, "MaxAttempts": 20, "BackoffRate": 2, "MaxDelaySeconds": 300, "JitterStrategy": "FULL"}
	}
	return []any{long(LambdaServiceErrors...), long(failure.NameTransientError), interruptedRetry()}
}

// interruptedRetry retries a function that timed out, crashed or was given up on, a few
// times: one invocation's work is bounded by its timeout, so a repeat is rarely different.
func interruptedRetry() obj {
	return obj{"ErrorEquals": toAny(InterruptedErrors), "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2, "JitterStrategy": "FULL"}
}

func lambdaRetry() obj {
	return obj{"ErrorEquals": toAny(LambdaServiceErrors), "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2, "JitterStrategy": "FULL"}
}

func transientRetry() obj {
	return obj{"ErrorEquals": []any{failure.NameTransientError}, "IntervalSeconds": 5, "MaxAttempts": 5, "BackoffRate": 2, "MaxDelaySeconds": 120, "JitterStrategy": "FULL"}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
