// Package config turns the CDK context of the crossbuild app into a validated Config.
//
// It is pure Go: the context arrives through a Getter, so the rules are tested without
// synthesizing anything. Every error names the context key it is about.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/crossbuild/crossbuild/internal/partition"
	"github.com/crossbuild/crossbuild/internal/plan"
	"github.com/crossbuild/crossbuild/internal/polling"
	"github.com/crossbuild/crossbuild/internal/settings"
)

// Context keys. Values may come from cdk.json (JSON values) or from `-c key=value` (strings;
// structured values are then parsed as JSON).
const (
	KeySourceAccount       = "crossbuild:sourceAccount"
	KeySourceRegion        = "crossbuild:sourceRegion"
	KeyTargets             = "crossbuild:targets"
	KeyOrganizationID      = "crossbuild:organizationId"
	KeyExternalID          = "crossbuild:externalId"
	KeyTargetRoleName      = "crossbuild:targetRoleName"
	KeyMaxConcurrency      = "crossbuild:maxConcurrency"
	KeyHeartbeatSeconds    = "crossbuild:heartbeatSeconds"
	KeyTimeoutSeconds      = "crossbuild:timeoutSeconds"
	KeyPollIntervalSeconds = "crossbuild:pollIntervalSeconds"
	KeyMaxPollInterval     = "crossbuild:maxPollIntervalSeconds"
	KeyEnvMapping          = "crossbuild:envMapping"
	KeyConstantEnv         = "crossbuild:constantEnv"
	KeyCorrelationPrefix   = "crossbuild:correlationPrefix"
	KeyEnvNamesAllowed     = "crossbuild:envNamesAllowed"
	KeyRecordTTLHours      = "crossbuild:recordTtlHours"
	KeyLogLevel            = "crossbuild:logLevel"
	KeyAlarmTopicARN       = "crossbuild:alarmTopicArn"
	// The reconciler's schedule, and how long a record must have been open before it looks.
	KeyReconcileEveryMinutes = "crossbuild:reconcileEveryMinutes"
	KeyReconcileAfterMinutes = "crossbuild:reconcileAfterMinutes"
	// KeyRoleRegions names, per target account, the Region whose target stack holds the
	// account's target role (IAM names are global: exactly one stack may create it).
	KeyRoleRegions = "crossbuild:roleRegions"
	// KeyMaxEventPatternChars is the event pattern size quota of the source and target
	// accounts, for accounts where it was raised.
	KeyMaxEventPatternChars = "crossbuild:maxEventPatternChars"
)

// Physical names shared by the source and target stacks. Target stacks build ARNs from
// them instead of importing values, so the stacks can be deployed in any order.
const (
	StarterRoleName    = "crossbuild-starter"
	PollerRoleName     = "crossbuild-poller"
	CallbackRoleName   = "crossbuild-callback"
	PlannerRoleName    = "crossbuild-planner"
	SummariserRoleName = "crossbuild-summariser"
	CancellerRoleName  = "crossbuild-canceller"
	ReconcilerRoleName = "crossbuild-reconciler"
	EventBusName       = "crossbuild"
	StateMachineName   = "crossbuild"
	SourceStackName    = "crossbuild-source"
	// ForwardRuleName is the forwarding rule of every target stack, on the default bus of
	// its account and Region; its role trusts EventBridge only for this rule's ARN.
	ForwardRuleName = "crossbuild-forward"
	// RunsBucketOutput names the source stack's output holding the runs bucket's name.
	RunsBucketOutput = "RunsBucketName"
	// Further outputs of the source stack, by which the crossbuild command finds the rest
	// of a deployment: the state machine's ARN, the token table's name, the source bus's
	// ARN and the URL of the callback's (and canceller's) dead-letter queue.
	StateMachineOutput    = "StateMachineArn"
	TokenTableOutput      = "TokenTableName"
	EventBusOutput        = "EventBusArn"
	DeadLetterQueueOutput = "DeadLetterQueueUrl"
)

// Defaults of the optional keys.
const (
	DefaultTargetRoleName    = "crossbuild-target-role"
	DefaultCorrelationPrefix = settings.DefaultCorrelationPrefix
	DefaultLogLevel          = "INFO"
	DefaultReconcileEvery    = 5  // minutes
	DefaultReconcileAfter    = 10 // minutes
)

// Defaults of the keys that become a function setting of the same meaning: the setting's.
var (
	DefaultMaxConcurrency      = settings.DefaultMaxConcurrency.Default
	DefaultHeartbeatSeconds    = settings.DefaultHeartbeatSeconds.Default
	DefaultTimeoutSeconds      = settings.DefaultTimeoutSeconds.Default
	DefaultPollIntervalSeconds = settings.DefaultPollIntervalSeconds.Default
	DefaultMaxPollInterval     = settings.MaxPollIntervalSeconds.Default
	DefaultRecordTTLHours      = settings.RecordTTLHours.Default
)

// Bounds shared with the per-target overrides the state machine accepts (docs/reference.md).
const (
	MinHeartbeatSeconds    = plan.MinHeartbeatSeconds
	MaxHeartbeatSeconds    = plan.MaxHeartbeatSeconds
	MinTimeoutSeconds      = plan.MinTimeoutSeconds
	MaxTimeoutSeconds      = plan.MaxTimeoutSeconds
	MinPollIntervalSeconds = polling.MinIntervalSeconds
	MaxPollIntervalSeconds = polling.MaxIntervalSeconds
	// MaxMaxConcurrency is a Distributed Map's limit of child executions running at once.
	MaxMaxConcurrency = plan.MaxConcurrencyLimit
	// The reconciler runs at least once a day; EventBridge's rate schedules count whole
	// minutes. A record is looked at after a minute at the soonest (the callback completes
	// within seconds) and at the latest after a week.
	MinReconcileEvery = 1
	MaxReconcileEvery = 1440
	MinReconcileAfter = 1
	MaxReconcileAfter = 7 * 1440
	// MaxTargetAccounts keeps the starter's AssumeRole statement within IAM's 10,240-character
	// inline policy quota and the bus policy and rule patterns small. Larger fleets use
	// several installations.
	MaxTargetAccounts = 100
)

// DefaultEnvMapping and DefaultConstantEnv reproduce the original pattern's variables.
func DefaultEnvMapping() map[string]string {
	return map[string]string{"SampleValue1": "SAMPLE_VAR1", "SampleValue2": "SAMPLE_VAR2"}
}

// DefaultConstantEnv is the constant variable the original pattern added to every build.
func DefaultConstantEnv() map[string]string {
	return map[string]string{"HARDCODED_VAR1": "I am hardcoded"}
}

// Getter returns the context value of key, or nil when it is not set.
type Getter func(key string) any

// Config is the validated configuration of one crossbuild installation.
type Config struct {
	SourceAccount  string
	SourceRegion   string
	Partition      string // derived from SourceRegion; every target shares it
	OrganizationID string // optional: the bus then admits the whole Organization
	ExternalID     string
	TargetRoleName string

	// Targets holds one entry per (account, Region), in the order of the context.
	Targets []Target
	// RoleRegions maps each target account to the Region whose stack holds its target role.
	RoleRegions map[string]string

	MaxConcurrency      int // 0 means no limit
	HeartbeatSeconds    int
	TimeoutSeconds      int
	PollIntervalSeconds int
	// MaxPollInterval caps the polling interval, which doubles after every poll.
	MaxPollInterval int

	EnvMapping        map[string]string
	ConstantEnv       map[string]string
	CorrelationPrefix string
	// EnvNamesAllowed is the optional allow-list of variable names a target may set (names,
	// or prefixes ending in *); the default deny-list applies either way (internal/target).
	EnvNamesAllowed []string
	RecordTTLHours  int
	LogLevel        string
	AlarmTopicARN   string // optional SNS topic notified by every alarm

	// ReconcileEveryMinutes is the reconciler's schedule; ReconcileAfterMinutes how long a
	// record must have been open before the reconciler asks CodeBuild about its build.
	ReconcileEveryMinutes int
	ReconcileAfterMinutes int

	// MaxEventPatternChars bounds the rules' event patterns (EventBridge quota).
	MaxEventPatternChars int
}

// Target is one target stack: the projects of one account in one Region.
type Target struct {
	Account string
	Region  string
	// Projects the target role may build and whose events are forwarded, sorted.
	Projects []string
	// SampleProject, when set, is created by the target stack (and is one of Projects).
	SampleProject string
	// OwnsRole is true for the account's role Region (crossbuild:roleRegions, or its only
	// Region): IAM is global, so exactly one target stack per account creates the target
	// role, and which one must not depend on the order of the context.
	OwnsRole bool
}

// StackName is the name of the target's stack, e.g. crossbuild-target-222222222222-eu-west-1.
func (t Target) StackName() string {
	return fmt.Sprintf("crossbuild-target-%s-%s", t.Account, t.Region)
}

// Load reads and validates the context. All problems found are returned together.
func Load(get Getter) (*Config, error) {
	p := &parser{get: get}
	c := &Config{
		SourceAccount:         p.account(KeySourceAccount),
		SourceRegion:          p.region(KeySourceRegion),
		OrganizationID:        p.optionalMatch(KeyOrganizationID, orgIDPattern, "an AWS Organization id (o- followed by 10 to 32 lowercase letters or digits)"),
		ExternalID:            p.requiredMatch(KeyExternalID, externalIDPattern, "2 to 1224 characters of [A-Za-z0-9_+=,.@:/-]"),
		TargetRoleName:        p.optionalMatchDefault(KeyTargetRoleName, roleNamePattern, "an IAM role name (1 to 64 characters of [A-Za-z0-9_+=,.@-])", DefaultTargetRoleName),
		MaxConcurrency:        p.integer(KeyMaxConcurrency, DefaultMaxConcurrency, 0, MaxMaxConcurrency),
		HeartbeatSeconds:      p.integer(KeyHeartbeatSeconds, DefaultHeartbeatSeconds, MinHeartbeatSeconds, MaxHeartbeatSeconds),
		TimeoutSeconds:        p.integer(KeyTimeoutSeconds, DefaultTimeoutSeconds, MinTimeoutSeconds, MaxTimeoutSeconds),
		PollIntervalSeconds:   p.integer(KeyPollIntervalSeconds, DefaultPollIntervalSeconds, MinPollIntervalSeconds, MaxPollIntervalSeconds),
		MaxPollInterval:       p.integer(KeyMaxPollInterval, DefaultMaxPollInterval, MinPollIntervalSeconds, MaxPollIntervalSeconds),
		EnvMapping:            p.envMap(KeyEnvMapping, DefaultEnvMapping(), true),
		ConstantEnv:           p.envMap(KeyConstantEnv, DefaultConstantEnv(), false),
		CorrelationPrefix:     p.optionalMatchDefault(KeyCorrelationPrefix, envPrefixPattern, "an environment variable name prefix ([A-Za-z_][A-Za-z0-9_]*, up to 64 characters)", DefaultCorrelationPrefix),
		RecordTTLHours:        p.integer(KeyRecordTTLHours, DefaultRecordTTLHours, settings.RecordTTLHours.Min, settings.RecordTTLHours.Max),
		LogLevel:              p.logLevel(KeyLogLevel),
		AlarmTopicARN:         p.optionalMatch(KeyAlarmTopicARN, snsARNPattern, "an SNS topic ARN"),
		ReconcileEveryMinutes: p.integer(KeyReconcileEveryMinutes, DefaultReconcileEvery, MinReconcileEvery, MaxReconcileEvery),
		ReconcileAfterMinutes: p.integer(KeyReconcileAfterMinutes, DefaultReconcileAfter, MinReconcileAfter, MaxReconcileAfter),
		MaxEventPatternChars:  p.integer(KeyMaxEventPatternChars, DefaultMaxEventPatternChars, DefaultMaxEventPatternChars, MaxMaxEventPatternChars),
	}
	if c.SourceRegion != "" {
		c.Partition = partition.Of(c.SourceRegion)
	}
	c.EnvNamesAllowed = p.envNames(KeyEnvNamesAllowed, c.CorrelationPrefix, c.EnvMapping)
	c.Targets = p.targets(KeyTargets, c.Partition)
	if n := len(c.TargetAccounts()); n > MaxTargetAccounts {
		p.fail(KeyTargets, "names %d accounts, more than %d (IAM policy and event pattern sizes); split them over several installations", n, MaxTargetAccounts)
	}
	if p.ok(KeyTargets) {
		c.RoleRegions = p.roleRegions(KeyRoleRegions, c.Targets)
		for i := range c.Targets {
			c.Targets[i].OwnsRole = c.RoleRegions[c.Targets[i].Account] == c.Targets[i].Region
		}
		if p.ok(KeyMaxEventPatternChars) {
			c.checkPatterns(p)
		}
	}

	if c.HeartbeatSeconds >= c.TimeoutSeconds && p.ok(KeyHeartbeatSeconds, KeyTimeoutSeconds) {
		p.fail(KeyHeartbeatSeconds, "must be less than %s (%d), or the event wait could never time out on heartbeat", KeyTimeoutSeconds, c.TimeoutSeconds)
	}
	if c.RecordTTLHours*3600 <= c.TimeoutSeconds && p.ok(KeyRecordTTLHours, KeyTimeoutSeconds) {
		p.fail(KeyRecordTTLHours, "must exceed %s (%d seconds): a token record must outlive its task", KeyTimeoutSeconds, c.TimeoutSeconds)
	}
	if c.ReconcileAfterMinutes >= c.RecordTTLHours*60 && p.ok(KeyReconcileAfterMinutes, KeyRecordTTLHours) {
		p.fail(KeyReconcileAfterMinutes, "must be less than %s (%d hours): a record expires before the reconciler would look at it", KeyRecordTTLHours, c.RecordTTLHours)
	}
	if err := errors.Join(p.errs...); err != nil {
		return nil, fmt.Errorf("invalid crossbuild context:\n%w", err)
	}
	return c, nil
}

// TargetAccounts lists the distinct target accounts, sorted.
func (c *Config) TargetAccounts() []string {
	return c.distinct(func(t Target) []string { return []string{t.Account} })
}

// TargetRegions lists the distinct target Regions, sorted.
func (c *Config) TargetRegions() []string {
	return c.distinct(func(t Target) []string { return []string{t.Region} })
}

// ProjectNames lists the distinct project names of all targets, sorted.
func (c *Config) ProjectNames() []string {
	return c.distinct(func(t Target) []string { return t.Projects })
}

func (c *Config) distinct(values func(Target) []string) []string {
	set := map[string]bool{}
	for _, t := range c.Targets {
		for _, v := range values(t) {
			set[v] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// TargetRoleARN is the ARN of the role the starter and poller assume in account.
func (c *Config) TargetRoleARN(account string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", c.Partition, account, c.TargetRoleName)
}

// TargetRoleARNs lists the target role ARNs of every target account, sorted.
func (c *Config) TargetRoleARNs() []string {
	accounts := c.TargetAccounts()
	arns := make([]string, len(accounts))
	for i, a := range accounts {
		arns[i] = c.TargetRoleARN(a)
	}
	return arns
}

// ProjectARNs lists the CodeBuild project ARNs of account across all its Regions, sorted.
func (c *Config) ProjectARNs(account string) []string {
	var arns []string
	for _, t := range c.Targets {
		if t.Account != account {
			continue
		}
		for _, p := range t.Projects {
			arns = append(arns, fmt.Sprintf("arn:%s:codebuild:%s:%s:project/%s", c.Partition, t.Region, t.Account, p))
		}
	}
	slices.Sort(arns)
	return arns
}

// SourceRoleARN is the ARN of a named role in the source account.
func (c *Config) SourceRoleARN(name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", c.Partition, c.SourceAccount, name)
}

// EventBusARN is the ARN of the source account's crossbuild event bus.
func (c *Config) EventBusARN() string {
	return fmt.Sprintf("arn:%s:events:%s:%s:event-bus/%s", c.Partition, c.SourceRegion, c.SourceAccount, EventBusName)
}

// EnvNamesAllowedList renders EnvNamesAllowed as the starter's ENV_NAMES_ALLOWED value
// (comma-separated; empty when there is no allow-list).
func (c *Config) EnvNamesAllowedList() string { return strings.Join(c.EnvNamesAllowed, ",") }

// EnvMappingJSON renders EnvMapping as the starter's ENV_MAPPING value (keys sorted).
func (c *Config) EnvMappingJSON() string { return compactJSON(c.EnvMapping) }

// ConstantEnvJSON renders ConstantEnv as the starter's CONSTANT_ENV value (keys sorted).
func (c *Config) ConstantEnvJSON() string { return compactJSON(c.ConstantEnv) }

func compactJSON(m map[string]string) string {
	if m == nil {
		m = map[string]string{}
	}
	b, err := json.Marshal(m) // maps marshal with sorted keys; strings cannot fail
	if err != nil {
		return "{}"
	}
	return string(b)
}

// parseInt accepts a JSON number with an integral value or a decimal string (from -c).
func parseInt(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		if n != float64(int64(n)) || n > 1e15 || n < -1e15 {
			return 0, false
		}
		return int(n), true
	case int:
		return n, true
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(n))
		return i, err == nil
	}
	return 0, false
}
