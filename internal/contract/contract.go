// Package contract holds the payloads exchanged between the state machine and the
// functions (see docs/reference.md). Field names are part of the state machine definition.
package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/outcome"
)

// StarterRequest is the starter's input, one per Map iteration.
type StarterRequest struct {
	Target       json.RawMessage `json:"target"`
	ExecutionARN string          `json:"executionArn"`
	MapIndex     *int            `json:"mapIndex"`
	TaskToken    string          `json:"taskToken,omitempty"`
}

// Descriptor identifies a started build; the starter returns it and the poller echoes it.
type Descriptor struct {
	BuildID             string   `json:"buildId"`
	BuildARN            string   `json:"buildArn"`
	Account             string   `json:"account"`
	Region              string   `json:"region"`
	Project             string   `json:"project"`
	RoleARN             string   `json:"roleArn"`
	ExecutionARN        string   `json:"executionArn"`
	MapIndex            int      `json:"mapIndex"`
	Completion          string   `json:"completion"`
	PollIntervalSeconds int      `json:"pollIntervalSeconds"`
	EnvOverrides        []string `json:"envOverrides"`
}

// PollerRequest names a build by ARN, by id and target, or by execution and map index.
// IntervalSeconds is how long the branch waited before this poll; the response's Next
// carries the wait before the following one.
type PollerRequest struct {
	BuildARN        string `json:"buildArn,omitempty"`
	BuildID         string `json:"buildId,omitempty"`
	RoleARN         string `json:"roleArn,omitempty"`
	Region          string `json:"region,omitempty"`
	ExecutionARN    string `json:"executionArn,omitempty"`
	MapIndex        *int   `json:"mapIndex,omitempty"`
	IntervalSeconds int    `json:"intervalSeconds,omitempty"`
}

// PollerResponse is the poller's output.
type PollerResponse struct {
	Status   string          `json:"status"`
	Terminal bool            `json:"terminal"`
	Build    Descriptor      `json:"build"`
	Result   *outcome.Result `json:"result,omitempty"`
	Error    string          `json:"error,omitempty"`
	Cause    string          `json:"cause,omitempty"`
	// Next is the request of the following poll while the build runs: the build by ARN (a
	// GetItem, not the execution index's Query) and the interval to wait first.
	Next *PollerRequest `json:"next,omitempty"`
}

// executionARNRe matches execution ARNs, those of a Distributed Map's child executions
// included: execution:<state machine>/<map run label>:<id>. A label is at most 40
// characters (Step Functions developer guide, "Label (Map)").
var executionARNRe = regexp.MustCompile(`^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:execution:([\w.-]+)(/[^/:\s]+)?:([^:\s]+)$`)

// ValidExecutionARN reports whether s is a Step Functions execution ARN, a parent's or a
// Map Run child's.
func ValidExecutionARN(s string) bool {
	m := executionARNRe.FindStringSubmatch(s)
	return m != nil && len(m[1]) <= 80 && len(m[2]) <= 41 && len(m[3]) <= 80
}

// Decode decodes a payload strictly (unknown fields are refused) into v. Errors are
// *failure.InvalidTarget naming the payload, so a broken state machine definition shows up
// as a clear, non-retried error rather than a runtime unmarshalling failure.
func Decode(raw []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &failure.InvalidTarget{Index: -1, Field: what, Rule: fmt.Sprintf("must be a valid %s payload: %v", what, err)}
	}
	if dec.More() {
		return &failure.InvalidTarget{Index: -1, Field: what, Rule: "trailing data after the payload"}
	}
	return nil
}

// MaxMapIndex bounds the index; a Map never has more items than this.
const MaxMapIndex = 1_000_000

// ValidMapIndex reports whether i is a plausible Map item index.
func ValidMapIndex(i *int) bool { return i != nil && *i >= 0 && *i <= MaxMapIndex }
