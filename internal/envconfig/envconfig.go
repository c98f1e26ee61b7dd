// Package envconfig reads function settings from environment variables once, at cold
// start, and reports every problem with the variable's name.
package envconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Reader collects errors so one start-up failure lists every bad variable.
type Reader struct {
	lookup func(string) (string, bool)
	errs   []error
}

// New reads from lookup (os.LookupEnv in production).
func New(lookup func(string) (string, bool)) *Reader { return &Reader{lookup: lookup} }

// Err returns every problem found, or nil.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

func (r *Reader) fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// String returns a required non-empty variable.
func (r *Reader) String(name string) string {
	v, ok := r.lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		r.fail(name, "is required")
		return ""
	}
	return strings.TrimSpace(v)
}

// bucketRe is S3's general purpose bucket naming rule, loosely: 3-63 lowercase letters,
// digits, dots and hyphens, starting and ending with a letter or digit.
var bucketRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// Bucket returns a required S3 bucket name.
func (r *Reader) Bucket(name string) string {
	v := r.String(name)
	if v != "" && !bucketRe.MatchString(v) {
		r.fail(name, "%q is not an S3 bucket name", v)
		return ""
	}
	return v
}

// StringOr returns an optional variable.
func (r *Reader) StringOr(name, def string) string {
	v, ok := r.lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	return strings.TrimSpace(v)
}

// List returns a required comma-separated list.
func (r *Reader) List(name string) []string {
	raw := r.String(name)
	if raw == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(raw, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		r.fail(name, "lists nothing")
	}
	return out
}

// OptionalList returns an optional comma-separated list; unset or empty is nil.
func (r *Reader) OptionalList(name string) []string {
	var out []string
	for _, p := range strings.Split(r.StringOr(name, ""), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Int returns an optional whole number within [min, max].
func (r *Reader) Int(name string, def, min, max int) int {
	v, ok := r.lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < min || n > max {
		r.fail(name, "must be a whole number from %d to %d, got %q", min, max, v)
		return def
	}
	return n
}

// StringMap returns an optional JSON object of strings.
func (r *Reader) StringMap(name string, def map[string]string) map[string]string {
	v, ok := r.lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		r.fail(name, "must be a JSON object of strings: %v", err)
		return def
	}
	return m
}

// Check records err against name when non-nil.
func (r *Reader) Check(name string, err error) {
	if err != nil {
		r.fail(name, "%v", err)
	}
}
