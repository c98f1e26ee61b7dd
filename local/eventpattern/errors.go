package eventpattern

import (
	"errors"
	"fmt"
	"strconv"
)

// MaxDepth bounds the nesting of objects and arrays accepted in patterns and
// events, so hostile input cannot exhaust the stack.
const MaxDepth = 100

// ErrTooDeep is wrapped by errors caused by nesting deeper than MaxDepth.
var ErrTooDeep = errors.New("nesting deeper than the limit")

// PatternError reports an invalid event pattern. Path locates the offending
// part: field names joined by dots, [i] for array elements, and ["name"] for
// field names that are not plain identifiers. Path is empty for the pattern
// as a whole.
type PatternError struct {
	Path   string
	Reason string
	Err    error // underlying cause, if any (ErrTooDeep, a JSON syntax error)
}

func (e *PatternError) Error() string {
	if e.Path == "" {
		return "event pattern: " + e.Reason
	}
	return e.Path + ": " + e.Reason
}

func (e *PatternError) Unwrap() error { return e.Err }

// UnsupportedOperatorError reports a match operator this package does not
// know, such as {"regex": "..."}. Path locates the operator object.
type UnsupportedOperatorError struct {
	Path     string
	Operator string
}

func (e *UnsupportedOperatorError) Error() string {
	return fmt.Sprintf("%s: unknown operator %q", e.Path, e.Operator)
}

// EventError reports an event that cannot be matched: malformed JSON, a top
// level that is not an object, nesting deeper than MaxDepth, or (for
// MatchValue) a Go value that is not a decoded JSON value.
type EventError struct {
	Reason string
	Err    error
}

func (e *EventError) Error() string { return "event: " + e.Reason }

func (e *EventError) Unwrap() error { return e.Err }

func patternErrorf(path, format string, args ...any) *PatternError {
	return &PatternError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// childPath extends a JSON path with a field name.
func childPath(parent, name string) string {
	if !isPlainName(name) {
		return parent + "[" + strconv.Quote(name) + "]"
	}
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// indexPath extends a JSON path with an array index.
func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// isPlainName reports whether a field name can be written unquoted in a path
// without ambiguity.
func isPlainName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '-', r == '_', r == '$', r == '@', r == ':', r == '/':
		default:
			return false
		}
	}
	return true
}
