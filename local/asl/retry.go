package asl

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"
)

// retrier is one entry of a state's Retry field.
type retrier struct {
	errorEquals []string
	interval    float64 // seconds
	maxAttempts int64
	backoff     float64
	maxDelay    float64 // seconds; 0 means no cap
	fullJitter  bool
}

// catcher is one entry of a state's Catch field.
type catcher struct {
	errorEquals []string
	next        string
	resultPath  *resultPath
}

// Limits from the Amazon States Language.
const (
	maxRetryInterval = 99999999
	maxRetryAttempts = 99999999
	maxRetryDelay    = 31622400
)

func (r *retrier) matches(name string) bool { return anyMatches(r.errorEquals, name) }
func (c *catcher) matches(name string) bool { return anyMatches(c.errorEquals, name) }

func anyMatches(patterns []string, name string) bool {
	for _, p := range patterns {
		if errorMatches(p, name) {
			return true
		}
	}
	return false
}

// delay is the wait before retry number attempt (0 for the first retry):
// IntervalSeconds × BackoffRate^attempt, capped at MaxDelaySeconds, and with
// FULL jitter a uniformly random fraction of that.
func (r *retrier) delay(attempt int64, random func() float64) time.Duration {
	secs := r.interval * math.Pow(r.backoff, float64(attempt))
	if r.maxDelay > 0 && secs > r.maxDelay {
		secs = r.maxDelay
	}
	if math.IsInf(secs, 0) || secs > maxRetryDelay {
		secs = maxRetryDelay
	}
	if r.fullJitter {
		secs *= random()
	}
	return time.Duration(secs * float64(time.Second))
}

// parseErrorEquals checks an ErrorEquals list: non-empty strings, and
// States.ALL only alone.
func parseErrorEquals(state, where string, raw json.RawMessage) ([]string, error) {
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil || len(names) == 0 {
		return nil, &ValidationError{State: state, Field: where + ".ErrorEquals", Message: "must be a non-empty array of error names"}
	}
	for _, n := range names {
		if n == "" {
			return nil, &ValidationError{State: state, Field: where + ".ErrorEquals", Message: "error names must not be empty"}
		}
		if n == ErrorAll && len(names) > 1 {
			return nil, &ValidationError{State: state, Field: where + ".ErrorEquals", Message: "States.ALL must appear alone"}
		}
	}
	return names, nil
}

func parseRetry(state string, raw json.RawMessage) ([]*retrier, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, &ValidationError{State: state, Field: "Retry", Message: "must be an array of retriers"}
	}
	out := make([]*retrier, 0, len(items))
	for i, item := range items {
		where := fmt.Sprintf("Retry[%d]", i)
		fields, err := objectFields(state, where, item)
		if err != nil {
			return nil, err
		}
		r := &retrier{interval: 1, maxAttempts: 3, backoff: 2}
		for _, k := range sortedKeys(fields) {
			v := fields[k]
			fw := where + "." + k
			switch k {
			case "Comment":
			case "ErrorEquals":
				if r.errorEquals, err = parseErrorEquals(state, where, v); err != nil {
					return nil, err
				}
			case "IntervalSeconds":
				n, err := intField(state, fw, v, 1, maxRetryInterval)
				if err != nil {
					return nil, err
				}
				r.interval = float64(n)
			case "MaxAttempts":
				if r.maxAttempts, err = intField(state, fw, v, 0, maxRetryAttempts); err != nil {
					return nil, err
				}
			case "BackoffRate":
				var f float64
				if err := json.Unmarshal(v, &f); err != nil || f < 1 {
					return nil, &ValidationError{State: state, Field: fw, Message: "must be a number of at least 1.0"}
				}
				r.backoff = f
			case "MaxDelaySeconds":
				n, err := intField(state, fw, v, 1, maxRetryDelay-1)
				if err != nil {
					return nil, err
				}
				r.maxDelay = float64(n)
			case "JitterStrategy":
				var s string
				if err := json.Unmarshal(v, &s); err != nil || (s != "FULL" && s != "NONE") {
					return nil, &ValidationError{State: state, Field: fw, Message: "must be FULL or NONE"}
				}
				r.fullJitter = s == "FULL"
			default:
				return nil, &UnsupportedError{State: state, Field: fw}
			}
		}
		if r.errorEquals == nil {
			return nil, &ValidationError{State: state, Field: where, Message: "ErrorEquals is required"}
		}
		if r.errorEquals[0] == ErrorAll && i != len(items)-1 {
			return nil, &ValidationError{State: state, Field: where, Message: "a retrier with States.ALL must be the last one"}
		}
		out = append(out, r)
	}
	return out, nil
}

func parseCatch(state string, raw json.RawMessage) ([]*catcher, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, &ValidationError{State: state, Field: "Catch", Message: "must be an array of catchers"}
	}
	out := make([]*catcher, 0, len(items))
	for i, item := range items {
		where := fmt.Sprintf("Catch[%d]", i)
		fields, err := objectFields(state, where, item)
		if err != nil {
			return nil, err
		}
		c := &catcher{}
		for _, k := range sortedKeys(fields) {
			v := fields[k]
			fw := where + "." + k
			switch k {
			case "Comment":
			case "ErrorEquals":
				if c.errorEquals, err = parseErrorEquals(state, where, v); err != nil {
					return nil, err
				}
			case "Next":
				if err := json.Unmarshal(v, &c.next); err != nil || c.next == "" {
					return nil, &ValidationError{State: state, Field: fw, Message: "must be a non-empty string"}
				}
			case "ResultPath":
				if c.resultPath, err = parseResultPath(state, fw, v); err != nil {
					return nil, err
				}
			default:
				return nil, &UnsupportedError{State: state, Field: fw}
			}
		}
		if c.errorEquals == nil || c.next == "" {
			return nil, &ValidationError{State: state, Field: where, Message: "ErrorEquals and Next are required"}
		}
		if c.errorEquals[0] == ErrorAll && i != len(items)-1 {
			return nil, &ValidationError{State: state, Field: where, Message: "a catcher with States.ALL must be the last one"}
		}
		out = append(out, c)
	}
	return out, nil
}

func objectFields(state, where string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, &ValidationError{State: state, Field: where, Message: "must be an object"}
	}
	return fields, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// intField reads an integer within [lo, hi].
func intField(state, field string, raw json.RawMessage, lo, hi int64) (int64, error) {
	v, err := decodeValue(raw)
	if err == nil {
		if n, ok := asInt(v); ok && n >= lo && n <= hi {
			return n, nil
		}
	}
	return 0, &ValidationError{State: state, Field: field, Message: fmt.Sprintf("must be an integer from %d to %d", lo, hi)}
}
