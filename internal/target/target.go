// Package target parses and validates one entry of crossAccountTargetRoleArns.
//
// Everything is checked before any AWS call, so a bad target fails fast with an
// InvalidTarget that names the field and the rule, instead of a half-started build.
package target

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/crossbuild/crossbuild/internal/awsarn"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/partition"
	"github.com/crossbuild/crossbuild/internal/polling"
)

// Bounds of a target's waits: Step Functions' HeartbeatSeconds and TimeoutSeconds (an
// execution lasts at most a year) and CodeBuild's build timeout in minutes.
const (
	MinHeartbeatSeconds    = 60
	MaxHeartbeatSeconds    = 86400
	MinTimeoutSeconds      = 60
	MaxTimeoutSeconds      = 31536000
	MinBuildTimeoutMinutes = 5
	MaxBuildTimeoutMinutes = 2160
)

// Completion modes.
const (
	CompletionEvent = "event"
	CompletionPoll  = "poll"
)

// Environment variable types CodeBuild accepts.
const (
	EnvPlaintext      = "PLAINTEXT"
	EnvParameterStore = "PARAMETER_STORE"
	EnvSecretsManager = "SECRETS_MANAGER"
)

// Limits on what a target may carry. CodeBuild and Step Functions both cap payload sizes;
// these keep one target well inside them and make the failure ours, with a clear message.
const (
	MaxEnvVars        = 100
	MaxEnvNameLen     = 255
	MaxEnvValueLen    = 16 * 1024
	MaxEnvTotalBytes  = 64 * 1024
	MaxSourceVersion  = 255
	reservedEnvPrefix = "CODEBUILD_"
)

// Reserved keys of a target; every other key becomes an environment variable override.
const (
	keyARN             = "arn"
	keyRegion          = "region"
	keyProject         = "codeBuildProject"
	keyEnvironment     = "environmentVariables"
	keyCompletion      = "completion"
	keyPollInterval    = "pollIntervalSeconds"
	keyHeartbeat       = "heartbeatSeconds"
	keyTimeout         = "timeoutSeconds"
	keySourceVersion   = "sourceVersion"
	keyTimeoutInMinute = "timeoutInMinutes"
)

var reserved = map[string]bool{
	keyARN: true, keyRegion: true, keyProject: true, keyEnvironment: true, keyCompletion: true,
	keyPollInterval: true, keyHeartbeat: true, keyTimeout: true, keySourceVersion: true,
	keyTimeoutInMinute: true,
}

var (
	regionRe  = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$`)
	projectRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]+$`) // 2-255 characters; the length is checked apart
	envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	accountRe = regexp.MustCompile(`^\d{12}$`)
)

// EnvVar is one environment variable override of a build.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Type  string `json:"type"`
}

// Target is a validated target.
type Target struct {
	RoleARN   string
	Partition string
	Account   string
	Region    string
	Project   string

	Completion          string
	PollIntervalSeconds int // 0 when not given
	HeartbeatSeconds    int // 0 when not given
	TimeoutSeconds      int // 0 when not given
	SourceVersion       string
	TimeoutInMinutes    int // 0 when not given

	// Env holds the merged overrides (constants, mapped keys, environmentVariables), sorted by name.
	Env []EnvVar
}

// EnvNames returns the names of the overridden variables, never their values.
func (t Target) EnvNames() []string {
	names := make([]string, len(t.Env))
	for i, e := range t.Env {
		names[i] = e.Name
	}
	return names
}

// Mapping turns a target's free keys into environment variables.
type Mapping struct {
	Rename    map[string]string // target key -> variable name
	Constants map[string]string // added to every build
}

// DefaultMapping reproduces the original pattern's variables.
func DefaultMapping() Mapping {
	return Mapping{
		Rename:    map[string]string{"SampleValue1": "SAMPLE_VAR1", "SampleValue2": "SAMPLE_VAR2"},
		Constants: map[string]string{"HARDCODED_VAR1": "I am hardcoded"},
	}
}

// Validate checks the mapping itself, so a bad configuration fails at cold start.
func (m Mapping) Validate() error {
	for k, v := range m.Rename {
		if reserved[k] {
			return fmt.Errorf("mapping renames reserved key %q", k)
		}
		if err := checkEnvName(v); err != "" {
			return fmt.Errorf("mapping of %q: variable name %q %s", k, v, err)
		}
	}
	for k, v := range m.Constants {
		if err := checkEnvName(k); err != "" {
			return fmt.Errorf("constant %q: %s", k, err)
		}
		if len(v) > MaxEnvValueLen {
			return fmt.Errorf("constant %q: value longer than %d bytes", k, MaxEnvValueLen)
		}
	}
	return nil
}

// CheckNames checks the variable names the mapping renames target keys to against a name
// policy, so a deployment whose mapping could never be used fails at start, naming the key.
func (m Mapping) CheckNames(p NamePolicy) error {
	for _, k := range sortedKeys(m.Rename) {
		if rule := p.Check(m.Rename[k]); rule != "" {
			return fmt.Errorf("mapping of %q: variable name %q %s", k, m.Rename[k], rule)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Parser parses targets with one mapping and reserved correlation prefix.
type Parser struct {
	Mapping Mapping
	// ReservedPrefix is the prefix of the correlation variables the starter adds itself;
	// a target may not set variables with it.
	ReservedPrefix string
	// Names decides which variable names a target may set; the zero value applies the
	// default deny-list. The deployment's constants are not subject to it.
	Names NamePolicy
}

// Parse validates raw (one target object) found at position index of the input.
func (p Parser) Parse(raw []byte, index int) (Target, error) {
	bad := func(field, rule string, args ...any) error {
		return &failure.InvalidTarget{Index: index, Field: field, Rule: fmt.Sprintf(rule, args...)}
	}
	fields, err := decodeObject(raw)
	if err != nil {
		return Target{}, bad("target", "must be a JSON object: %v", err)
	}
	var t Target

	if t.RoleARN, err = requiredString(fields, keyARN); err != nil {
		return Target{}, bad(keyARN, "%v", err)
	}
	role, err := awsarn.ParseRole(t.RoleARN)
	if err != nil {
		return Target{}, bad(keyARN, "must be an IAM role ARN like arn:aws:iam::123456789012:role/name: %v", err)
	}
	t.Partition, t.Account = role.Partition, role.Account

	if t.Region, err = requiredString(fields, keyRegion); err != nil {
		return Target{}, bad(keyRegion, "%v", err)
	}
	if !regionRe.MatchString(t.Region) {
		return Target{}, bad(keyRegion, "must be a Region name like eu-west-1")
	}
	if want := partition.Of(t.Region); want != t.Partition {
		return Target{}, bad(keyRegion, "Region %s is in partition %s but the role ARN is in %s", t.Region, want, t.Partition)
	}

	if t.Project, err = requiredString(fields, keyProject); err != nil {
		return Target{}, bad(keyProject, "%v", err)
	}
	if len(t.Project) > 255 || !projectRe.MatchString(t.Project) {
		return Target{}, bad(keyProject, "must be 2-255 characters of A-Z a-z 0-9 _ - starting with a letter or digit")
	}

	t.Completion = CompletionEvent
	if v, ok := fields[keyCompletion]; ok {
		s, err := asString(v)
		if err != nil || (s != CompletionEvent && s != CompletionPoll) {
			return Target{}, bad(keyCompletion, "must be %q or %q", CompletionEvent, CompletionPoll)
		}
		t.Completion = s
	}
	ints := []struct {
		key      string
		dst      *int
		min, max int
	}{
		{keyPollInterval, &t.PollIntervalSeconds, polling.MinIntervalSeconds, polling.MaxIntervalSeconds},
		{keyHeartbeat, &t.HeartbeatSeconds, MinHeartbeatSeconds, MaxHeartbeatSeconds},
		{keyTimeout, &t.TimeoutSeconds, MinTimeoutSeconds, MaxTimeoutSeconds},
		{keyTimeoutInMinute, &t.TimeoutInMinutes, MinBuildTimeoutMinutes, MaxBuildTimeoutMinutes},
	}
	for _, f := range ints {
		v, ok := fields[f.key]
		if !ok {
			continue
		}
		n, err := asInt(v)
		if err != nil || n < f.min || n > f.max {
			return Target{}, bad(f.key, "must be a whole number from %d to %d", f.min, f.max)
		}
		*f.dst = n
	}
	if t.HeartbeatSeconds > 0 && t.TimeoutSeconds > 0 && t.HeartbeatSeconds >= t.TimeoutSeconds {
		return Target{}, bad(keyHeartbeat, "must be less than timeoutSeconds (%d)", t.TimeoutSeconds)
	}
	if v, ok := fields[keySourceVersion]; ok {
		s, err := asString(v)
		if err != nil || s == "" || len(s) > MaxSourceVersion {
			return Target{}, bad(keySourceVersion, "must be a non-empty string of at most %d characters", MaxSourceVersion)
		}
		t.SourceVersion = s
	}

	env, err := p.mergeEnv(fields, bad)
	if err != nil {
		return Target{}, err
	}
	t.Env = env
	return t, nil
}

type badFunc func(field, rule string, args ...any) error

// mergeEnv applies the precedence constants < mapped keys < environmentVariables.
func (p Parser) mergeEnv(fields map[string]json.RawMessage, bad badFunc) ([]EnvVar, error) {
	merged := make(map[string]EnvVar, len(p.Mapping.Constants)+len(fields))
	for k, v := range p.Mapping.Constants {
		merged[k] = EnvVar{Name: k, Value: v, Type: EnvPlaintext}
	}

	fromKeys := make(map[string]string) // variable name -> target key that set it
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if !reserved[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := k
		if renamed, ok := p.Mapping.Rename[k]; ok {
			name = renamed
		}
		if rule := p.checkName(name); rule != "" {
			return nil, bad(k, "variable name %q %s", name, rule)
		}
		if other, dup := fromKeys[name]; dup {
			return nil, bad(k, "sets variable %s, which key %q already sets", name, other)
		}
		val, err := scalarString(fields[k])
		if err != nil {
			return nil, bad(k, "%v", err)
		}
		if len(val) > MaxEnvValueLen {
			return nil, bad(k, "value longer than %d bytes", MaxEnvValueLen)
		}
		fromKeys[name] = k
		merged[name] = EnvVar{Name: name, Value: val, Type: EnvPlaintext}
	}

	if raw, ok := fields[keyEnvironment]; ok {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, bad(keyEnvironment, "must be an array of {name, value, type} objects")
		}
		seen := make(map[string]bool, len(list))
		for i, item := range list {
			field := fmt.Sprintf("%s[%d]", keyEnvironment, i)
			ev, err := p.parseEnvVar(item)
			if err != nil {
				return nil, bad(field, "%v", err)
			}
			if seen[ev.Name] {
				return nil, bad(field+".name", "%s is given twice", ev.Name)
			}
			seen[ev.Name] = true
			merged[ev.Name] = ev
		}
	}

	if len(merged) > MaxEnvVars {
		return nil, bad(keyEnvironment, "at most %d environment variables per build, got %d", MaxEnvVars, len(merged))
	}
	out := make([]EnvVar, 0, len(merged))
	total := 0
	for _, e := range merged {
		total += len(e.Name) + len(e.Value)
		out = append(out, e)
	}
	if total > MaxEnvTotalBytes {
		return nil, bad(keyEnvironment, "environment variables total %d bytes, more than %d", total, MaxEnvTotalBytes)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (p Parser) parseEnvVar(raw json.RawMessage) (EnvVar, error) {
	fields, err := decodeObject(raw)
	if err != nil {
		return EnvVar{}, fmt.Errorf("must be an object with name, value and type")
	}
	for k := range fields {
		if k != "name" && k != "value" && k != "type" {
			return EnvVar{}, fmt.Errorf("unknown key %q (allowed: name, value, type)", k)
		}
	}
	var ev EnvVar
	if ev.Name, err = requiredString(fields, "name"); err != nil {
		return EnvVar{}, fmt.Errorf("name: %v", err)
	}
	if rule := p.checkName(ev.Name); rule != "" {
		return EnvVar{}, fmt.Errorf("name %q %s", ev.Name, rule)
	}
	v, ok := fields["value"]
	if !ok {
		return EnvVar{}, fmt.Errorf("value: is required")
	}
	if ev.Value, err = asString(v); err != nil {
		return EnvVar{}, fmt.Errorf("value: must be a string")
	}
	if len(ev.Value) > MaxEnvValueLen {
		return EnvVar{}, fmt.Errorf("value: longer than %d bytes", MaxEnvValueLen)
	}
	ev.Type = EnvPlaintext
	if t, ok := fields["type"]; ok {
		s, err := asString(t)
		if err != nil || (s != EnvPlaintext && s != EnvParameterStore && s != EnvSecretsManager) {
			return EnvVar{}, fmt.Errorf("type: must be %s, %s or %s", EnvPlaintext, EnvParameterStore, EnvSecretsManager)
		}
		ev.Type = s
	}
	if ev.Type != EnvPlaintext && ev.Value == "" {
		return EnvVar{}, fmt.Errorf("value: a %s variable needs the parameter or secret name", ev.Type)
	}
	return ev, nil
}

func (p Parser) checkName(name string) string {
	if rule := checkEnvName(name); rule != "" {
		return rule
	}
	if p.ReservedPrefix != "" && strings.HasPrefix(name, p.ReservedPrefix) {
		return fmt.Sprintf("must not start with %s, which is reserved for correlation variables", p.ReservedPrefix)
	}
	return p.Names.Check(name)
}

func checkEnvName(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > MaxEnvNameLen:
		return fmt.Sprintf("must be at most %d characters", MaxEnvNameLen)
	case !envNameRe.MatchString(name):
		return "must be a valid identifier (letters, digits, _; not starting with a digit)"
	case strings.HasPrefix(name, reservedEnvPrefix):
		return "must not start with CODEBUILD_, which CodeBuild reserves"
	}
	return ""
}

// decodeObject decodes a JSON object, rejecting duplicate keys: encoding/json would keep
// the last one silently, and a target that says two things should say neither.
func decodeObject(raw []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("got %s", describe(tok))
	}
	fields := make(map[string]json.RawMessage)
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if _, dup := fields[key]; dup {
			return nil, fmt.Errorf("key %q appears twice", key)
		}
		fields[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the object")
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("trailing data after the object")
	}
	return fields, nil
}

func describe(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "an array"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "something else"
}

func requiredString(fields map[string]json.RawMessage, key string) (string, error) {
	v, ok := fields[key]
	if !ok {
		return "", fmt.Errorf("is required")
	}
	s, err := asString(v)
	if err != nil {
		return "", fmt.Errorf("must be a string")
	}
	if s == "" {
		return "", fmt.Errorf("must not be empty")
	}
	return s, nil
}

func asString(raw json.RawMessage) (string, error) {
	var s string
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("not a string")
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

func asInt(raw json.RawMessage) (int, error) {
	// json.Number would also take "20" quoted; a count must be a JSON number.
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, fmt.Errorf("not a number")
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, err
	}
	i, err := strconv.ParseInt(n.String(), 10, 32)
	if err != nil {
		// Accept 20.0 as 20, which JSON encoders in other languages sometimes emit.
		f, ferr := n.Float64()
		if ferr != nil || f != float64(int64(f)) || f > 1<<31 || f < -(1<<31) {
			return 0, fmt.Errorf("not a whole number")
		}
		return int(f), nil
	}
	return int(i), nil
}

// scalarString renders a string, number or boolean as the variable's value; numbers keep
// their JSON spelling so 1.50 stays "1.50".
func scalarString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", fmt.Errorf("must be a string, number or boolean")
	}
	switch raw[0] {
	case '"':
		return asString(raw)
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", err
		}
		return n.String(), nil
	}
	return "", fmt.Errorf("must be a string, number or boolean, not %s", kind(raw[0]))
}

func kind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 'n':
		return "null"
	}
	return "this value"
}

// IsAccountID reports whether s is a 12-digit account id.
func IsAccountID(s string) bool { return accountRe.MatchString(s) }

// IsRegion reports whether s looks like a Region name.
func IsRegion(s string) bool { return regionRe.MatchString(s) }
