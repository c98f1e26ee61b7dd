// Package summary reads back the results a Distributed Map's ResultWriter exported to S3
// and condenses them into the execution's output (docs/reference.md, "Summariser").
//
// The output must fit Step Functions' 256 KiB for a state's output whatever the number of
// targets or the size of their results, and the cause of a failed execution its 32,768
// characters: every list and string here is bounded, and result files are read one child
// execution at a time.
package summary

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/plan"
)

// Bounds of the output (docs/reference.md, "Summariser").
const (
	// MaxListedTargets and MaxListedBytes decide when the output lists every target's
	// result, as the inline Map did: small runs such as the walkthrough's.
	MaxListedTargets = 100
	MaxListedBytes   = 128 * 1024
	// MaxFailedTargets failures, first by mapIndex, are always in the output.
	MaxFailedTargets = 20
	// MaxErrorNames distinct error names are counted by name; the rest under "other".
	MaxErrorNames = 50
	// MaxStatusNames distinct statuses are counted by name; the rest under "other".
	MaxStatusNames = 10
	// MaxCauseBytes bounds the cause of a failed execution, far below the Fail state's
	// 32,768 characters so the prefix and the state machine's own text always fit.
	MaxCauseBytes = 8192
	// MaxOutputBytes is the output's budget, encoded as the Lambda runtime encodes it. It
	// leaves room below 256 KiB for the Task state's wrapping of the payload.
	MaxOutputBytes = 200 * 1024
	// Other is the key that counts the names beyond MaxErrorNames or MaxStatusNames.
	Other = "other"
)

// Bounds of one failure result's fields, in encoded bytes.
const (
	maxRoleARN = 2048
	maxRegion  = 64
	maxProject = 512
	maxStatus  = 32
	maxError   = 256
	maxCause   = 2048
	maxName    = 256 // a name counted in byStatus or byError
)

// Result file kinds, the keys of the manifest's ResultFiles.
const (
	KindSucceeded = "SUCCEEDED"
	KindFailed    = "FAILED"
	KindPending   = "PENDING"
)

// Request is the summariser's payload: the plan with the Map state's result, or the error
// it was caught with.
type Request struct {
	plan.Plan
	MapRun      *MapRun      `json:"mapRun,omitempty"`
	MapRunError *MapRunError `json:"mapRunError,omitempty"`
}

// MapRun is a Distributed Map's result when it has a ResultWriter.
type MapRun struct {
	MapRunArn           string               `json:"MapRunArn"`
	ResultWriterDetails *ResultWriterDetails `json:"ResultWriterDetails,omitempty"`
}

// ResultWriterDetails locate the Map Run's manifest.
type ResultWriterDetails struct {
	Bucket string `json:"Bucket"`
	Key    string `json:"Key"`
}

// MapRunError is what a Catch puts at its ResultPath.
type MapRunError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// ParseRequest decodes the payload. Unknown keys are allowed: the state machine passes its
// whole state.
func ParseRequest(raw []byte) (Request, error) {
	bad := func(rule string, args ...any) error {
		return &failure.InvalidInput{Field: "summariser payload", Rule: fmt.Sprintf(rule, args...)}
	}
	var r Request
	if err := json.Unmarshal(raw, &r); err != nil {
		return Request{}, bad("must be the plan with mapRun or mapRunError: %v", err)
	}
	switch {
	case r.Results.Bucket == "" || strings.Trim(r.Results.Prefix, "/") == "":
		return Request{}, bad("results.bucket and results.prefix are required")
	case r.Count < 0 || r.Count > plan.MaxTargets:
		return Request{}, bad("count must be from 0 to %d", plan.MaxTargets)
	}
	return r, nil
}

// Manifest is the manifest.json a ResultWriter writes next to the result files.
type Manifest struct {
	DestinationBucket string                  `json:"DestinationBucket"`
	MapRunArn         string                  `json:"MapRunArn"`
	ResultFiles       map[string][]ResultFile `json:"ResultFiles"`
}

// ResultFile is one file the manifest lists.
type ResultFile struct {
	Key  string `json:"Key"`
	Size int64  `json:"Size"`
}

// Files returns the manifest's files, SUCCEEDED, FAILED and PENDING first, then any other
// kind in name order.
func (m Manifest) Files() []KindFile {
	order := []string{KindSucceeded, KindFailed, KindPending}
	var others []string
	for k := range m.ResultFiles {
		if k != KindSucceeded && k != KindFailed && k != KindPending {
			others = append(others, k)
		}
	}
	sort.Strings(others)
	var out []KindFile
	for _, kind := range append(order, others...) {
		for _, f := range m.ResultFiles[kind] {
			out = append(out, KindFile{Kind: kind, ResultFile: f})
		}
	}
	return out
}

// KindFile is a result file with its kind.
type KindFile struct {
	Kind string
	ResultFile
}

// MapRunID returns the last part of a Map Run ARN, the folder of its results.
func MapRunID(arn string) string {
	if i := strings.LastIndexByte(arn, ':'); i >= 0 {
		return arn[i+1:]
	}
	return ""
}

// Entry is one child execution in a result file. Input and Output are JSON text.
type Entry struct {
	ExecutionArn string  `json:"ExecutionArn"`
	Input        *string `json:"Input"`
	Output       *string `json:"Output"`
	Status       string  `json:"Status"`
	Error        *string `json:"Error"`
	Cause        *string `json:"Cause"`
}

// FailureResult is a target's result when it did not succeed (docs/reference.md,
// "Per-target result"), every field bounded.
type FailureResult struct {
	MapIndex *int    `json:"mapIndex"`
	RoleARN  *string `json:"roleArn"`
	Region   *string `json:"region"`
	Project  *string `json:"project"`
	Status   string  `json:"status"`
	Error    string  `json:"error"`
	Cause    string  `json:"cause"`
}

// Summary counts the targets.
type Summary struct {
	Total                      int            `json:"total"`
	Succeeded                  int            `json:"succeeded"`
	Failed                     int            `json:"failed"`
	NotRun                     int            `json:"notRun"`
	ByStatus                   map[string]int `json:"byStatus"`
	ByError                    map[string]int `json:"byError"`
	ToleratedFailureCount      int            `json:"toleratedFailureCount"`
	ToleratedFailurePercentage float64        `json:"toleratedFailurePercentage"`
}

// Location says where the full results are.
type Location struct {
	Bucket   string  `json:"bucket"`
	Prefix   string  `json:"prefix"`
	Manifest *string `json:"manifest"` // key of the manifest; null when none was written
}

// Output is the execution's output.
type Output struct {
	Summary         Summary           `json:"summary"`
	Results         []json.RawMessage `json:"results,omitempty"`
	FailedTargets   []FailureResult   `json:"failedTargets"`
	ResultsLocation Location          `json:"resultsLocation"`
}

// Response is the summariser's output: the state machine ends with Output when Failed is
// false, and fails with TargetsFailed and Cause otherwise.
type Response struct {
	Output Output `json:"output"`
	Failed bool   `json:"failed"`
	Cause  string `json:"cause"`
}
