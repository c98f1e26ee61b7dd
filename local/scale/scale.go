// Package scale runs one execution of many targets on the local runtime and measures what
// matters at scale: whether it ends well, how long it takes, how large each child
// execution's history grows, how many state transitions a target costs and how large the
// execution output is. `make bench-scale` prints its report; docs/benchmarks.md records the
// figures.
package scale

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/crossbuild/crossbuild/local/cfn"
	"github.com/crossbuild/crossbuild/local/world"
)

// NoOpBuildSpec runs nothing: the local CodeBuild stand-in then starts no process and keeps
// no folder, but still walks every phase and sends every event, so thousands of builds fit
// on a small machine.
const NoOpBuildSpec = `{"version":"0.2","phases":{"build":{"commands":["true"]}}}`

// NoOpBuilds is a world.Options.Mutate hook giving every CodeBuild project NoOpBuildSpec.
func NoOpBuilds(stacks []*cfn.Stack) error {
	n := 0
	for _, s := range stacks {
		for _, id := range s.ResourcesOfType("AWS::CodeBuild::Project") {
			source, _ := s.Template.Resources[id].Properties["Source"].(map[string]any)
			if source == nil {
				return fmt.Errorf("%s/%s: the project has no Source", s.Name, id)
			}
			source["BuildSpec"] = NoOpBuildSpec
			n++
		}
	}
	if n == 0 {
		return errors.New("the assembly has no CodeBuild project")
	}
	return nil
}

// inlineLimit is the largest target list passed inline; larger ones go through the bucket
// (targetsS3Uri), as StartExecution's input is limited to 256 KiB.
const inlineLimit = 200 << 10

// Options configure one run.
type Options struct {
	Targets        int
	MaxConcurrency int           // the execution's maxConcurrency; 0: the Distributed Map's 10,000
	Timeout        time.Duration // how long the execution may run
	Name           string        // execution name; default scale-<targets>-<time>
}

// Report is what one run measured.
type Report struct {
	Targets           int
	Source            string // "inline" or the targets object's URI
	Status            string
	Error, Cause      string
	Wall              time.Duration
	ChildExecutions   int
	ParentEvents      int
	MaxChildEvents    int
	TotalEvents       int
	Transitions       int     // states entered, parent and children: what Step Functions bills
	TransitionsPerTgt float64 // Transitions / Targets
	OutputBytes       int
	Summary           json.RawMessage
	PeakRSSMiB        float64 // this process: the stand-ins and the state machine executor (PeakRSS)
	ChildrenRSSMiB    float64 // the largest child process: a function, the emulator or dynalite (PeakRSS)
}

// Run starts one execution of opts.Targets targets spread over the deployed target stacks'
// sample projects and measures it once it has ended.
func Run(ctx context.Context, w *world.World, opts Options) (Report, error) {
	rep := Report{Targets: opts.Targets}
	if opts.Targets < 1 {
		return rep, errors.New("scale: at least one target")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Minute
	}
	if opts.Name == "" {
		opts.Name = fmt.Sprintf("scale-%d-%s", opts.Targets, time.Now().UTC().Format("150405"))
	}
	smARN, ok := w.StateMachines["crossbuild"]
	if !ok {
		return rep, errors.New("scale: no crossbuild state machine in the assembly")
	}
	sm, err := arn.Parse(smARN)
	if err != nil {
		return rep, fmt.Errorf("scale: state machine ARN: %w", err)
	}
	cfg := w.Operator(sm.AccountID, sm.Region)
	client := sfn.NewFromConfig(cfg)

	input, source, err := buildInput(ctx, w, cfg, opts)
	if err != nil {
		return rep, err
	}
	rep.Source = source
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	started := time.Now()
	out, err := client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(smARN), Name: aws.String(opts.Name), Input: aws.String(input),
	})
	if err != nil {
		return rep, fmt.Errorf("start execution: %w", err)
	}
	arn := aws.ToString(out.ExecutionArn)
	var desc *sfn.DescribeExecutionOutput
	for {
		if desc, err = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)}); err != nil {
			return rep, fmt.Errorf("describe execution: %w", err)
		}
		if desc.Status != sfntypes.ExecutionStatusRunning {
			break
		}
		select {
		case <-ctx.Done():
			return rep, fmt.Errorf("execution %s still running after %s", arn, opts.Timeout)
		case <-time.After(250 * time.Millisecond):
		}
	}
	rep.Wall = time.Since(started)
	rep.Status = string(desc.Status)
	rep.Error, rep.Cause = aws.ToString(desc.Error), aws.ToString(desc.Cause)
	rep.OutputBytes = len(aws.ToString(desc.Output))
	if rep.OutputBytes > 0 {
		var o struct {
			Summary json.RawMessage `json:"summary"`
		}
		if json.Unmarshal([]byte(aws.ToString(desc.Output)), &o) == nil {
			rep.Summary = o.Summary
		}
	}
	if err := measureHistories(ctx, client, arn, &rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// buildInput spreads the targets over every target stack's sample project, inline when the
// input is small and through the runs bucket otherwise.
func buildInput(ctx context.Context, w *world.World, cfg aws.Config, opts Options) (input, source string, err error) {
	type place struct{ account, region, project string }
	var places []place
	bucket := ""
	for _, s := range w.Stacks {
		for _, id := range s.ResourcesOfType("AWS::CodeBuild::Project") {
			name, err := s.PhysicalName(id)
			if err != nil {
				return "", "", err
			}
			places = append(places, place{s.Account, s.Region, name})
		}
		for _, id := range s.ResourcesOfType("AWS::S3::Bucket") {
			if bucket, err = s.PhysicalName(id); err != nil {
				return "", "", err
			}
		}
	}
	if len(places) == 0 {
		return "", "", errors.New("scale: no CodeBuild project deployed")
	}
	targets := make([]map[string]any, opts.Targets)
	for i := range targets {
		p := places[i%len(places)]
		targets[i] = map[string]any{
			"arn":              fmt.Sprintf("arn:aws:iam::%s:role/crossbuild-target-role", p.account),
			"region":           p.region,
			"codeBuildProject": p.project,
			"SampleValue1":     fmt.Sprintf("target-%d", i),
		}
	}
	list, err := json.Marshal(targets)
	if err != nil {
		return "", "", err
	}
	in := map[string]any{"maxConcurrency": opts.MaxConcurrency}
	source = "inline"
	if len(list) > inlineLimit {
		if bucket == "" {
			return "", "", errors.New("scale: no bucket deployed for a large target list")
		}
		key := "targets/" + opts.Name + ".json"
		if _, err := s3.NewFromConfig(cfg).PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(list),
		}); err != nil {
			return "", "", fmt.Errorf("upload the targets: %w", err)
		}
		source = "s3://" + bucket + "/" + key
		in["targetsS3Uri"] = source
	} else {
		in["crossAccountTargetRoleArns"] = json.RawMessage(list)
	}
	raw, err := json.Marshal(in)
	return string(raw), source, err
}

// measureHistories reads the parent's history and every child's through the API.
func measureHistories(ctx context.Context, client *sfn.Client, arn string, rep *Report) error {
	parent, entered, err := history(ctx, client, arn)
	if err != nil {
		return err
	}
	rep.ParentEvents, rep.TotalEvents, rep.Transitions = parent, parent, entered
	runs, err := client.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return fmt.Errorf("list map runs: %w", err)
	}
	for _, run := range runs.MapRuns {
		p := sfn.NewListExecutionsPaginator(client, &sfn.ListExecutionsInput{MapRunArn: run.MapRunArn, MaxResults: 1000})
		for pages := 0; p.HasMorePages() && pages < 1000; pages++ {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list child executions: %w", err)
			}
			for _, x := range page.Executions {
				n, e, err := history(ctx, client, aws.ToString(x.ExecutionArn))
				if err != nil {
					return err
				}
				rep.ChildExecutions++
				rep.TotalEvents += n
				rep.Transitions += e
				rep.MaxChildEvents = max(rep.MaxChildEvents, n)
			}
		}
	}
	rep.TransitionsPerTgt = float64(rep.Transitions) / float64(rep.Targets)
	return nil
}

// history counts an execution's events and the states it entered.
func history(ctx context.Context, client *sfn.Client, arn string) (events, entered int, err error) {
	p := sfn.NewGetExecutionHistoryPaginator(client, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	for pages := 0; p.HasMorePages() && pages < 100; pages++ {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("history of %s: %w", arn, err)
		}
		for _, e := range page.Events {
			events++
			if strings.HasSuffix(string(e.Type), "StateEntered") {
				entered++
			}
		}
	}
	return events, entered, nil
}

// PeakRSS reads the peak resident set sizes the kernel kept for this process and for the
// largest of its children that have ended: call it after the world is closed.
func PeakRSS() (self, children float64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = float64(ru.Maxrss) / 1024
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		children = float64(ru.Maxrss) / 1024
	}
	return self, children
}

// String renders the report as the table docs/benchmarks.md shows.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "targets                 %d (%s)\n", r.Targets, r.Source)
	fmt.Fprintf(&b, "status                  %s %s\n", r.Status, strings.TrimSpace(r.Error+" "+truncate(r.Cause, 300)))
	fmt.Fprintf(&b, "wall time               %s\n", r.Wall.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "child executions        %d\n", r.ChildExecutions)
	fmt.Fprintf(&b, "parent history events   %d\n", r.ParentEvents)
	fmt.Fprintf(&b, "child history (max)     %d events\n", r.MaxChildEvents)
	fmt.Fprintf(&b, "transitions per target  %.2f (%d in all)\n", r.TransitionsPerTgt, r.Transitions)
	fmt.Fprintf(&b, "output                  %d bytes\n", r.OutputBytes)
	fmt.Fprintf(&b, "summary                 %s\n", r.Summary)
	fmt.Fprintf(&b, "peak RSS                %.0f MiB (runtime), %.0f MiB (largest child process)\n", r.PeakRSSMiB, r.ChildrenRSSMiB)
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
