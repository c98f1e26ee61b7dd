package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/crossbuild/crossbuild/internal/deployment"
	"github.com/crossbuild/crossbuild/internal/execution"
	"github.com/crossbuild/crossbuild/internal/redrive"
	"github.com/crossbuild/crossbuild/internal/replay"
	"github.com/crossbuild/crossbuild/internal/results"
)

func newResultsCommand(s *session) *cobra.Command {
	var asJSON, asCSV bool
	cmd := &cobra.Command{
		Use:   "results EXECUTION [--json|--csv]",
		Short: "Print every target's result from the results store",
		Long: `results reads an execution's per-target results from the runs bucket, where the Distributed
Map wrote them (runs/<execution name>/results/<map run>/: manifest.json and the SUCCEEDED,
FAILED and PENDING files), and prints them ordered by Map index: a table, a JSON array of
the result objects the execution output lists (docs/reference.md, "Per-target result") with
their mapIndex, or CSV. Targets that never ran are NOT_RUN. The exit code is 0 whatever the
targets' statuses.`,
		Args: args("EXECUTION"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if asJSON && asCSV {
				return &usageError{err: errors.New("--json and --csv: choose one"), cmd: cmd.CommandPath()}
			}
			ctx := cmd.Context()
			arn, err := s.execution(ctx, a[0])
			if err != nil {
				return err
			}
			d, err := s.deployment(ctx, deployment.Bucket)
			if err != nil {
				return err
			}
			s3c, err := s.s3(ctx)
			if err != nil {
				return err
			}
			set, err := (&results.Reader{S3: s3c, Bucket: d.Bucket}).Read(ctx, deployment.ExecutionName(arn))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				return results.WriteJSON(out, set)
			case asCSV:
				return results.WriteCSV(out, set)
			}
			return results.WriteTable(out, set, 0)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array, one target per line")
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV with a header row")
	return cmd
}

func newStopCommand(s *session) *cobra.Command {
	return &cobra.Command{
		Use:   "stop EXECUTION",
		Short: "Stop (abort) an execution; the canceller then stops its builds",
		Long: `stop aborts a running execution (StopExecution). Step Functions does not stop the builds the
execution started in the target accounts: the canceller does, when the execution's end
reaches it, and the reconciler stops any it missed (docs/operations.md, "Stopping builds").
stop says how many builds were still running. Stopping an execution that already ended
changes nothing and exits 0.`,
		Args: args("EXECUTION"),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			arn, err := s.execution(ctx, a[0])
			if err != nil {
				return err
			}
			sf, err := s.sfn(ctx)
			if err != nil {
				return err
			}
			// The records only count the builds; without the table, stop still stops.
			var recs execution.Records
			if d, err := s.deployment(ctx, deployment.Table); err == nil {
				if recs, err = s.records(ctx, d.Table); err != nil {
					return err
				}
			}
			res, err := execution.Stop(ctx, sf, recs, arn)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case res.Already != "":
				fmt.Fprintf(out, "%s already ended %s: nothing to stop\n", arn, res.Already)
			case res.Running < 0:
				fmt.Fprintf(out, "stopped %s; the canceller stops the builds it started\n", arn)
			default:
				fmt.Fprintf(out, "stopped %s; the canceller stops its %d running build(s)\n", arn, res.Running)
			}
			return nil
		},
	}
}

func newReplayCommand(s *session) *cobra.Command {
	var (
		from, to, archive, name string
		noWait                  bool
		timeout                 time.Duration
	)
	cmd := &cobra.Command{
		Use:   "replay --from TIME --to TIME",
		Short: "Replay the archived build events of a time window to the source bus",
		Long: `replay starts an EventBridge replay (StartReplay) of the source bus's archive, which keeps the
terminal state changes of the builds crossbuild started, back to the bus; the callback then
completes any task whose completion was lost. Duplicates are harmless. Events are chosen by
their time: --from and --to take RFC 3339 times (2026-11-26T08:00:00Z), now, or a duration
ago (2h). EventBridge archives events with a delay: replay a window that ended at least
10 minutes ago to be sure it holds every event. replay waits until the replay completes
(--no-wait returns at once) and exits 1 when it failed or was cancelled.`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return &usageError{err: errors.New("--from is required"), cmd: cmd.CommandPath()}
			}
			ctx := cmd.Context()
			now := time.Now()
			f, err := replay.ParseTime(from, now)
			if err != nil {
				return err
			}
			t, err := replay.ParseTime(to, now)
			if err != nil {
				return err
			}
			d, err := s.deployment(ctx, deployment.EventBus)
			if err != nil {
				return err
			}
			eb, err := s.events(ctx)
			if err != nil {
				return err
			}
			r, err := replay.Start(ctx, eb, replay.Request{BusARN: d.EventBusARN, Archive: archive, From: f, To: t, Name: name}, now)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if t.After(now) {
				t = now
			}
			fmt.Fprintf(out, "replay %s: events of %s from %s to %s back to %s\n", r.Name, r.ArchiveARN,
				f.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339), r.BusARN)
			if noWait {
				fmt.Fprintf(out, "replay %s %s\n", r.Name, r.State)
				return nil
			}
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if r, err = replay.Wait(wctx, eb, r, time.Second); err != nil {
				return err
			}
			line := fmt.Sprintf("replay %s %s", r.Name, r.State)
			if !r.LastReplayed.IsZero() {
				line += ", last event replayed from " + r.LastReplayed.UTC().Format(time.RFC3339)
			}
			if r.Reason != "" {
				line += ": " + r.Reason
			}
			fmt.Fprintln(out, line)
			if r.State != "COMPLETED" {
				return &exitError{code: exitFailed}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "start of the window: RFC 3339, now, or a duration ago (2h)")
	fl.StringVar(&to, "to", "now", "end of the window, as --from")
	fl.StringVar(&archive, "archive", "", "archive ARN (default: the source bus's one archive)")
	fl.StringVar(&name, "name", "", "replay name (default crossbuild-<unix time>)")
	fl.BoolVar(&noWait, "no-wait", false, "start the replay and return")
	fl.DurationVar(&timeout, "timeout", 30*time.Minute, "give up waiting after this long (the replay goes on)")
	return cmd
}

func newRedriveCommand(s *session) *cobra.Command {
	var (
		dryRun bool
		max    int
	)
	cmd := &cobra.Command{
		Use:   "redrive-dlq",
		Short: "Hand the dead-letter queue's events back to the functions they were for",
		Long: `redrive-dlq empties the source stack's dead-letter queue, where events end that EventBridge
could not deliver to the callback, the canceller or the reconciler, and events those
functions failed on. AWS offers no way to put them back where they came from: SQS moves
messages back (StartMessageMoveTask) only to an SQS queue, and EventBridge's PutEvents
refuses events whose source starts with aws. (these are aws.codebuild, aws.states and
aws.events). So redrive-dlq does what EventBridge would have done: it invokes the function
(the message's TARGET_ARN, or the function that takes events of its source) with the event,
and deletes the message when the function succeeded. The functions are idempotent: an event
they already handled changes nothing. A message left in the queue is reported with its
reason, and the exit code is then 1. It needs sqs:ReceiveMessage, sqs:DeleteMessage and
lambda:InvokeFunction on the three functions.

The forwarding rules' dead-letter queues are in the target accounts (crossbuild doctor
reports their depth); the reconciler and the polling fallback complete the tasks whose
events are there (docs/operations.md, "When events stop arriving").`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			d, err := s.deployment(ctx, deployment.DeadLetterQueue)
			if err != nil {
				return err
			}
			q, err := s.sqs(ctx)
			if err != nil {
				return err
			}
			fns, err := s.lambda(ctx)
			if err != nil {
				return err
			}
			rep, err := (&redrive.Redriver{SQS: q, Lambda: fns, QueueURL: d.DeadLetterQueue, DryRun: dryRun, Max: max}).Run(ctx)
			out := cmd.OutOrStdout()
			if len(rep.Outcomes) > 0 {
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "MESSAGE\tEVENT\tFUNCTION\tOUTCOME")
				for _, o := range rep.Outcomes {
					outcome := "redriven"
					switch {
					case dryRun && o.Done:
						outcome = "would be redriven"
					case !o.Done:
						outcome = "left: " + o.Reason
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.MessageID, o.Event, o.Function, outcome)
				}
				_ = tw.Flush()
			}
			if err != nil {
				return err
			}
			left := rep.Left()
			switch {
			case len(rep.Outcomes) == 0:
				fmt.Fprintf(out, "the dead-letter queue %s is empty\n", d.DeadLetterQueue)
			case dryRun:
				fmt.Fprintf(out, "dry run: %d message(s), %d could be redriven; nothing was changed\n", len(rep.Outcomes), len(rep.Outcomes)-left)
			default:
				fmt.Fprintf(out, "%d redriven, %d left in the queue\n", len(rep.Outcomes)-left, left)
			}
			if left > 0 {
				return &exitError{code: exitFailed}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be done; change nothing")
	cmd.Flags().IntVar(&max, "max", 100, "handle at most this many messages")
	return cmd
}
