// Package logging sets up structured logs and keeps secrets out of them.
package logging

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Log keys shared by every function, so one CloudWatch Logs Insights query finds a build
// across all of them.
const (
	KeyBuildARN     = "buildArn"
	KeyExecutionARN = "executionArn"
	KeyAccount      = "account"
	KeyProject      = "project"
	KeyRegion       = "region"
	KeyMapIndex     = "mapIndex"
	KeyToken        = "tokenHash"
	KeyError        = "error"
)

// New returns the Lambda logger: JSON when the function's log format is JSON, with the
// request id on every record and the level taken from the function's configuration.
func New() *slog.Logger { return lambdacontext.NewLogger() }

// TokenHash identifies a task token in logs without revealing it: a token is a bearer
// credential for completing someone's task.
func TokenHash(token string) string {
	if token == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:6])
}
