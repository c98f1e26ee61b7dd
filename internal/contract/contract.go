// Package contract holds the payloads exchanged between the state machine and the
// functions (see docs/reference.md). Field names are part of the state machine definition.
package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"regexp"
	"strings"

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

// Parts of an execution ARN: a state machine's name is at most 80 characters of these, a
// Map Run's label at most 40 (Step Functions developer guide, "Label (Map)"), an
// execution's name at most 80; lengths are checked apart.
var (
	arnPartitionRe = regexp.MustCompile(`^[a-z-]+$`)
	arnRegionRe    = regexp.MustCompile(`^[a-z0-9-]+$`)
	arnAccountRe   = regexp.MustCompile(`^[0-9]{12}$`)
	stateMachineRe = regexp.MustCompile(`^[\w.-]+$`)
	labelRe        = regexp.MustCompile(`^[^/:\s]+$`)
	nameRe         = regexp.MustCompile(`^[^:\s]+$`)
)

// ValidExecutionARN reports whether s is a Step Functions execution ARN, a parent's
// (execution:<state machine>:<name>) or a Map Run child's
// (execution:<state machine>/<label>:<name>).
func ValidExecutionARN(s string) bool {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "states" || !arnPartitionRe.MatchString(a.Partition) ||
		!arnRegionRe.MatchString(a.Region) || !arnAccountRe.MatchString(a.AccountID) {
		return false
	}
	rest, ok := strings.CutPrefix(a.Resource, "execution:")
	machine, name, ok2 := strings.Cut(rest, ":")
	machine, label, child := strings.Cut(machine, "/")
	return ok && ok2 && len(machine) <= 80 && stateMachineRe.MatchString(machine) &&
		(!child || len(label) <= 40 && labelRe.MatchString(label)) &&
		len(name) <= 80 && nameRe.MatchString(name)
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
