// Package failure defines the errors Step Functions sees by name.
//
// Each type is named exactly as the state machine's Retry and Catch rules spell it, and
// names.go holds the one table of those names. aws-lambda-go reports a returned error's Go
// type name, which would turn a wrapped failure into "wrapError"; Report, at the Lambda
// boundary, sends the name of the failure found in the chain instead, so wrapping with
// fmt.Errorf("...: %w", err) never renames a failure.
package failure

import (
	"fmt"
)

// InvalidTarget reports a target field that breaks a rule. Never retried.
type InvalidTarget struct {
	Index int    // position of the target in the input, -1 when unknown
	Field string // JSON key, e.g. "region" or "environmentVariables[2].name"
	Rule  string // what the value must be
}

func (e *InvalidTarget) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("target %d: %s: %s", e.Index, e.Field, e.Rule)
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Rule)
}

// TargetNotAllowed reports a valid target outside the configured allow-list. Never retried.
type TargetNotAllowed struct {
	Field string // "account", "region" or "arn"
	Value string // the refused value (account ids, Regions and role ARNs are not secrets)
	Rule  string
}

func (e *TargetNotAllowed) Error() string {
	return fmt.Sprintf("%s %q is not allowed: %s", e.Field, e.Value, e.Rule)
}

// AssumeRoleFailed reports that STS refused the target role.
type AssumeRoleFailed struct {
	RoleARN string
	Err     error
}

func (e *AssumeRoleFailed) Error() string {
	return fmt.Sprintf("assume role %s: %v", e.RoleARN, e.Err)
}
func (e *AssumeRoleFailed) Unwrap() error { return e.Err }

// StartBuildFailed reports that CodeBuild rejected the build for good (missing project,
// invalid input, access denied). Never retried.
type StartBuildFailed struct {
	Project string
	Region  string
	Err     error
}

func (e *StartBuildFailed) Error() string {
	return fmt.Sprintf("start build of %s in %s: %v", e.Project, e.Region, e.Err)
}
func (e *StartBuildFailed) Unwrap() error { return e.Err }

// BuildQuotaExceeded reports a CodeBuild account limit or throttling. Retried with backoff.
type BuildQuotaExceeded struct {
	Project string
	Region  string
	Err     error
}

func (e *BuildQuotaExceeded) Error() string {
	return fmt.Sprintf("start build of %s in %s: quota or rate exceeded: %v", e.Project, e.Region, e.Err)
}
func (e *BuildQuotaExceeded) Unwrap() error { return e.Err }

// TransientError reports a dependency failure worth retrying (throttling, 5xx, network).
type TransientError struct {
	Op  string
	Err error
}

func (e *TransientError) Error() string { return fmt.Sprintf("%s: %v", e.Op, e.Err) }
func (e *TransientError) Unwrap() error { return e.Err }

// PollFailed reports that CodeBuild refused to describe a build for a reason a retry will
// not change (for example the target role may not call BatchGetBuilds).
type PollFailed struct {
	BuildID string
	Err     error
}

func (e *PollFailed) Error() string { return fmt.Sprintf("describe build %s: %v", e.BuildID, e.Err) }
func (e *PollFailed) Unwrap() error { return e.Err }

// BuildNotFound reports a build id CodeBuild does not know.
type BuildNotFound struct {
	BuildID string
	Region  string
}

func (e *BuildNotFound) Error() string {
	return fmt.Sprintf("build %s not found in %s", e.BuildID, e.Region)
}

// RecordNotFound reports a missing token record.
type RecordNotFound struct {
	Key string // what was looked up, e.g. "build arn:aws:codebuild:..." or "execution ... index 3"
}

func (e *RecordNotFound) Error() string { return fmt.Sprintf("no token record for %s", e.Key) }

// InvalidInput reports an execution input that breaks a rule: the field and the rule are
// named. Never retried; the state machine turns it into a Fail state.
type InvalidInput struct {
	Field string // top-level key, e.g. "maxConcurrency" or "targetsS3Uri"
	Rule  string // what the value must be
}

func (e *InvalidInput) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Rule) }

// BucketUnusable reports that the deployment's own bucket refused an operation for a reason
// a retry will not change (missing bucket, access denied): a deployment problem, not bad
// input. Never retried.
type BucketUnusable struct {
	Bucket string
	Op     string // e.g. "write items runs/x/items.json"
	Err    error
}

func (e *BucketUnusable) Error() string {
	return fmt.Sprintf("bucket %s: %s: %v", e.Bucket, e.Op, e.Err)
}
func (e *BucketUnusable) Unwrap() error { return e.Err }

// ResultsUnreadable reports Map Run results that cannot be read back: a result file the
// manifest lists is missing, or a manifest or result file is not what Step Functions
// writes. Never retried.
type ResultsUnreadable struct {
	Location string // s3://bucket/key
	Err      error
}

func (e *ResultsUnreadable) Error() string {
	return fmt.Sprintf("results %s cannot be read: %v", e.Location, e.Err)
}
func (e *ResultsUnreadable) Unwrap() error { return e.Err }
