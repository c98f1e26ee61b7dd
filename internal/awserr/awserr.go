// Package awserr classifies AWS SDK errors by type and error code, never by message.
package awserr

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

// Code returns the API error code of err ("AccessDenied", "ThrottlingException", ...) or "".
func Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// IsThrottle reports a throttling error of any service.
func IsThrottle(err error) bool {
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}

// IsRetryable reports an error the SDK itself would retry: throttling, 5xx, timeouts and
// connection failures. When one reaches us, the SDK's own retries were used up.
func IsRetryable(err error) bool {
	if IsThrottle(err) {
		return true
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// IsTaskClosed reports the Step Functions errors that mean the task no longer waits for
// this token: it timed out, its execution ended, or the token is not one Step Functions
// knows. Completing such a task again is neither possible nor needed.
func IsTaskClosed(err error) bool {
	var (
		timedOut *sfntypes.TaskTimedOut
		gone     *sfntypes.TaskDoesNotExist
		invalid  *sfntypes.InvalidToken
	)
	return errors.As(err, &timedOut) || errors.As(err, &gone) || errors.As(err, &invalid)
}
