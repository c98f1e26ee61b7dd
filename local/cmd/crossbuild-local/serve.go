package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/local/world"
)

// ReadyLine ends what serve prints once the world is up: a script can read up to it.
const ReadyLine = "# ready"

// keys are the credentials of one account's administrator.
type keys struct {
	account, accessKeyID, secretAccessKey string
}

// serve deploys the assembly and keeps it running until SIGINT or SIGTERM, printing the
// endpoint and credentials as shell exports so that any AWS client can drive it.
func serve(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		assembly   = fs.String("assembly", "cdk.out", "the synthesized cloud assembly")
		functions  = fs.String("functions", "dist/local", "host builds of the functions: <dir>/<name>/bootstrap")
		logs       = fs.String("logs", "", "folder for every stand-in's and function's log (default .logs/serve-<time>)")
		rie        = fs.String("rie", "", "the Lambda Runtime Interface Emulator binary (default: built into dist/local/bin)")
		phaseDelay = fs.Duration("phase-delay", 500*time.Millisecond, "how long each build phase lasts")
		timeScale  = fs.Float64("time-scale", 1, "speed of the state machine's clock (Waits, heartbeats, timeouts)")
		envFile    = fs.String("env-file", "", "also write the exports to this file (default <logs>/env.sh)")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: crossbuild-local serve [flags]

Deploys the synthesized app into the local stand-ins and keeps it running. It prints the
endpoint and an administrator's credentials of the source account as shell exports, for the
AWS CLI, an SDK or crossbuild; Ctrl-C (SIGINT) or SIGTERM stops everything it started.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	*logs = world.LogDir(*logs, "serve")
	if *envFile == "" {
		*envFile = filepath.Join(*logs, "env.sh")
	}
	// Signals are caught until everything is stopped: a second Ctrl-C must not cut the
	// cleanup short and leave processes behind.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	w, err := world.Launch(ctx, world.Options{Assembly: *assembly, Functions: *functions, RIEBinary: *rie,
		LogDir: *logs, PhaseDelay: *phaseDelay, TimeScale: *timeScale})
	if err != nil {
		return err
	}
	stopWorld := func() error {
		fmt.Fprintln(stderr, "crossbuild-local: stopping everything")
		return w.Close()
	}
	region, source, targets, err := accountKeys(ctx, w)
	if err != nil {
		return errors.Join(err, stopWorld())
	}
	lines := exports(w.Endpoint, region, source, targets)
	if err := os.WriteFile(*envFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return errors.Join(fmt.Errorf("env file: %w", err), stopWorld())
	}
	fmt.Fprintf(stdout, "# crossbuild-local serve: the app runs on %s (stacks %s; logs in %s)\n", w.Endpoint,
		strings.Join(w.StacksByName(), ", "), *logs)
	fmt.Fprintf(stdout, "# In another shell: source %s (or paste the lines below). Ctrl-C here stops everything.\n", *envFile)
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	fmt.Fprintln(stdout, ReadyLine)
	<-ctx.Done()
	return stopWorld()
}

// accountKeys returns the source stack's Region and administrator keys of the source
// account and of every target account.
func accountKeys(ctx context.Context, w *world.World) (region string, source keys, targets []keys, err error) {
	seen := map[string]bool{}
	var sourceAccount string
	for _, s := range w.Stacks {
		if s.Name == config.SourceStackName {
			sourceAccount, region = s.Account, s.Region
		}
	}
	if sourceAccount == "" {
		return "", keys{}, nil, fmt.Errorf("the assembly has no stack %s", config.SourceStackName)
	}
	get := func(account, region string) (keys, error) {
		c, err := w.Operator(account, region).Credentials.Retrieve(ctx)
		return keys{account: account, accessKeyID: c.AccessKeyID, secretAccessKey: c.SecretAccessKey}, err
	}
	if source, err = get(sourceAccount, region); err != nil {
		return "", keys{}, nil, err
	}
	seen[sourceAccount] = true
	for _, s := range w.Stacks {
		if seen[s.Account] {
			continue
		}
		seen[s.Account] = true
		k, err := get(s.Account, s.Region)
		if err != nil {
			return "", keys{}, nil, err
		}
		targets = append(targets, k)
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].account < targets[j].account })
	return region, source, targets, nil
}

// exports are the shell lines that point the AWS CLI, the SDKs and crossbuild at the
// endpoint as the source account's administrator. Keys work in every Region; the Region is
// the source stack's.
func exports(endpoint, region string, source keys, targets []keys) []string {
	lines := []string{
		"export AWS_ENDPOINT_URL=" + endpoint,
		"export AWS_ACCESS_KEY_ID=" + source.accessKeyID,
		"export AWS_SECRET_ACCESS_KEY=" + source.secretAccessKey,
		"export AWS_REGION=" + region,
		"export AWS_DEFAULT_REGION=" + region,
		"unset AWS_SESSION_TOKEN AWS_PROFILE",
		fmt.Sprintf("# those keys are an administrator of the source account %s; of the target accounts:", source.account),
	}
	for _, t := range targets {
		lines = append(lines, fmt.Sprintf("#   %s: AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s", t.account, t.accessKeyID, t.secretAccessKey))
	}
	return lines
}
