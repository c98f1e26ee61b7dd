package config

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// CodeBuild event vocabulary of the forwarding and callback rules.
const (
	CodeBuildSource   = "aws.codebuild"
	DetailStateChange = "CodeBuild Build State Change"
	DetailPhaseChange = "CodeBuild Build Phase Change"
)

// BuildStatuses are the values of detail.build-status the callback reacts to: progress and
// all five terminal statuses.
var BuildStatuses = []string{"IN_PROGRESS", "SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"}

// EventBridge limits an event pattern to 2,048 characters unless the account's quota was
// raised (Amazon EventBridge quotas, "Event pattern size"). The callback rule lists every
// account, Region and project, so a large configuration is refused at synthesis instead of
// failing the deployment of the source stack.
const (
	DefaultMaxEventPatternChars = 2048
	MaxMaxEventPatternChars     = 4096
)

// CallbackPattern is the callback rule's event pattern as CloudFormation passes it to
// EventBridge: state and phase changes of the configured projects in the configured
// accounts and Regions. detail.$or keeps phase changes (which have no build-status) while
// limiting state changes to known statuses.
func (c *Config) CallbackPattern() map[string]any {
	return map[string]any{
		"source":      []string{CodeBuildSource},
		"detail-type": []string{DetailStateChange, DetailPhaseChange},
		"account":     c.TargetAccounts(),
		"region":      c.TargetRegions(),
		"detail": map[string]any{
			"project-name": c.ProjectNames(),
			"$or": []any{
				map[string]any{"build-status": BuildStatuses},
				map[string]any{"completed-phase": []any{map[string]any{"exists": true}}},
			},
		},
	}
}

// ForwardPattern is the target's forwarding rule pattern: state and phase changes of its
// projects.
func (t Target) ForwardPattern() map[string]any {
	return map[string]any{
		"source":      []string{CodeBuildSource},
		"detail-type": []string{DetailStateChange, DetailPhaseChange},
		"detail":      map[string]any{"project-name": t.Projects},
	}
}

// PatternChars is the size EventBridge counts for a pattern: its length as compact JSON,
// the form CloudFormation passes to PutRule. Every value is ASCII (names are validated),
// so bytes and characters agree.
func PatternChars(pattern map[string]any) int {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(pattern); err != nil {
		return 0 // maps of strings cannot fail
	}
	return b.Len() - 1 // Encode appends a newline
}

// PatternTooLargeError reports a rule whose event pattern would exceed the quota.
type PatternTooLargeError struct {
	Key      string // the context key to change
	Rule     string // which rule, e.g. "the callback rule of crossbuild-source"
	Chars    int
	Limit    int
	Accounts int
	Regions  int
	Projects int
}

func (e *PatternTooLargeError) Error() string {
	return fmt.Sprintf("%s: the event pattern of %s would be %d characters (%d accounts, %d Regions, %d projects), "+
		"over the limit of %d (EventBridge's \"Event pattern size\" quota, %d unless raised): use fewer or shorter "+
		"project names or fewer accounts, split the targets over several installations, or raise the quota and set %s",
		e.Key, e.Rule, e.Chars, e.Accounts, e.Regions, e.Projects, e.Limit, DefaultMaxEventPatternChars, KeyMaxEventPatternChars)
}

// checkPatterns refuses a configuration whose callback rule would not fit the event pattern
// size quota. Each forwarding rule lists a subset of the same projects and nothing else, so
// it is always the smaller of the two.
func (c *Config) checkPatterns(p *parser) {
	if len(c.Targets) == 0 {
		return
	}
	if n := PatternChars(c.CallbackPattern()); n > c.MaxEventPatternChars {
		p.failWith(KeyTargets, &PatternTooLargeError{
			Key: KeyTargets, Rule: "the callback rule of " + SourceStackName, Chars: n, Limit: c.MaxEventPatternChars,
			Accounts: len(c.TargetAccounts()), Regions: len(c.TargetRegions()), Projects: len(c.ProjectNames()),
		})
	}
}
