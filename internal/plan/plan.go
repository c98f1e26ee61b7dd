// Package plan checks an execution's input and turns its targets into the items of the
// Distributed Map (docs/reference.md, "Planner").
//
// Step Functions' Choice states cannot tell 2.5 from 2 before a *Path needs an integer, nor
// report a JSON array as input by name: both end in an uncatchable States.Runtime. Every such
// rule is checked here instead, so bad input ends in a named error that names the field.
// Rules about one target that do not shape the state machine's path (allow-list, ARN and
// Region formats, environment variables) stay in internal/target, checked by the starter.
package plan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/polling"
	"github.com/crossbuild/crossbuild/internal/target"
)

// Limits of the execution input (docs/reference.md, "Limits").
const (
	// MaxTargets is the most child executions a Distributed Map runs for one Map Run.
	MaxTargets = 10000
	// MaxConcurrencyLimit is the Distributed Map's own ceiling on MaxConcurrency.
	MaxConcurrencyLimit = 10000
	// MaxFailureTolerance keeps ToleratedFailureCount a 32-bit integer.
	MaxFailureTolerance = math.MaxInt32

	MinHeartbeatSeconds = target.MinHeartbeatSeconds
	MaxHeartbeatSeconds = target.MaxHeartbeatSeconds
	MinTimeoutSeconds   = target.MinTimeoutSeconds
	MaxTimeoutSeconds   = target.MaxTimeoutSeconds
	MinPollSeconds      = polling.MinIntervalSeconds
	MaxPollSeconds      = polling.MaxIntervalSeconds

	// MaxTargetBytes bounds one target's JSON. A child execution's input (target, settings,
	// mapIndex, execution ARN) and every state of the child must stay under Step Functions'
	// 256 KiB; the largest child state carries the target plus the poller's payload (build
	// descriptor and result, each listing up to 100 variable names of 255 bytes: ~60 KiB).
	// Any target the starter accepts is far smaller: at most 100 variables of 64 KiB in total.
	MaxTargetBytes = 128 * 1024
	// MaxSettingBytes bounds a value copied from a target into its settings, so a target
	// within MaxTargetBytes never doubles in its item. Longer values are not valid settings
	// anyway (an IAM ARN has at most 2048 characters).
	MaxSettingBytes = 2048
	// MaxTargetsObjectBytes bounds the targets object read from S3 (10,000 targets of
	// ~6 KiB); the planner holds it and the items in memory.
	MaxTargetsObjectBytes = 64 << 20
	// MaxExecutionNameLen is Step Functions' limit on an execution name.
	MaxExecutionNameLen = 80
)

// Input keys (docs/reference.md, "Execution input").
const (
	KeyTargets           = "crossAccountTargetRoleArns"
	KeyTargetsS3URI      = "targetsS3Uri"
	KeyMaxConcurrency    = "maxConcurrency"
	KeyFailureTolerance  = "failureTolerance"
	KeyFailurePercentage = "failureTolerancePercentage"
)

// Completion modes a target may name.
const (
	CompletionEvent = "event"
	CompletionPoll  = "poll"
)

// SourceInline is the plan's source when the targets came in the execution input.
const SourceInline = "inline"

// Defaults are the deployment's values for what the input leaves out.
type Defaults struct {
	MaxConcurrency      int // 0 = no limit
	HeartbeatSeconds    int
	TimeoutSeconds      int
	PollIntervalSeconds int
}

// Validate applies the rules of a target's own settings to the defaults.
func (d Defaults) Validate() error {
	switch {
	case d.MaxConcurrency < 0 || d.MaxConcurrency > MaxConcurrencyLimit:
		return fmt.Errorf("max concurrency %d outside 0..%d", d.MaxConcurrency, MaxConcurrencyLimit)
	case !validWait(float64(d.HeartbeatSeconds), float64(d.TimeoutSeconds)):
		return fmt.Errorf("heartbeat %d s and timeout %d s: %s", d.HeartbeatSeconds, d.TimeoutSeconds, waitRule)
	case d.PollIntervalSeconds < MinPollSeconds || d.PollIntervalSeconds > MaxPollSeconds:
		return fmt.Errorf("poll interval %d s outside %d..%d", d.PollIntervalSeconds, MinPollSeconds, MaxPollSeconds)
	}
	return nil
}

// Request is the planner's payload: the execution input as it came, whatever it is.
type Request struct {
	Input         json.RawMessage `json:"input"`
	ExecutionARN  string          `json:"executionArn"`
	ExecutionName string          `json:"executionName"`
}

// Input is a checked execution input.
type Input struct {
	Targets        []json.RawMessage // inline targets; nil when they are in S3
	TargetsURI     string            // s3://bucket/key, "" for inline targets
	TargetsBucket  string
	TargetsKey     string
	MaxConcurrency int

	failureTolerance  *int
	failurePercentage *float64
}

// Tolerance maps the input's tolerance keys onto the Distributed Map's two thresholds for
// count targets. A Map Run fails when either is exceeded, so a key left out must not bind:
// no key at all keeps today's meaning (no failure tolerated).
func (in Input) Tolerance(count int) (tolerated int, percentage float64) {
	switch {
	case in.failureTolerance == nil && in.failurePercentage == nil:
		return 0, 100
	case in.failurePercentage == nil:
		return *in.failureTolerance, 100
	case in.failureTolerance == nil:
		return count, *in.failurePercentage
	}
	return *in.failureTolerance, *in.failurePercentage
}

func invalid(field, rule string, args ...any) error {
	return &failure.InvalidInput{Field: field, Rule: fmt.Sprintf(rule, args...)}
}

// ParseRequest decodes the planner's payload, built by the state machine, and checks the
// execution name, which becomes part of S3 keys.
func ParseRequest(raw []byte) (Request, error) {
	var r Request
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Request{}, invalid("planner payload", "must be {\"input\", \"executionArn\", \"executionName\"}: %v", err)
	}
	if len(bytes.TrimSpace(r.Input)) == 0 {
		return Request{}, invalid("planner payload", "input is missing")
	}
	if err := checkExecutionName(r.ExecutionName); err != "" {
		return Request{}, invalid("executionName", "%s", err)
	}
	return r, nil
}

func checkExecutionName(name string) string {
	switch {
	case name == "" || utf8.RuneCountInString(name) > MaxExecutionNameLen:
		return fmt.Sprintf("must be 1 to %d characters", MaxExecutionNameLen)
	case !utf8.ValidString(name) || name == "." || name == "..":
		return "must be a valid execution name"
	case strings.ContainsFunc(name, func(r rune) bool { return r == '/' || unicode.IsControl(r) || unicode.IsSpace(r) }):
		return "must not contain '/', spaces or control characters"
	}
	return ""
}

// ParseInput checks the execution input against every top-level rule. bucket is the
// deployment's bucket, the only place targets may be read from.
func ParseInput(raw []byte, d Defaults, bucket string) (Input, error) {
	fields, err := decodeObject(raw)
	if err != nil {
		return Input{}, invalid("execution input", "must be a JSON object with %s or %s: %v", KeyTargets, KeyTargetsS3URI, err)
	}
	in := Input{MaxConcurrency: d.MaxConcurrency}

	inline, hasInline := fields[KeyTargets]
	uri, hasURI := fields[KeyTargetsS3URI]
	switch {
	case hasInline && hasURI:
		return Input{}, invalid(KeyTargets+" and "+KeyTargetsS3URI, "give one of them, not both")
	case !hasInline && !hasURI:
		return Input{}, invalid(KeyTargets+" or "+KeyTargetsS3URI, "one of them is required: the targets, or the S3 URI of a JSON array of targets")
	case hasInline:
		if in.Targets, err = decodeArray(inline, MaxTargets); err != nil || len(in.Targets) == 0 {
			if errors.Is(err, errTooMany) {
				return Input{}, invalid(KeyTargets, "at most %d targets", MaxTargets)
			}
			return Input{}, invalid(KeyTargets, "must be an array of 1 to %d target objects", MaxTargets)
		}
	default:
		if in.TargetsBucket, in.TargetsKey, err = parseS3URI(uri, bucket); err != nil {
			return Input{}, err
		}
		in.TargetsURI = "s3://" + in.TargetsBucket + "/" + in.TargetsKey
	}

	if v, ok := fields[KeyMaxConcurrency]; ok {
		n, ok := integer(v, 0, MaxConcurrencyLimit)
		if !ok {
			return Input{}, invalid(KeyMaxConcurrency, "must be an integer from 0 (no limit) to %d, got %s", MaxConcurrencyLimit, shortJSON(v))
		}
		in.MaxConcurrency = n
	}
	if v, ok := fields[KeyFailureTolerance]; ok {
		n, ok := integer(v, 0, MaxFailureTolerance)
		if !ok {
			return Input{}, invalid(KeyFailureTolerance, "must be an integer from 0 to %d (how many targets may fail), got %s", MaxFailureTolerance, shortJSON(v))
		}
		in.failureTolerance = &n
	}
	if v, ok := fields[KeyFailurePercentage]; ok {
		f, ok := number(v)
		if !ok || f < 0 || f > 100 {
			return Input{}, invalid(KeyFailurePercentage, "must be a number from 0 to 100 (the percentage of targets that may fail), got %s", shortJSON(v))
		}
		in.failurePercentage = &f
	}
	return in, nil
}

// parseS3URI checks an s3://bucket/key URI that must point into the deployment's bucket.
func parseS3URI(raw json.RawMessage, bucket string) (string, string, error) {
	const rule = "must be an S3 URI like s3://%s/targets.json"
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", "", invalid(KeyTargetsS3URI, rule, bucket)
	}
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", invalid(KeyTargetsS3URI, rule, bucket)
	}
	b, key, ok := strings.Cut(rest, "/")
	if !ok || b == "" || key == "" || len(key) > 1024 {
		return "", "", invalid(KeyTargetsS3URI, rule+" (a bucket and a key of 1 to 1024 bytes)", bucket)
	}
	if b != bucket {
		return "", "", invalid(KeyTargetsS3URI, "bucket %q is outside this deployment: put the targets object in s3://%s/", shortString(b, 64), bucket)
	}
	return b, key, nil
}

// DecodeTargets reads the targets object: a JSON array of targets, or JSON Lines (one
// target per line). uri names the object in errors.
func DecodeTargets(r io.Reader, uri string) ([]json.RawMessage, error) {
	br := bufio.NewReader(r)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\xef\xbb\xbf" {
		_, _ = br.Discard(3) // a byte order mark, as some editors write
	}
	first, err := firstNonSpace(br)
	if err != nil {
		return nil, invalid(KeyTargetsS3URI, "%s is empty: it must hold a JSON array of 1 to %d targets", uri, MaxTargets)
	}
	dec := json.NewDecoder(br)
	var targets []json.RawMessage
	fail := func(err error) error {
		return invalid(KeyTargetsS3URI, "%s is not a JSON array of targets nor JSON Lines: %v (near byte %d)", uri, err, dec.InputOffset())
	}
	next := func() error {
		if len(targets) == MaxTargets {
			return invalid(KeyTargetsS3URI, "%s holds more than %d targets", uri, MaxTargets)
		}
		var t json.RawMessage
		if err := dec.Decode(&t); err != nil {
			return fail(err)
		}
		targets = append(targets, t)
		return nil
	}
	if first == '[' {
		if _, err := dec.Token(); err != nil {
			return nil, fail(err)
		}
		for dec.More() {
			if err := next(); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, fail(err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fail(fmt.Errorf("data after the array"))
		}
	} else {
		for dec.More() {
			if err := next(); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fail(fmt.Errorf("unexpected data"))
		}
	}
	if len(targets) == 0 {
		return nil, invalid(KeyTargetsS3URI, "%s holds no targets: it must hold 1 to %d", uri, MaxTargets)
	}
	if first == '{' && len(targets) == 1 {
		if fields, err := decodeObject(targets[0]); err == nil {
			if _, ok := fields[KeyTargets]; ok {
				return nil, invalid(KeyTargetsS3URI, "%s holds an execution input; it must hold the array of targets itself", uri)
			}
		}
	}
	return targets, nil
}

// Plan is the planner's output, read by the Distributed Map (ItemReader, ResultWriter,
// MaxConcurrencyPath, ToleratedFailure*Path) and by the summariser.
type Plan struct {
	Items                      ItemsLocation   `json:"items"`
	Results                    ResultsLocation `json:"results"`
	Count                      int             `json:"count"`
	Source                     string          `json:"source"`
	MaxConcurrency             int             `json:"maxConcurrency"`
	ToleratedFailureCount      int             `json:"toleratedFailureCount"`
	ToleratedFailurePercentage float64         `json:"toleratedFailurePercentage"`
}

// ItemsLocation is where the items file is.
type ItemsLocation struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
}

// ResultsLocation is the ResultWriter's destination.
type ResultsLocation struct {
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
}

// RunPrefix is the folder of one execution's objects in the bucket.
func RunPrefix(executionName string) string { return "runs/" + executionName }

// New returns the plan of an execution with count targets.
func New(in Input, bucket, executionName string, count int) Plan {
	tolerated, percentage := in.Tolerance(count)
	source := SourceInline
	if in.TargetsURI != "" {
		source = in.TargetsURI
	}
	return Plan{
		Items:                      ItemsLocation{Bucket: bucket, Key: RunPrefix(executionName) + "/items.json"},
		Results:                    ResultsLocation{Bucket: bucket, Prefix: RunPrefix(executionName) + "/results"},
		Count:                      count,
		Source:                     source,
		MaxConcurrency:             in.MaxConcurrency,
		ToleratedFailureCount:      tolerated,
		ToleratedFailurePercentage: percentage,
	}
}

// integer returns the value of a JSON number that is a whole number within [min, max]:
// 2, 2.0 and 2e0 are 2; 2.5, "2" and true are not integers.
func integer(raw json.RawMessage, min, max int) (int, bool) {
	f, ok := number(raw)
	if !ok || f != math.Trunc(f) || f < float64(min) || f > float64(max) {
		return 0, false
	}
	return int(f), true
}

// number returns the value of a JSON number (not a string that looks like one).
func number(raw json.RawMessage) (float64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// shortJSON renders a top-level value for an error message, cut to a readable length.
func shortJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "invalid JSON"
	}
	return shortString(b.String(), 40)
}

func shortString(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
