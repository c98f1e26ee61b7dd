// Package statemachine builds the crossbuild state machine definition (Amazon States Language,
// JSONPath query language).
//
// The definition is plain data so it can be tested without CDK; the source stack passes
// the Lambda ARNs as CDK tokens, which end up as an Fn::Join in the template.
//
// Shape: normalise the execution input (defaults merged with States.JsonMerge so every
// *Path always resolves), check it, then a Map over crossAccountTargetRoleArns. Each
// iteration normalises its target the same way and either waits for the build's
// completion event (lambda:invoke.waitForTaskToken on the starter) or polls (starter,
// then Wait → poller → Choice). A heartbeat or overall timeout of the event wait falls
// back to polling the same build. Every iteration ends with a result object; failures
// are caught and shaped into results so one target never cancels the others. After
// the Map, a summary decides between success and the TargetsFailed error.
package statemachine

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Resource ARNs of the Step Functions Lambda integrations.
const (
	LambdaInvoke          = "arn:aws:states:::lambda:invoke"
	LambdaInvokeWithToken = "arn:aws:states:::lambda:invoke.waitForTaskToken"
)

// State names. Tests and docs refer to them.
const (
	StatePrepareInput       = "Prepare input"
	StateApplyDefaults      = "Apply defaults"
	StateCheckInput         = "Check input"
	StateInvalidTargets     = "Invalid crossAccountTargetRoleArns"
	StateInvalidConcurrency = "Invalid maxConcurrency"
	StateInvalidTolerance   = "Invalid failureTolerance"
	StateRunTargets         = "Run targets"
	StateCollectResults     = "Collect results"
	StateSummarise          = "Summarise"
	StateCheckFailures      = "Within failure tolerance?"
	StateDone               = "Done"
	StateTargetsFailed      = "Targets failed"

	StateCheckTarget       = "Check target"
	StateTargetNotObject   = "Target is not an object"
	StateApplyTargetDefs   = "Apply target defaults"
	StateRouteTarget       = "Route target"
	StateInvalidWait       = "Invalid wait settings"
	StateInvalidPoll       = "Invalid poll interval"
	StateStartAndWait      = "Start build and wait for event"
	StateFallBack          = "Fall back to polling"
	StateStartForPolling   = "Start build for polling"
	StateWaitBeforePolling = "Wait before polling"
	StatePollBuild         = "Poll build"
	StateBuildFinished     = "Build finished?"
	StateBuildSucceeded    = "Build succeeded"
	StateBuildFailed       = "Build failed"
	StateTargetFailed      = "Target failed"
)

// Error names raised by the state machine itself.
const (
	ErrInvalidInput  = "InvalidInput"
	ErrInvalidTarget = "InvalidTarget"
	ErrTargetsFailed = "TargetsFailed"
)

// Error names the Lambda functions raise (internal/failure) and the Lambda service errors.
var (
	LambdaServiceErrors = []string{
		"Lambda.ServiceException",
		"Lambda.AWSLambdaException",
		"Lambda.SdkClientException",
		"Lambda.TooManyRequestsException",
	}
	// RetriedErrors are retried with backoff; every other error fails the target at once
	// (InvalidTarget, TargetNotAllowed, StartBuildFailed, AssumeRoleFailed, ...).
	RetriedErrors = append(append([]string{}, LambdaServiceErrors...), "BuildQuotaExceeded", "TransientError")
	// TimeoutErrors of the event wait trigger the polling fallback.
	TimeoutErrors = []string{"States.HeartbeatTimeout", "States.Timeout"}
)

// Input and per-target limits (docs/reference.md).
const (
	MaxTargets          = 1000
	MaxConcurrencyLimit = 1000
	MinHeartbeatSeconds = 60
	MaxHeartbeatSeconds = 86400
	MaxTimeoutSeconds   = 31536000
	MinPollSeconds      = 5
	MaxPollSeconds      = 3600
)

// Params are the values the definition is built from.
type Params struct {
	StarterARN string // may be a CDK token
	PollerARN  string // may be a CDK token

	MaxConcurrency      int // default of the input's maxConcurrency; 0 = no limit
	HeartbeatSeconds    int // default of a target's heartbeatSeconds
	TimeoutSeconds      int // default of a target's timeoutSeconds
	PollIntervalSeconds int // default of a target's pollIntervalSeconds
}

func (p Params) validate() error {
	switch {
	case p.StarterARN == "" || p.PollerARN == "":
		return fmt.Errorf("starter and poller ARNs are required")
	case p.MaxConcurrency < 0 || p.MaxConcurrency > MaxConcurrencyLimit:
		return fmt.Errorf("max concurrency %d outside 0..%d", p.MaxConcurrency, MaxConcurrencyLimit)
	case p.HeartbeatSeconds < MinHeartbeatSeconds || p.HeartbeatSeconds > MaxHeartbeatSeconds:
		return fmt.Errorf("heartbeat %d s outside %d..%d", p.HeartbeatSeconds, MinHeartbeatSeconds, MaxHeartbeatSeconds)
	case p.TimeoutSeconds <= p.HeartbeatSeconds || p.TimeoutSeconds > MaxTimeoutSeconds:
		return fmt.Errorf("timeout %d s must exceed the heartbeat (%d s) and be at most %d", p.TimeoutSeconds, p.HeartbeatSeconds, MaxTimeoutSeconds)
	case p.PollIntervalSeconds < MinPollSeconds || p.PollIntervalSeconds > MaxPollSeconds:
		return fmt.Errorf("poll interval %d s outside %d..%d", p.PollIntervalSeconds, MinPollSeconds, MaxPollSeconds)
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
	// No HTML escaping: causes such as "60 <= heartbeatSeconds" stay readable in the console.
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
		"StartAt":       StatePrepareInput,
		"States":        topStates(p),
	}, nil
}

func topStates(p Params) obj {
	invalidInput := func(cause string) obj {
		return obj{"Type": "Fail", "Error": ErrInvalidInput, "Cause": cause}
	}
	return obj{
		// Two steps because a Pass cannot reference what it computes: first put the
		// defaults next to the input, then merge (keys of the input win).
		StatePrepareInput: obj{
			"Type":    "Pass",
			"Comment": "Put the defaults next to the input so the next state can merge them.",
			"Parameters": obj{
				"defaults": obj{"maxConcurrency": p.MaxConcurrency, "failureTolerance": 0},
				"input.$":  "$",
			},
			"Next": StateApplyDefaults,
		},
		StateApplyDefaults: obj{
			"Type":       "Pass",
			"Comment":    "maxConcurrency and failureTolerance always exist after this state, so MaxConcurrencyPath resolves.",
			"Parameters": obj{"merged.$": "States.JsonMerge($.defaults, $.input, false)"},
			"OutputPath": "$.merged",
			"Next":       StateCheckInput,
		},
		StateCheckInput: obj{
			"Type": "Choice",
			// Rules run in order: a type check always precedes the range checks on a value.
			"Choices": []any{
				obj{"Not": obj{"Variable": "$.crossAccountTargetRoleArns[0]", "IsPresent": true}, "Next": StateInvalidTargets},
				obj{"Variable": fmt.Sprintf("$.crossAccountTargetRoleArns[%d]", MaxTargets), "IsPresent": true, "Next": StateInvalidTargets},
				obj{"Not": obj{"Variable": "$.maxConcurrency", "IsNumeric": true}, "Next": StateInvalidConcurrency},
				obj{"Or": []any{
					obj{"Variable": "$.maxConcurrency", "NumericLessThan": 0},
					obj{"Variable": "$.maxConcurrency", "NumericGreaterThan": MaxConcurrencyLimit},
				}, "Next": StateInvalidConcurrency},
				obj{"Not": obj{"Variable": "$.failureTolerance", "IsNumeric": true}, "Next": StateInvalidTolerance},
				obj{"Variable": "$.failureTolerance", "NumericLessThan": 0, "Next": StateInvalidTolerance},
			},
			"Default": StateRunTargets,
		},
		StateInvalidTargets:     invalidInput(fmt.Sprintf("crossAccountTargetRoleArns: required, an array of 1 to %d target objects", MaxTargets)),
		StateInvalidConcurrency: invalidInput(fmt.Sprintf("maxConcurrency: must be an integer from 0 (no limit) to %d", MaxConcurrencyLimit)),
		StateInvalidTolerance:   invalidInput("failureTolerance: must be a non-negative integer (how many targets may fail)"),
		StateRunTargets: obj{
			"Type":               "Map",
			"ItemsPath":          "$.crossAccountTargetRoleArns",
			"MaxConcurrencyPath": "$.maxConcurrency",
			"ItemSelector": obj{
				"target.$":       "$$.Map.Item.Value",
				"mapIndex.$":     "$$.Map.Item.Index",
				"executionArn.$": "$$.Execution.Id",
				// Merged under each target: its own keys win. The identity keys default to
				// null so failure results can always reference them.
				"defaults": obj{
					"completion":          "event",
					"heartbeatSeconds":    p.HeartbeatSeconds,
					"timeoutSeconds":      p.TimeoutSeconds,
					"pollIntervalSeconds": p.PollIntervalSeconds,
					"arn":                 nil,
					"region":              nil,
					"codeBuildProject":    nil,
				},
			},
			"ItemProcessor": obj{
				"ProcessorConfig": obj{"Mode": "INLINE"},
				"StartAt":         StateCheckTarget,
				"States":          targetStates(p),
			},
			"ResultPath": "$.results",
			"Next":       StateCollectResults,
		},
		StateCollectResults: obj{
			"Type": "Pass",
			"Parameters": obj{
				"results.$":          "$.results",
				"failureTolerance.$": "$.failureTolerance",
				"succeeded.$":        "$.results[?(@.status == 'SUCCEEDED')]",
				"failed.$":           "$.results[?(@.status == 'FAILED')]",
			},
			"Next": StateSummarise,
		},
		StateSummarise: obj{
			"Type": "Pass",
			"Parameters": obj{
				"summary": obj{
					"total.$":            "States.ArrayLength($.results)",
					"succeeded.$":        "States.ArrayLength($.succeeded)",
					"failed.$":           "States.ArrayLength($.failed)",
					"failureTolerance.$": "$.failureTolerance",
				},
				"results.$":       "$.results",
				"failedTargets.$": "$.failed",
			},
			"Next": StateCheckFailures,
		},
		StateCheckFailures: obj{
			"Type": "Choice",
			"Choices": []any{
				obj{"Variable": "$.summary.failed", "NumericLessThanEqualsPath": "$.summary.failureTolerance", "Next": StateDone},
			},
			"Default": StateTargetsFailed,
		},
		StateDone: obj{"Type": "Succeed"},
		StateTargetsFailed: obj{
			"Type":      "Fail",
			"Error":     ErrTargetsFailed,
			"CausePath": "States.Format('{} of {} targets failed: {}', $.summary.failed, $.summary.total, States.JsonToString($.failedTargets))",
		},
	}
}

func targetStates(p Params) obj {
	num := func(path string) obj { return obj{"Variable": path, "IsNumeric": true} }
	hb, to, poll := "$.settings.heartbeatSeconds", "$.settings.timeoutSeconds", "$.settings.pollIntervalSeconds"

	// failure shapes the result of a target that did not succeed. Every path it reads
	// exists: the identity keys are defaulted to null by the Map's ItemSelector.
	failure := func(errorAndCause obj) obj {
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
		return obj{"Type": "Pass", "Parameters": params, "End": true}
	}
	invalid := func(rule string) obj {
		return failure(obj{"error": ErrInvalidTarget, "cause.$": fmt.Sprintf("States.Format('target {}: %s', $.mapIndex)", rule)})
	}
	catchAll := obj{"ErrorEquals": []any{"States.ALL"}, "ResultPath": "$.error", "Next": StateTargetFailed}

	return obj{
		StateCheckTarget: obj{
			"Type":    "Choice",
			"Comment": "States.JsonMerge needs an object; anything else is reported as InvalidTarget.",
			"Choices": []any{
				obj{"Or": []any{
					obj{"Variable": "$.target", "IsNull": true},
					obj{"Variable": "$.target", "IsString": true},
					obj{"Variable": "$.target", "IsNumeric": true},
					obj{"Variable": "$.target", "IsBoolean": true},
					obj{"Variable": "$.target[0]", "IsPresent": true},
				}, "Next": StateTargetNotObject},
			},
			"Default": StateApplyTargetDefs,
		},
		StateTargetNotObject: obj{
			"Type": "Pass",
			"Parameters": obj{
				"mapIndex.$": "$.mapIndex",
				"status":     "FAILED",
				"error":      ErrInvalidTarget,
				"cause.$":    "States.Format('target {}: must be a JSON object with arn, region and codeBuildProject', $.mapIndex)",
			},
			"End": true,
		},
		StateApplyTargetDefs: obj{
			"Type":    "Pass",
			"Comment": "After this state every *Path of the iteration resolves.",
			"Parameters": obj{
				"target.$":       "$.target",
				"mapIndex.$":     "$.mapIndex",
				"executionArn.$": "$.executionArn",
				"settings.$":     "States.JsonMerge($.defaults, $.target, false)",
			},
			"Next": StateRouteTarget,
		},
		StateRouteTarget: obj{
			"Type": "Choice",
			// Type checks come before range checks: rules are tried in order.
			"Choices": []any{
				obj{"Or": []any{obj{"Not": num(hb)}, obj{"Not": num(to)}}, "Next": StateInvalidWait},
				obj{"Or": []any{
					obj{"Variable": hb, "NumericLessThan": MinHeartbeatSeconds},
					obj{"Variable": hb, "NumericGreaterThan": MaxHeartbeatSeconds},
					obj{"Variable": to, "NumericGreaterThan": MaxTimeoutSeconds},
					obj{"Variable": hb, "NumericGreaterThanEqualsPath": to},
				}, "Next": StateInvalidWait},
				obj{"Not": num(poll), "Next": StateInvalidPoll},
				obj{"Or": []any{
					obj{"Variable": poll, "NumericLessThan": MinPollSeconds},
					obj{"Variable": poll, "NumericGreaterThan": MaxPollSeconds},
				}, "Next": StateInvalidPoll},
				obj{"And": []any{
					obj{"Variable": "$.settings.completion", "IsString": true},
					obj{"Variable": "$.settings.completion", "StringEquals": "poll"},
				}, "Next": StateStartForPolling},
			},
			// Any other completion value goes to the starter, which rejects it by name.
			"Default": StateStartAndWait,
		},
		StateInvalidWait: invalid(fmt.Sprintf("heartbeatSeconds and timeoutSeconds must be integers with %d <= heartbeatSeconds <= %d and heartbeatSeconds < timeoutSeconds <= %d",
			MinHeartbeatSeconds, MaxHeartbeatSeconds, MaxTimeoutSeconds)),
		StateInvalidPoll: invalid(fmt.Sprintf("pollIntervalSeconds must be an integer from %d to %d", MinPollSeconds, MaxPollSeconds)),
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
				catchAll,
			},
			// The output is what the callback sent with SendTaskSuccess: the target's result.
			"End": true,
		},
		StateFallBack: obj{
			"Type":    "Pass",
			"Comment": "No event arrived in time: poll the build the starter already started, found by execution and index.",
			"Parameters": obj{
				"executionArn.$": "$.executionArn",
				"mapIndex.$":     "$.mapIndex",
			},
			"ResultPath": "$.pollRequest",
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
			"ResultSelector": obj{
				"buildId.$": "$.Payload.buildId",
				"roleArn.$": "$.Payload.roleArn",
				"region.$":  "$.Payload.region",
			},
			"ResultPath": "$.pollRequest",
			"Retry":      startRetries(),
			"Catch":      []any{catchAll},
			"Next":       StateWaitBeforePolling,
		},
		StateWaitBeforePolling: obj{
			"Type":        "Wait",
			"SecondsPath": poll,
			"Next":        StatePollBuild,
		},
		StatePollBuild: obj{
			"Type":     "Task",
			"Resource": LambdaInvoke,
			"Parameters": obj{
				"FunctionName": p.PollerARN,
				"Payload.$":    "$.pollRequest",
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
		StateBuildFailed:  failure(obj{"error.$": "$.poll.payload.error", "cause.$": "$.poll.payload.cause"}),
		StateTargetFailed: failure(obj{"error.$": "$.error.Error", "cause.$": "$.error.Cause"}),
	}
}

// startRetries retry the Lambda service errors, CodeBuild quota errors and transient
// dependency errors with exponential backoff and full jitter (many targets may hit the
// same quota at once). Nothing else is retried: invalid or refused targets fail fast.
func startRetries() []any {
	return []any{
		lambdaRetry(),
		obj{"ErrorEquals": []any{"BuildQuotaExceeded"}, "IntervalSeconds": 15, "MaxAttempts": 8, "BackoffRate": 2, "MaxDelaySeconds": 300, "JitterStrategy": "FULL"},
		transientRetry(),
	}
}

// pollRetries are startRetries without the quota rule: the poller never starts builds.
func pollRetries() []any {
	return []any{lambdaRetry(), transientRetry()}
}

func lambdaRetry() obj {
	return obj{"ErrorEquals": toAny(LambdaServiceErrors), "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2, "JitterStrategy": "FULL"}
}

func transientRetry() obj {
	return obj{"ErrorEquals": []any{"TransientError"}, "IntervalSeconds": 5, "MaxAttempts": 5, "BackoffRate": 2, "MaxDelaySeconds": 120, "JitterStrategy": "FULL"}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
