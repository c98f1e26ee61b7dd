// Package conformance holds tests only: they run state machine definitions on
// the local executor (local/asl) and on aws-local-stepfunctions, an
// independent implementation of the Amazon States Language run by Node from
// the pinned npm tools, and check that both agree on status, output, error and
// cause.
//
// The definitions are the fixtures in testdata/*.json and the app's own state
// machine (infra/statemachine) with its Lambda tasks replaced by handlers that
// keep the starter and poller contract of docs/reference.md. Both sides build
// their handlers from the same behaviour specs (testdata/runner.cjs and
// behaviour_test.go implement them). Callbacks (.waitForTaskToken) are out of
// scope: aws-local-stepfunctions does not implement them.
//
// A case where the implementations legitimately differ names the reason in its
// "exclude" field; the test still checks the local executor against the
// expected result and fails when the difference disappears, so a stale
// exclusion is noticed.
package conformance
