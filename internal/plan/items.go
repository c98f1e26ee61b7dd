package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Item is one element of the items file: what the Distributed Map's ItemSelector hands to
// one child execution, together with mapIndex and the parent's execution ARN.
type Item struct {
	// Target is the target exactly as given (compacted); null when it is larger than
	// MaxTargetBytes, so the oversized target cannot fail the whole Map Run.
	Target json.RawMessage `json:"target"`
	// Settings are the values the child's states read through *Path fields: the
	// deployment's defaults merged under the target's own keys, so every path resolves.
	Settings Settings `json:"settings"`
	// Problem, when set, fails this target alone with InvalidTarget and this cause.
	Problem *string `json:"problem"`
}

// Settings are JSON values: the target's own when it gives them (as given, or as an integer
// for the numeric ones), the deployment's defaults otherwise, null for a missing identity key.
type Settings struct {
	ARN                 json.RawMessage `json:"arn"`
	Region              json.RawMessage `json:"region"`
	CodeBuildProject    json.RawMessage `json:"codeBuildProject"`
	Completion          json.RawMessage `json:"completion"`
	HeartbeatSeconds    json.RawMessage `json:"heartbeatSeconds"`
	TimeoutSeconds      json.RawMessage `json:"timeoutSeconds"`
	PollIntervalSeconds json.RawMessage `json:"pollIntervalSeconds"`
}

// The causes of the checks the state machine used to make itself, word for word, so a
// target fails the same way it always did.
var (
	waitRule = fmt.Sprintf("heartbeatSeconds and timeoutSeconds must be integers with %d <= heartbeatSeconds <= %d and heartbeatSeconds < timeoutSeconds <= %d",
		MinHeartbeatSeconds, MaxHeartbeatSeconds, MaxTimeoutSeconds)
	pollRule   = fmt.Sprintf("pollIntervalSeconds must be an integer from %d to %d", MinPollSeconds, MaxPollSeconds)
	objectRule = "must be a JSON object with arn, region and codeBuildProject"
)

func validWait(heartbeat, timeout float64) bool {
	return heartbeat >= MinHeartbeatSeconds && heartbeat <= MaxHeartbeatSeconds &&
		heartbeat < timeout && timeout <= MaxTimeoutSeconds
}

// NewItem builds the item of the target raw found at index.
func NewItem(index int, raw json.RawMessage, d Defaults) Item {
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		// Only valid JSON reaches here (it was decoded); keep the bytes as they are.
		compact.Reset()
		compact.Write(raw)
	}
	target := compact.Bytes()
	it := Item{
		Target: target,
		Settings: Settings{
			Completion:          json.RawMessage(strconv.Quote(CompletionEvent)),
			HeartbeatSeconds:    intJSON(d.HeartbeatSeconds),
			TimeoutSeconds:      intJSON(d.TimeoutSeconds),
			PollIntervalSeconds: intJSON(d.PollIntervalSeconds),
		},
	}
	problem := func(format string, args ...any) Item {
		p := fmt.Sprintf("target %d: ", index) + fmt.Sprintf(format, args...)
		it.Problem = &p
		return it
	}

	fields, objErr := decodeObject(target)
	if objErr == nil {
		copySetting(&it.Settings.ARN, fields, "arn")
		copySetting(&it.Settings.Region, fields, "region")
		copySetting(&it.Settings.CodeBuildProject, fields, "codeBuildProject")
		copySetting(&it.Settings.Completion, fields, "completion")
	}
	heartbeat, hbOK := numberSetting(&it.Settings.HeartbeatSeconds, fields, "heartbeatSeconds", d.HeartbeatSeconds)
	timeout, toOK := numberSetting(&it.Settings.TimeoutSeconds, fields, "timeoutSeconds", d.TimeoutSeconds)
	poll, pollOK := numberSetting(&it.Settings.PollIntervalSeconds, fields, "pollIntervalSeconds", d.PollIntervalSeconds)

	switch {
	case len(target) > MaxTargetBytes:
		it.Target = nil
		return problem("%d bytes, more than the %d-byte limit", len(target), MaxTargetBytes)
	case objErr != nil:
		return problem("%s, %v", objectRule, objErr)
	case !hbOK || !toOK || !validWait(float64(heartbeat), float64(timeout)):
		return problem("%s", waitRule)
	case !pollOK || poll < MinPollSeconds || poll > MaxPollSeconds:
		return problem("%s", pollRule)
	}
	return it
}

// copySetting copies a target's value into its settings when it is small enough to be a
// valid one; a larger value becomes null (the starter refuses it by name).
func copySetting(dst *json.RawMessage, fields map[string]json.RawMessage, key string) {
	v, ok := fields[key]
	if !ok {
		return
	}
	if len(v) > MaxSettingBytes {
		*dst = nil
		return
	}
	*dst = v
}

// numberSetting sets a numeric setting from the target: as an integer when the value is
// one, as given otherwise (bounded like copySetting). ok reports an integer value.
func numberSetting(dst *json.RawMessage, fields map[string]json.RawMessage, key string, def int) (int, bool) {
	v, given := fields[key]
	if !given {
		return def, true
	}
	// Any whole number that fits the checks below is normalised; the range checks come later
	// so every setting gets the same cause as the state machine gave.
	n, ok := integer(v, -MaxTimeoutSeconds-1, MaxTimeoutSeconds+1)
	if !ok {
		copySetting(dst, fields, key)
		return 0, false
	}
	*dst = intJSON(n)
	return n, true
}

func intJSON(n int) json.RawMessage { return json.RawMessage(strconv.Itoa(n)) }

// BuildItems returns the items of targets, in order, and how many carry a problem.
func BuildItems(targets []json.RawMessage, d Defaults) ([]Item, int) {
	items := make([]Item, len(targets))
	problems := 0
	for i, t := range targets {
		items[i] = NewItem(i, t, d)
		if items[i].Problem != nil {
			problems++
		}
	}
	return items, problems
}

// EncodeItems renders the items file: a JSON array, one item a line. HTML characters are
// not escaped so targets stay byte for byte as given (after compaction).
func EncodeItems(items []Item) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteString("[\n")
	for i, it := range items {
		if i > 0 {
			b.WriteString(",\n")
		}
		if err := enc.Encode(it); err != nil {
			return nil, fmt.Errorf("encode item %d: %w", i, err)
		}
		b.Truncate(b.Len() - 1) // Encode's newline; the separator adds its own
	}
	b.WriteString("\n]\n")
	return b.Bytes(), nil
}
