// Package settings declares each function setting once: the environment variable's name, its
// default, its bounds and what it means. The functions read them through envconfig and the
// CDK app sets them under the same names, so a default or a bound lives in one place.
// docs/reference.md ("Configuration") lists them for operators; a test holds its defaults
// to these.
package settings

import (
	"fmt"
	"strconv"
	"time"

	"github.com/crossbuild/crossbuild/internal/envconfig"
	"github.com/crossbuild/crossbuild/internal/plan"
	"github.com/crossbuild/crossbuild/internal/polling"
	"github.com/crossbuild/crossbuild/internal/target"
)

// Int is an optional whole-number setting.
type Int struct {
	Name     string        // environment variable
	Default  int           // when unset or empty
	Min, Max int           // accepted values, inclusive
	Unit     time.Duration // what one counts for a duration; 0 for a plain number
	Doc      string
}

// Read returns the setting's value, or its default when unset; a value out of bounds is
// reported to r.
func (s Int) Read(r *envconfig.Reader) int { return r.Int(s.Name, s.Default, s.Min, s.Max) }

// Duration reads a duration setting.
func (s Int) Duration(r *envconfig.Reader) time.Duration {
	if s.Unit == 0 {
		panic(fmt.Sprintf("setting %s is not a duration", s.Name))
	}
	return time.Duration(s.Read(r)) * s.Unit
}

// Env returns v as the value the CDK app sets; v is checked against the bounds so a
// deployment cannot hand a function a value it would refuse at cold start.
func (s Int) Env(v int) (string, error) {
	if v < s.Min || v > s.Max {
		return "", fmt.Errorf("%s: %d is outside %d..%d", s.Name, v, s.Min, s.Max)
	}
	return strconv.Itoa(v), nil
}

// Whole-number settings.
var (
	RecordTTLHours = Int{Name: "RECORD_TTL_HOURS", Default: 840, Min: 1, Max: 24 * 366, Unit: time.Hour,
		Doc: "how long a token record is kept; must exceed the longest task timeout (an execution lasts at most a year)"}
	DefaultPollIntervalSeconds = Int{Name: "DEFAULT_POLL_INTERVAL_SECONDS", Default: 20,
		Min: polling.MinIntervalSeconds, Max: polling.MaxIntervalSeconds,
		Doc: "poll interval when the target gives none"}
	MaxPollIntervalSeconds = Int{Name: "MAX_POLL_INTERVAL_SECONDS", Default: polling.DefaultCapSeconds,
		Min: polling.MinIntervalSeconds, Max: polling.MaxIntervalSeconds,
		Doc: "cap of the polling interval, which doubles after every poll that finds the build running"}
	// AWS caps role chaining (a Lambda's credentials are a role session) at one hour.
	AssumeRoleSeconds = Int{Name: "ASSUME_ROLE_SECONDS", Default: 900, Min: 900, Max: 3600, Unit: time.Second,
		Doc: "lifetime of assumed-role sessions: one invocation needs minutes at most"}
	ClaimLeaseSeconds = Int{Name: "CLAIM_LEASE_SECONDS", Default: 60, Min: 5, Max: 900, Unit: time.Second,
		Doc: "after this, a claim whose send never finished may be taken over; longer than the callback's timeout"}
	StopConcurrency = Int{Name: "STOP_CONCURRENCY", Default: 16, Min: 1, Max: 64,
		Doc: "builds of one ended execution described and stopped at once, well under CodeBuild's API rates"}
	// Seconds rather than the deployment's minutes: the local runtime's tests shorten it.
	ReconcileAfterSeconds = Int{Name: "RECONCILE_AFTER_SECONDS", Default: 600, Min: 1, Max: 7 * 24 * 3600, Unit: time.Second,
		Doc: "how long a record must have been open before the reconciler asks CodeBuild about its build"}
	ReconcileLimit = Int{Name: "RECONCILE_LIMIT", Default: 1000, Min: 1, Max: 10000,
		Doc: "open records one reconciler run looks at; the next run carries on"}
	ReconcileConcurrency = Int{Name: "RECONCILE_CONCURRENCY", Default: 8, Min: 1, Max: 64,
		Doc: "records one reconciler run claims, completes or closes at once"}
	DefaultMaxConcurrency = Int{Name: "DEFAULT_MAX_CONCURRENCY", Default: 10, Min: 0, Max: plan.MaxConcurrencyLimit,
		Doc: "maxConcurrency when the input gives none; 0 is no limit"}
	DefaultHeartbeatSeconds = Int{Name: "DEFAULT_HEARTBEAT_SECONDS", Default: 3600,
		Min: plan.MinHeartbeatSeconds, Max: plan.MaxHeartbeatSeconds,
		Doc: "a target's heartbeatSeconds when it gives none"}
	DefaultTimeoutSeconds = Int{Name: "DEFAULT_TIMEOUT_SECONDS", Default: 28800,
		Min: plan.MinTimeoutSeconds, Max: plan.MaxTimeoutSeconds,
		Doc: "a target's timeoutSeconds when it gives none; above the heartbeat"}
)

// Ints lists every whole-number setting.
var Ints = []Int{
	RecordTTLHours, DefaultPollIntervalSeconds, MaxPollIntervalSeconds, AssumeRoleSeconds,
	ClaimLeaseSeconds, StopConcurrency, ReconcileAfterSeconds, ReconcileLimit,
	ReconcileConcurrency, DefaultMaxConcurrency, DefaultHeartbeatSeconds, DefaultTimeoutSeconds,
}

// Names of the text settings; the defaults of the optional ones follow.
const (
	TableName         = "TABLE_NAME"        // token table name
	ExternalID        = "EXTERNAL_ID"       // sts:ExternalId passed to AssumeRole
	StateMachineARN   = "STATE_MACHINE_ARN" // the crossbuild state machine
	Bucket            = "CROSSBUILD_BUCKET" // the deployment's bucket
	AllowedAccounts   = "ALLOWED_ACCOUNTS"  // comma-separated target account ids
	AllowedRegions    = "ALLOWED_REGIONS"   // comma-separated Regions
	AllowedRoleARNs   = "ALLOWED_ROLE_ARNS" // comma-separated role ARN patterns
	EnvMapping        = "ENV_MAPPING"       // JSON object: target key → build variable name
	ConstantEnv       = "CONSTANT_ENV"      // JSON object of variables added to every build
	CorrelationPrefix = "CORRELATION_PREFIX"
	EnvNamesAllowed   = "ENV_NAMES_ALLOWED" // comma-separated names or prefixes* a target may set

	DefaultCorrelationPrefix = "CROSSBUILD_"
)

// AllowList reads the allow-list; withRoles also reads the role ARN patterns. Parsing and
// checking them is target's.
func AllowList(r *envconfig.Reader, withRoles bool) *target.AllowList {
	accounts, regions := r.List(AllowedAccounts), r.List(AllowedRegions)
	var roles []string
	if withRoles {
		roles = r.List(AllowedRoleARNs)
	}
	if len(accounts) == 0 || len(regions) == 0 || (withRoles && len(roles) == 0) {
		return nil // already reported
	}
	var (
		a   *target.AllowList
		err error
	)
	if withRoles {
		a, err = target.NewAllowList(accounts, regions, roles)
	} else {
		a, err = target.NewAccountRegionList(accounts, regions)
	}
	r.Check(AllowedAccounts+"/"+AllowedRegions+"/"+AllowedRoleARNs, err)
	return a
}
