package failure

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// Each type's Go name is the error name Step Functions matches on; Name must agree with it
// even when the error arrives wrapped.
func TestNameMatchesTypeName(t *testing.T) {
	cases := []error{
		&InvalidTarget{Index: 1, Field: "region", Rule: "must be a Region"},
		&TargetNotAllowed{Field: "account", Value: "1", Rule: "no"},
		&AssumeRoleFailed{RoleARN: "r", Err: errors.New("denied")},
		&StartBuildFailed{Project: "p", Region: "r", Err: errors.New("x")},
		&BuildQuotaExceeded{Project: "p", Region: "r", Err: errors.New("x")},
		&TransientError{Op: "op", Err: errors.New("x")},
		&BuildNotFound{BuildID: "p:1", Region: "r"},
		&RecordNotFound{Key: "k"},
		&PollFailed{BuildID: "p:1", Err: errors.New("x")},
		&InvalidInput{Field: "maxConcurrency", Rule: "must be an integer"},
		&BucketUnusable{Bucket: "b", Op: "write", Err: errors.New("AccessDenied")},
		&ResultsUnreadable{Location: "s3://b/k", Err: errors.New("NoSuchKey")},
	}
	for _, err := range cases {
		want := reflect.TypeOf(err).Elem().Name()
		if got := Name(err); got != want {
			t.Errorf("Name(%T) = %q", err, got)
		}
		if got := Name(fmt.Errorf("context: %w", err)); got != want {
			t.Errorf("Name(wrapped %T) = %q", err, got)
		}
		if err.Error() == "" {
			t.Errorf("%T has an empty message", err)
		}
	}
	if Name(errors.New("plain")) != "" {
		t.Error("plain errors have no failure name")
	}
	it := &InvalidTarget{Index: -1, Field: "mapIndex", Rule: "must be a number"}
	if it.Error() != "mapIndex: must be a number" {
		t.Errorf("message %q", it.Error())
	}
}
