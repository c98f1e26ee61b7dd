package eventbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// Retry policy bounds, as EventBridge documents them.
const (
	// DefaultMaxRetryAttempts is EventBridge's retry count when a target has
	// no retry policy.
	DefaultMaxRetryAttempts = 185
	// NoRetries stands for an explicit MaximumRetryAttempts of 0, because the
	// zero value of Target.MaxRetryAttempts means "no retry policy".
	NoRetries = -1
	// DefaultMaxEventAge is EventBridge's maximum event age when a target
	// has no retry policy; it is also the largest allowed.
	DefaultMaxEventAge = 24 * time.Hour
	// MinMaxEventAge is the smallest MaximumEventAgeInSeconds allowed.
	MinMaxEventAge = time.Minute
)

// DefaultBus is the name of the bus every account has in every Region.
const DefaultBus = "default"

// Target is where a rule sends matching events.
type Target struct {
	ID string
	// ARN is a Lambda function (arn:aws:lambda:<region>:<acct>:function:<name>)
	// or an event bus (arn:aws:events:<region>:<acct>:event-bus/<name>).
	ARN string
	// RoleARN is the role EventBridge uses for a bus target. A bus that
	// admits an Organization (aws:PrincipalOrgID) only admits rules that set
	// one, as in AWS.
	RoleARN string
	// MaxRetryAttempts is RetryPolicy.MaximumRetryAttempts: 0 means the
	// target has no retry policy (DefaultMaxRetryAttempts), NoRetries means
	// an explicit 0, otherwise 1 to 185.
	MaxRetryAttempts int
	// MaxEventAge is RetryPolicy.MaximumEventAgeInSeconds: 0 means
	// DefaultMaxEventAge, otherwise 60 s to 24 h.
	MaxEventAge time.Duration
	// DeadLetterARN is the SQS queue of DeadLetterConfig, if any.
	DeadLetterARN string
	// Input (constant JSON) or InputPath (a JSONPath such as $.detail)
	// replaces the event sent to a Lambda target. Neither is allowed on a
	// bus target in another account, as in AWS.
	Input, InputPath string
}

// Rule routes matching events of one bus to its targets.
type Rule struct {
	Account, Region string
	Bus             string // name or ARN; empty means the default bus
	Name            string
	Pattern         json.RawMessage
	// Schedule is the ScheduleExpression of a scheduled rule (rate expressions only), which
	// has no Pattern and runs on the default bus.
	Schedule string
	Targets  []Target
	State    string // ENABLED (or empty) or DISABLED
}

// Bus is a custom event bus, or the default bus when setting its policy.
type Bus struct {
	Account, Region, Name string
	// Policy is the bus's resource policy; empty admits no other account.
	Policy json.RawMessage
}

// PolicyEvaluator evaluates a resource policy for one request. The reason
// explains the decision for logs and dead-letter messages.
type PolicyEvaluator interface {
	Allows(policy json.RawMessage, principal localaws.Principal, action, resource string, context map[string][]string) (allowed bool, reason string)
}

// LambdaInvoker invokes a function asynchronously with an event. It returns
// an error when the function failed or could not run; a *TargetError tells
// how EventBridge classifies the failure, any other error counts as a
// retryable ERROR_FROM_TARGET.
type LambdaInvoker interface {
	InvokeAsync(ctx context.Context, functionARN string, payload []byte) error
}

// Clock is the source of event times and event ages.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Options configure a Service. Zero values give EventBridge's behaviour.
type Options struct {
	Evaluator PolicyEvaluator // nil denies every cross-account delivery
	Lambda    LambdaInvoker   // nil fails every Lambda delivery
	Clock     Clock           // nil is the wall clock
	// ScheduleClock drives scheduled rules; nil is the wall clock.
	ScheduleClock ScheduleClock
	// RetryBackoff is the wait before retry attempt n (1, 2, ...); nil is an
	// exponential backoff with jitter from 1 s up to 3 minutes.
	RetryBackoff func(attempt int) time.Duration
	// Drop, when it returns true, silently loses an event on its way to a
	// target: a test hook for "events stop arriving".
	Drop func(event json.RawMessage) bool
	// ArchiveDir, if set, receives one JSON lines file per archive.
	ArchiveDir string
	// OrgID returns the AWS Organization of an account ("" for none); it
	// feeds aws:PrincipalOrgID when a bus target has a role.
	OrgID     func(account string) string
	Logger    *slog.Logger // nil is slog.Default()
	Partition string       // ARN partition; empty is "aws"
	// AttemptTimeout bounds one delivery attempt; 0 is 15 minutes.
	AttemptTimeout time.Duration
	// CloseGrace is how long Close lets running attempts finish before it
	// cancels them; 0 is 5 s.
	CloseGrace time.Duration
	// MaxPending bounds deliveries in flight (including those waiting to
	// retry); beyond it new deliveries are dropped and logged. 0 is 10000.
	MaxPending int
}

// DeadLetter is a message EventBridge sent to a dead-letter queue: the event
// and the message attributes EventBridge adds.
type DeadLetter struct {
	// ID is the message's id in its queue, given when it arrives.
	ID   string
	Body json.RawMessage
	// Attributes hold ERROR_CODE, ERROR_MESSAGE, RULE_ARN, TARGET_ARN and
	// RETRY_ATTEMPTS, plus EXHAUSTED_RETRY_CONDITION when retries ran out
	// (MaximumRetryAttempts or MaximumEventAgeInSeconds).
	Attributes map[string]string
	SentAt     time.Time
}

// Error codes EventBridge writes into ERROR_CODE of dead-lettered events.
const (
	CodeErrorFromTarget  = "ERROR_FROM_TARGET"
	CodeNoPermissions    = "NO_PERMISSIONS"
	CodeNoResource       = "NO_RESOURCE"
	CodeInvalidParameter = "INVALID_PARAMETER"
	CodeTimeout          = "TIMEOUT"
	CodeThirdAccountHop  = "THIRD_ACCOUNT_HOP_DETECTED"
	CodeThirdRegionHop   = "THIRD_REGION_HOP_DETECTED"
)

// TargetError is a failed delivery classified the way EventBridge does.
// Retryable failures are retried under the target's retry policy; the others
// go straight to the dead-letter queue.
type TargetError struct {
	Code      string
	Retryable bool
	Err       error
}

func (e *TargetError) Error() string {
	if e.Err == nil {
		return e.Code
	}
	return e.Code + ": " + e.Err.Error()
}

func (e *TargetError) Unwrap() error { return e.Err }

func targetErrorf(code string, retryable bool, format string, args ...any) *TargetError {
	return &TargetError{Code: code, Retryable: retryable, Err: fmt.Errorf(format, args...)}
}

// ConfigError reports an invalid bus, rule or archive definition; Resource
// names it (the rule's ARN, for rules).
type ConfigError struct {
	Resource string
	Field    string
	Err      error
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return e.Resource + ": " + e.Err.Error()
	}
	return e.Resource + ": " + e.Field + ": " + e.Err.Error()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// RequestError is a PutEvents request refused as a whole (not per entry).
type RequestError struct {
	Code, Message string
}

func (e *RequestError) Error() string { return e.Code + ": " + e.Message }

// ErrClosed is returned once Close has been called.
var ErrClosed = errors.New("eventbridge: service closed")
