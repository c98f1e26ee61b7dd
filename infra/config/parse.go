package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/crossbuild/crossbuild/internal/partition"
	"github.com/crossbuild/crossbuild/internal/target"
)

var (
	accountPattern    = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	orgIDPattern      = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	externalIDPattern = lengthBound{regexp.MustCompile(`^[\w+=,.@:/-]+$`), 2, 1224}
	roleNamePattern   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	projectPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{1,254}$`)
	envNamePattern    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)
	envPrefixPattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	snsARNPattern     = regexp.MustCompile(`^arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:[\w-]{1,256}$`)
)

// matcher is satisfied by *regexp.Regexp and lengthBound.
type matcher interface{ MatchString(string) bool }

// lengthBound adds a length range to a pattern (Go's regexp caps repeat counts at 1000).
type lengthBound struct {
	re       *regexp.Regexp
	min, max int
}

func (l lengthBound) MatchString(s string) bool {
	return len(s) >= l.min && len(s) <= l.max && l.re.MatchString(s)
}

var logLevels = []string{"DEBUG", "INFO", "WARN", "ERROR"}

// parser collects every problem instead of stopping at the first one, so a user fixes the
// context in one pass. Keys that failed are remembered so follow-up rules stay quiet.
type parser struct {
	get    Getter
	errs   []error
	failed map[string]bool
}

func (p *parser) fail(key, format string, args ...any) {
	p.failWith(key, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

// failWith records a typed error (its message names key itself).
func (p *parser) failWith(key string, err error) {
	if p.failed == nil {
		p.failed = map[string]bool{}
	}
	p.failed[rootKey(key)] = true
	p.errs = append(p.errs, err)
}

// ok reports whether none of keys has failed.
func (p *parser) ok(keys ...string) bool {
	for _, k := range keys {
		if p.failed[k] {
			return false
		}
	}
	return true
}

func rootKey(key string) string {
	if i := strings.IndexByte(key, '['); i >= 0 {
		return key[:i]
	}
	return key
}

// value returns the raw context value, or nil when unset. An empty string counts as unset.
func (p *parser) value(key string) any {
	v := p.get(key)
	if s, isString := v.(string); isString && strings.TrimSpace(s) == "" {
		return nil
	}
	return v
}

// structured returns a JSON value: given as JSON in cdk.json, or as a JSON string with -c.
func (p *parser) structured(key string) (any, bool) {
	v := p.value(key)
	if v == nil {
		return nil, false
	}
	s, isString := v.(string)
	if !isString {
		return v, true
	}
	var out any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		p.fail(key, "is not valid JSON: %v", err)
		return nil, false
	}
	return out, true
}

// str returns a string value; ok is false when the key is unset or not a string.
func (p *parser) str(key string) (string, bool) {
	switch v := p.value(key).(type) {
	case nil:
		return "", false
	case string:
		return strings.TrimSpace(v), true
	case float64:
		p.fail(key, "must be a string, got the number %v (quote it: account ids lose leading zeros as numbers)", v)
	default:
		p.fail(key, "must be a string, got %s", describe(v))
	}
	return "", false
}

func (p *parser) requiredMatch(key string, re matcher, rule string) string {
	s, ok := p.str(key)
	if !ok {
		if p.ok(key) {
			p.fail(key, "is required: %s", rule)
		}
		return ""
	}
	if !re.MatchString(s) {
		p.fail(key, "%q is not %s", s, rule)
		return ""
	}
	return s
}

func (p *parser) optionalMatchDefault(key string, re matcher, rule, def string) string {
	s, ok := p.str(key)
	if !ok {
		return def
	}
	if !re.MatchString(s) {
		p.fail(key, "%q is not %s", s, rule)
		return def
	}
	return s
}

func (p *parser) optionalMatch(key string, re matcher, rule string) string {
	return p.optionalMatchDefault(key, re, rule, "")
}

func (p *parser) account(key string) string {
	return p.requiredMatch(key, accountPattern, "a 12-digit AWS account id")
}

func (p *parser) region(key string) string {
	return p.requiredMatch(key, regionPattern, "an AWS Region name such as eu-west-1")
}

func (p *parser) integer(key string, def, lo, hi int) int {
	v := p.value(key)
	if v == nil {
		return def
	}
	n, ok := parseInt(v)
	if !ok {
		p.fail(key, "must be an integer, got %s", describe(v))
		return def
	}
	if n < lo || n > hi {
		p.fail(key, "must be between %d and %d, got %d", lo, hi, n)
		return def
	}
	return n
}

func (p *parser) logLevel(key string) string {
	s, ok := p.str(key)
	if !ok {
		return DefaultLogLevel
	}
	if u := strings.ToUpper(s); slices.Contains(logLevels, u) {
		return u
	}
	p.fail(key, "%q is not one of %s", s, strings.Join(logLevels, ", "))
	return DefaultLogLevel
}

// envMap reads a JSON object of strings. Values must be variable names when namesAsValues
// (ENV_MAPPING: target key → variable name); keys are always variable names otherwise.
func (p *parser) envMap(key string, def map[string]string, namesAsValues bool) map[string]string {
	v, ok := p.structured(key)
	if !ok {
		return def
	}
	obj, isObject := v.(map[string]any)
	if !isObject {
		p.fail(key, "must be a JSON object of strings, got %s", describe(v))
		return def
	}
	out := make(map[string]string, len(obj))
	for k, raw := range obj {
		s, isString := raw.(string)
		switch {
		case !isString:
			p.fail(fmt.Sprintf("%s.%s", key, k), "must be a string, got %s", describe(raw))
		case k == "":
			p.fail(key, "has an empty key")
		case namesAsValues && !envNamePattern.MatchString(s):
			p.fail(fmt.Sprintf("%s.%s", key, k), "%q is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)", s)
		case !namesAsValues && !envNamePattern.MatchString(k):
			p.fail(fmt.Sprintf("%s.%s", key, k), "is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
		default:
			out[k] = s
		}
	}
	return out
}

// envNames reads the allow-list of variable names a target may set (a JSON array of names
// and prefixes ending in *), and checks that the mapping renames keys only to names the
// starter would accept.
func (p *parser) envNames(key, correlationPrefix string, mapping map[string]string) []string {
	var names []string
	if v, ok := p.structured(key); ok {
		items, isArray := v.([]any)
		if !isArray {
			p.fail(key, "must be a JSON array of variable names or prefixes ending in *, got %s", describe(v))
			return nil
		}
		for i, item := range items {
			s, isString := item.(string)
			if !isString {
				p.fail(fmt.Sprintf("%s[%d]", key, i), "must be a string, got %s", describe(item))
				continue
			}
			names = append(names, s)
		}
	}
	policy, err := target.NewNamePolicy(names, correlationPrefix)
	if err != nil {
		p.fail(key, "%v", err)
		return nil
	}
	if err := (target.Mapping{Rename: mapping}).CheckNames(policy); err != nil && p.ok(KeyEnvMapping) {
		p.fail(KeyEnvMapping, "%v", err)
	}
	return names
}

var targetFields = []string{"accounts", "regions", "projects", "sampleProject"}

// targets expands the accounts × Regions × projects entries into one Target per
// (account, Region) and rejects duplicates across entries.
func (p *parser) targets(key, sourcePartition string) []Target {
	v, ok := p.structured(key)
	if !ok {
		if p.ok(key) {
			p.fail(key, "is required: a JSON array of {\"accounts\": [...], \"regions\": [...], \"projects\": [...], \"sampleProject\": \"...\"}")
		}
		return nil
	}
	entries, isArray := v.([]any)
	if !isArray {
		p.fail(key, "must be a JSON array of target entries, got %s", describe(v))
		return nil
	}
	if len(entries) == 0 {
		p.fail(key, "is empty: at least one target entry is required")
		return nil
	}
	var out []Target
	seenAt := map[[2]string]string{} // (account, region) → key of the entry that defined it
	for i, raw := range entries {
		ek := fmt.Sprintf("%s[%d]", key, i)
		entry, isObject := raw.(map[string]any)
		if !isObject {
			p.fail(ek, "must be a JSON object, got %s", describe(raw))
			continue
		}
		for field := range entry {
			if !slices.Contains(targetFields, field) {
				p.fail(ek, "unknown field %q (allowed: %s)", field, strings.Join(targetFields, ", "))
			}
		}
		accounts := p.list(entry, ek, "accounts", accountPattern, "a 12-digit AWS account id", true)
		regions := p.list(entry, ek, "regions", regionPattern, "an AWS Region name such as eu-west-1", true)
		errsBefore := len(p.errs) // "names no project" only when projects were not malformed
		projects := p.list(entry, ek, "projects", projectPattern, "a CodeBuild project name (2 to 255 characters of [A-Za-z0-9_-], starting with a letter or digit)", false)
		sample := ""
		if raw, present := entry["sampleProject"]; present {
			s, isString := raw.(string)
			switch {
			case !isString:
				p.fail(ek+".sampleProject", "must be a string, got %s", describe(raw))
			case !projectPattern.MatchString(s):
				p.fail(ek+".sampleProject", "%q is not a CodeBuild project name (2 to 255 characters of [A-Za-z0-9_-], starting with a letter or digit)", s)
			default:
				sample = s
				if !slices.Contains(projects, s) {
					projects = append(projects, s)
				}
			}
		}
		if len(projects) == 0 && len(p.errs) == errsBefore {
			p.fail(ek, "names no project: give \"projects\" or \"sampleProject\"")
		}
		slices.Sort(projects)
		for _, region := range regions {
			if sourcePartition != "" && partition.Of(region) != sourcePartition {
				p.fail(ek+".regions", "%q is in partition %s, the source Region's partition is %s", region, partition.Of(region), sourcePartition)
			}
		}
		for _, account := range accounts {
			for _, region := range regions {
				k := [2]string{account, region}
				if prev, dup := seenAt[k]; dup {
					p.fail(ek, "duplicate target: account %s in %s is already configured by %s", account, region, prev)
					continue
				}
				seenAt[k] = ek
				out = append(out, Target{
					Account:       account,
					Region:        region,
					Projects:      slices.Clone(projects),
					SampleProject: sample,
				})
			}
		}
	}
	return out
}

// list reads entry[field] as a list of distinct strings matching re.
func (p *parser) list(entry map[string]any, ek, field string, re *regexp.Regexp, rule string, required bool) []string {
	fk := ek + "." + field
	raw, present := entry[field]
	if !present {
		if required {
			p.fail(fk, "is required: a non-empty array of strings, each %s", rule)
		}
		return nil
	}
	items, isArray := raw.([]any)
	if !isArray {
		p.fail(fk, "must be an array of strings, got %s", describe(raw))
		return nil
	}
	if required && len(items) == 0 {
		p.fail(fk, "is empty: give at least one value, each %s", rule)
		return nil
	}
	var out []string
	for j, item := range items {
		ik := fmt.Sprintf("%s[%d]", fk, j)
		s, isString := item.(string)
		switch {
		case !isString:
			p.fail(ik, "must be a string, got %s", describe(item))
		case !re.MatchString(s):
			p.fail(ik, "%q is not %s", s, rule)
		case slices.Contains(out, s):
			p.fail(ik, "duplicate value %q", s)
		default:
			out = append(out, s)
		}
	}
	return out
}

// describe names a JSON value's type for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// roleRegions reads the Region of each account's target role: given for every account
// with targets in several Regions, and defaulting to the only Region otherwise. Deriving
// it from the order of the context would move the role (an account-global name) to
// another stack whenever the context is reordered or a Region is added in front.
func (p *parser) roleRegions(key string, targets []Target) map[string]string {
	configured := map[string][]string{} // account → its Regions, sorted
	for _, t := range targets {
		configured[t.Account] = append(configured[t.Account], t.Region)
	}
	given := map[string]string{}
	named := map[string]bool{} // accounts with an entry, valid or not
	if v, ok := p.structured(key); ok {
		obj, isObject := v.(map[string]any)
		if !isObject {
			p.fail(key, "must be a JSON object of account id to Region, got %s", describe(v))
			return nil
		}
		for account, raw := range obj {
			ak := key + "." + account
			named[account] = true
			region, isString := raw.(string)
			switch {
			case !accountPattern.MatchString(account):
				p.fail(ak, "%q is not a 12-digit AWS account id", account)
			case configured[account] == nil:
				p.fail(ak, "account %s has no target in %s", account, KeyTargets)
			case !isString:
				p.fail(ak, "must be a Region name, got %s", describe(raw))
			case !slices.Contains(configured[account], region):
				p.fail(ak, "%q is not one of the account's target Regions (%s): the role lives in one of its target stacks",
					region, strings.Join(sorted(configured[account]), ", "))
			default:
				given[account] = region
			}
		}
	}
	out := map[string]string{}
	for _, account := range slices.Sorted(maps.Keys(configured)) {
		regions := sorted(configured[account])
		switch {
		case given[account] != "":
			out[account] = given[account]
		case len(regions) == 1:
			out[account] = regions[0]
		case !named[account]:
			p.fail(key, "account %s has targets in several Regions (%s): name the one whose stack holds its target role, "+
				"e.g. {\"%s\": \"%s\"}; when the role already exists, name the Region of the stack that created it",
				account, strings.Join(regions, ", "), account, regions[0])
		}
	}
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
