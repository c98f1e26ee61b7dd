// Package bench runs crossbuild's completion modes and a model of the original polling
// pattern side by side on one local world and measures each: how long after a build's
// end its task closes, how many history events and state transitions a target costs, how
// long N targets take, and how many Lambda invocations, billed milliseconds, EventBridge
// events and DynamoDB requests a target makes; from those, what 1,000 builds cost at list
// prices. `make bench-e2e` (local/cmd/crossbuild-bench) writes docs/performance.md's
// tables and plots from it.
package bench

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/crossbuild/crossbuild/local/eventbridge"
	"github.com/crossbuild/crossbuild/local/lambda"
	"github.com/crossbuild/crossbuild/local/localaws"
	"github.com/crossbuild/crossbuild/local/world"
)

// Settings of the benchmark's world. At a time scale of 60 a minute of the state
// machine's clock (Waits, heartbeats) lasts a second, and a build of L minutes is made to
// last L seconds. Each of a build's ten phases lasts PhaseDelay.
const (
	TimeScale  = 60
	PhaseDelay = 10 * time.Millisecond
)

// sleepHook makes a build's build phase sleep when SAMPLE_VAR2 (the original walkthrough's
// SampleValue2, passed on by both systems alike) reads sleep=<seconds>.
const sleepHook = `case "${SAMPLE_VAR2:-}" in sleep=*) sleep "${SAMPLE_VAR2#sleep=}";; esac`

//go:embed original.asl.json
var originalDefinition string

// OriginalDefinition returns the model of the original pattern with its tasks invoking
// proxyARN.
func OriginalDefinition(proxyARN string) string {
	return strings.ReplaceAll(originalDefinition, "PROXY_FUNCTION", proxyARN)
}

// Wire completes world options for the benchmark: the probe, the time scale and phase
// length above, and builds whose length the input sets.
func Wire(opts world.Options, p *Probe) world.Options {
	opts.Intercept = p.intercept
	opts.EventTargets = func(next eventbridge.LambdaInvoker) eventbridge.LambdaInvoker { return invoker{next: next, p: p} }
	opts.DropEvent = p.dropEvent
	opts.TimeScale = TimeScale
	opts.PhaseDelay = PhaseDelay
	return opts.ThenMutate(world.AppendBuildCommand(sleepHook))
}

// BuildProxy compiles the original's proxy (./local/bench/proxy) for this machine into
// dir and returns the binary's path. moduleRoot is the repository's root.
func BuildProxy(ctx context.Context, moduleRoot, dir string) (string, error) {
	return build(ctx, moduleRoot, "./local/bench/proxy", dir)
}

// build compiles a command as the Makefile builds the functions for this machine.
func build(ctx context.Context, moduleRoot, pkg, dir string) (string, error) {
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, pkg)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w: %s", pkg, err, msg)
	}
	return out, nil
}

// deployOriginal adds the proxy function to w, with the poller's role and environment
// (the target roles trust the source functions' roles only, and want their ExternalId),
// and creates the model's state machine. It returns the state machine's ARN.
func deployOriginal(ctx context.Context, w *world.World, bootstrap string, concurrency int) (string, error) {
	var account, region, role, externalID string
	for _, s := range w.Stacks {
		for _, id := range s.ResourcesOfType("AWS::Lambda::Function") {
			props, err := s.Properties(id)
			if err != nil {
				return "", err
			}
			if props["FunctionName"] != "crossbuild-poller" {
				continue
			}
			account, region = s.Account, s.Region
			role, _ = props["Role"].(string)
			env, _ := props["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			externalID, _ = vars["EXTERNAL_ID"].(string)
		}
	}
	if role == "" {
		return "", errors.New("no crossbuild-poller function (or its role) in the assembly")
	}
	const name = proxyName
	creds := w.IDs.Temporary(localaws.Principal{
		Account: account,
		ARN:     fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, role[strings.LastIndex(role, "/")+1:], name),
		RoleARN: role,
	}, 12*time.Hour)
	fn := lambda.Function{
		Name: name, Account: account, Region: region, Bootstrap: bootstrap,
		Env: map[string]string{
			"AWS_ENDPOINT_URL": w.Endpoint, "AWS_ACCESS_KEY_ID": creds.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY": creds.SecretAccessKey, "AWS_SESSION_TOKEN": creds.SessionToken,
			"EXTERNAL_ID": externalID,
		},
		// The original's function: 128 MB, 10 s.
		Timeout: 10 * time.Second, MemoryMB: 128, Concurrency: concurrency,
	}
	if err := w.Lambda.Add(context.WithoutCancel(ctx), fn); err != nil {
		return "", fmt.Errorf("add the proxy: %w", err)
	}
	client := sfn.NewFromConfig(w.Operator(account, region))
	out, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String("original-model"),
		Definition: aws.String(OriginalDefinition(lambda.FunctionARN(region, account, name))),
		RoleArn:    aws.String(fmt.Sprintf("arn:aws:iam::%s:role/original-model", account)),
	})
	if err != nil {
		return "", fmt.Errorf("create the original's model: %w", err)
	}
	return aws.ToString(out.StateMachineArn), nil
}

// proxyName is the original's proxy function in the world.
const proxyName = "original-proxy"
