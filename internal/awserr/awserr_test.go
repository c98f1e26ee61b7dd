package awserr

import (
	"errors"
	"fmt"
	"testing"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("send task success: %w", err) }
	cases := []struct {
		name                       string
		err                        error
		code                       string
		throttle, retryable, close bool
	}{
		{"throttling", wrap(&smithy.GenericAPIError{Code: "ThrottlingException"}), "ThrottlingException", true, true, false},
		{"sts throttling", wrap(&smithy.GenericAPIError{Code: "Throttling"}), "Throttling", true, true, false},
		{"access denied", wrap(&smithy.GenericAPIError{Code: "AccessDenied"}), "AccessDenied", false, false, false},
		{"task timed out", wrap(&sfntypes.TaskTimedOut{Message: new("x")}), "TaskTimedOut", false, false, true},
		{"task does not exist", wrap(&sfntypes.TaskDoesNotExist{}), "TaskDoesNotExist", false, false, true},
		{"invalid token", wrap(&sfntypes.InvalidToken{}), "InvalidToken", false, false, true},
		{"plain", errors.New("boom"), "", false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Code(tc.err); got != tc.code {
				t.Errorf("Code = %q, want %q", got, tc.code)
			}
			if got := IsThrottle(tc.err); got != tc.throttle {
				t.Errorf("IsThrottle = %v", got)
			}
			if got := IsRetryable(tc.err); got != tc.retryable {
				t.Errorf("IsRetryable = %v", got)
			}
			if got := IsTaskClosed(tc.err); got != tc.close {
				t.Errorf("IsTaskClosed = %v", got)
			}
		})
	}
}
