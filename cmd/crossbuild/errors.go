package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/crossbuild/crossbuild/internal/deployment"
	"github.com/crossbuild/crossbuild/internal/execution"
	"github.com/crossbuild/crossbuild/internal/replay"
)

// fixer is an error that knows its fix.
type fixer interface{ Fix() string }

// explain turns an error into one line, "what failed: why: fix: what to do", and the exit
// code. An exitError was reported already (or is silent).
func explain(err error) (string, int) {
	var exit *exitError
	if errors.As(err, &exit) {
		return exit.msg, exit.code
	}
	if errors.Is(err, context.Canceled) {
		return "interrupted", exitInterrupted
	}
	code := exitAWS
	var usage *usageError
	var input *execution.InputError
	var replayUsage *replay.UsageError
	if errors.As(err, &usage) || errors.As(err, &input) || errors.As(err, &replayUsage) || deployment.IsUsage(err) {
		code = exitUsage
	}
	msg := oneLine(err)
	var f fixer
	fix := ""
	if errors.As(err, &f) {
		fix = f.Fix()
	} else {
		fix = awsFix(err)
	}
	if fix != "" {
		msg += ": fix: " + fix
	}
	return msg, code
}

// oneLine shortens the SDK's operation errors ("operation error SFN: DescribeExecution,
// https response error StatusCode: 400, RequestID: ..., ExecutionDoesNotExist: ...") to the
// operation, the code and the message, and keeps everything on one line.
func oneLine(err error) string {
	msg := err.Error()
	var op *smithy.OperationError
	if errors.As(err, &op) {
		short := op.Err.Error()
		var api smithy.APIError
		if errors.As(op.Err, &api) {
			short = api.ErrorCode()
			if m := api.ErrorMessage(); m != "" {
				short += ": " + m
			}
		}
		msg = strings.Replace(msg, op.Error(), op.Service()+" "+op.Operation()+": "+short, 1)
	}
	return strings.Join(strings.Fields(msg), " ")
}

// awsFix suggests what to do about an error AWS (or the network) returned.
func awsFix(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch code := api.ErrorCode(); {
		case code == "ExecutionDoesNotExist":
			return "check the execution's name or ARN, and that --profile and --region point at the source account"
		case code == "StateMachineDoesNotExist":
			return "check --state-machine or the source stack (crossbuild doctor)"
		case strings.HasPrefix(code, "AccessDenied") || code == "AuthorizationError" || code == "UnauthorizedOperation" || code == "Forbidden":
			return "your identity lacks this permission: docs/cli.md lists what each command calls"
		case code == "UnrecognizedClientException" || code == "InvalidClientTokenId" || strings.HasPrefix(code, "ExpiredToken") ||
			code == "InvalidSignatureException" || code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId":
			return "refresh your credentials (aws sso login), or use the keys crossbuild-local serve printed for its endpoint"
		case strings.Contains(code, "Throttl") || code == "TooManyRequestsException" || code == "RequestLimitExceeded":
			return "AWS is throttling this account: try again in a minute"
		case code == "ResourceNotFoundException" || code == "NoSuchBucket" || code == "QueueDoesNotExist" ||
			code == "AWS.SimpleQueueService.NonExistentQueue":
			return "the deployment lacks it: check the flags that name it, or run crossbuild doctor"
		case code == "ExecutionAlreadyExists":
			return "choose another --name, or watch that one (crossbuild watch <name>)"
		case code == "InvalidExecutionInput" || code == "InvalidName" || code == "ValidationException" || code == "InvalidParameterValue":
			return "check the values given (see --help)"
		}
		return ""
	}
	var netErr *net.OpError
	if errors.As(err, &netErr) {
		return fmt.Sprintf("nothing answers there: start crossbuild-local serve and use its exports, or unset %s and AWS_ENDPOINT_URL to use AWS", envEndpoint)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "check the network, --region and --endpoint"
	}
	return ""
}
