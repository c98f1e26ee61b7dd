// Command crossbuild is the operator's tool for a crossbuild deployment: it starts, watches,
// inspects and stops executions, reads their results, replays archived events, redrives
// dead letters and checks a deployment (docs/cli.md).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes (docs/cli.md).
const (
	exitOK          = 0
	exitFailed      = 1 // the command worked; what it reports failed (an execution, a check, a dead letter)
	exitUsage       = 2 // the command line or an input file is wrong
	exitAWS         = 3 // AWS (or the local runtime) refused, or could not be reached
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs one command line and returns its exit code; errors are one line on stderr.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	line, code := explain(err)
	if line != "" {
		fmt.Fprintln(stderr, "crossbuild: "+line)
	}
	return code
}

// exitError ends the command with a code; its message was already reported, or is none.
type exitError struct {
	msg  string
	code int
}

func (e *exitError) Error() string { return e.msg }

func newRoot() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "crossbuild",
		Short: "Operate a crossbuild deployment",
		Long: `crossbuild starts, watches and stops executions of the crossbuild state machine, reads
their results, replays archived events, redrives dead letters and checks a deployment.

It finds the deployment from the source stack's outputs, with the AWS SDK's usual
credentials and Region (--profile, --region, AWS_PROFILE, AWS_REGION, ...). Against the
local runtime, run crossbuild-local serve and use the exports it prints, or pass
--endpoint (also CROSSBUILD_ENDPOINT or AWS_ENDPOINT_URL).

Exit codes: 0 done; 1 what the command reports failed (an execution, a doctor check,
a dead letter left); 2 the command line or input is wrong; 3 AWS refused or could not be
reached; 130 interrupted (an execution being watched keeps running).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// An unknown command is a usage error with its fix, not cobra's multi-line message.
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, a []string) error {
			if len(a) == 0 {
				return c.Help()
			}
			err := fmt.Errorf("unknown command %q", a[0])
			if s := c.SuggestionsFor(a[0]); len(s) > 0 {
				err = fmt.Errorf("unknown command %q (did you mean %s?)", a[0], strings.Join(s, ", "))
			}
			return &usageError{err: err, cmd: c.CommandPath()}
		},
	}
	root.SuggestionsMinimumDistance = 2
	g.register(root.PersistentFlags())
	root.SetGlobalNormalizationFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		// The AWS CLI's spelling works too.
		if name == "endpoint-url" {
			name = "endpoint"
		}
		return pflag.NormalizedName(name)
	})
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{err: err, cmd: c.CommandPath()}
	})
	s := &session{flags: g}
	root.AddCommand(newRunCommand(s), newWatchCommand(s), newStatusCommand(s), newResultsCommand(s),
		newStopCommand(s), newReplayCommand(s), newRedriveCommand(s), newDoctorCommand(s))
	return root
}

// usageError is a mistake on the command line.
type usageError struct {
	err error
	cmd string
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }
func (e *usageError) Fix() string   { return "see " + e.cmd + " --help" }

// args requires exactly the named arguments.
func args(names ...string) cobra.PositionalArgs {
	return func(c *cobra.Command, a []string) error {
		if len(a) != len(names) {
			what := "no arguments"
			if len(names) > 0 {
				what = fmt.Sprintf("%d argument(s): %v", len(names), names)
			}
			return &usageError{err: fmt.Errorf("want %s, got %d", what, len(a)), cmd: c.CommandPath()}
		}
		return nil
	}
}
