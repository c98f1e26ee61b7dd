package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/crossbuild/crossbuild/local/pictures"
	"github.com/crossbuild/crossbuild/local/world"
)

// dashboardBody is the dashboard body the source stack deploys, its references resolved
// to the local deployment's names (state machine ARN, function and queue names).
func dashboardBody(w *world.World) (string, error) {
	for _, s := range w.Stacks {
		for _, id := range s.ResourcesOfType("AWS::CloudWatch::Dashboard") {
			props, err := s.Properties(id)
			if err != nil {
				return "", err
			}
			body, ok := props["DashboardBody"].(string)
			if !ok {
				return "", fmt.Errorf("%s/%s: DashboardBody is not text after resolving", s.Name, id)
			}
			return body, nil
		}
	}
	return "", errors.New("the assembly has no CloudWatch dashboard")
}

// Where the local runtime's numbers come from.
const (
	fromEMF        = "the functions' embedded-metric lines in their logs"
	fromExecutions = "Step Functions ListExecutions: start and stop of each execution"
	fromQueue      = "SQS GetQueueAttributes ApproximateNumberOfMessages, sampled"
	fromErrors     = "the error responses in the functions' logs"
)

// queueEvery is how often the dead-letter queues' depth is read during the run.
const queueEvery = 500 * time.Millisecond

// executionMetrics maps an execution's final status to its AWS/States metric.
var executionMetrics = map[sfntypes.ExecutionStatus]string{
	sfntypes.ExecutionStatusSucceeded: "ExecutionsSucceeded",
	sfntypes.ExecutionStatusFailed:    "ExecutionsFailed",
	sfntypes.ExecutionStatusAborted:   "ExecutionsAborted",
	sfntypes.ExecutionStatusTimedOut:  "ExecutionsTimedOut",
}

// recorder gathers, for one run, the samples CloudWatch would have had.
type recorder struct {
	w      *world.World
	logDir string
	start  time.Time

	mu      sync.Mutex
	samples []pictures.Sample
	stop    chan struct{}
	done    chan struct{}
}

// watchQueues reads the depth of every queue a dashboard metric names until finish.
func (r *recorder) watchQueues(ctx context.Context, d pictures.Dashboard) error {
	account, region := r.sourceEnv()
	client := sqs.NewFromConfig(r.w.Operator(account, region))
	urls := map[string]string{} // queue name -> URL
	for _, wd := range d.Widgets {
		for _, m := range wd.Metrics {
			name := m.Dims["QueueName"]
			if m.Namespace != "AWS/SQS" || name == "" || urls[name] != "" {
				continue
			}
			out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
			if err != nil {
				return fmt.Errorf("queue %s of the dashboard: %w", name, err)
			}
			urls[name] = aws.ToString(out.QueueUrl)
		}
	}
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(r.done)
		tick := time.NewTicker(queueEvery)
		defer tick.Stop()
		for {
			for name, url := range urls {
				out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
					QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
				})
				if err != nil {
					continue
				}
				n, err := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
				if err != nil {
					continue
				}
				r.add(pictures.Sample{Time: time.Now().UTC(), Namespace: "AWS/SQS", Name: "ApproximateNumberOfMessagesVisible",
					Dims: map[string]string{"QueueName": name}, Value: float64(n)})
			}
			select {
			case <-r.stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return nil
}

func (r *recorder) add(s pictures.Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, s)
}

// finish stops the queue readings and adds the metric lines of every function's log and
// the state machine's executions.
func (r *recorder) finish(ctx context.Context) (pictures.Recording, error) {
	close(r.stop)
	<-r.done
	end := time.Now()
	logs, err := filepath.Glob(filepath.Join(r.logDir, "lambda-*.log"))
	if err != nil {
		return pictures.Recording{}, err
	}
	for _, path := range logs {
		f, err := os.Open(path)
		if err != nil {
			return pictures.Recording{}, err
		}
		samples, err := pictures.ReadEMF(f)
		if err == nil {
			var errs []pictures.Sample
			if _, err = f.Seek(0, io.SeekStart); err == nil {
				errs, err = pictures.ReadFunctionErrors(f, functionOfLog(path))
				samples = append(samples, errs...)
			}
		}
		f.Close()
		if err != nil {
			return pictures.Recording{}, fmt.Errorf("%s: %w", path, err)
		}
		for _, s := range samples {
			r.add(s)
		}
	}
	if err := r.executions(ctx); err != nil {
		return pictures.Recording{}, err
	}
	sources := []pictures.Source{{Namespace: "crossbuild", From: fromEMF}}
	for _, name := range []string{"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsAborted", "ExecutionsTimedOut"} {
		sources = append(sources, pictures.Source{Namespace: "AWS/States", Name: name, From: fromExecutions})
	}
	sources = append(sources, pictures.Source{Namespace: "AWS/SQS", Name: "ApproximateNumberOfMessagesVisible", From: fromQueue},
		pictures.Source{Namespace: "AWS/Lambda", Name: "Errors", From: fromErrors})
	r.mu.Lock()
	defer r.mu.Unlock()
	return pictures.Recording{Start: r.start.UTC(), End: end.UTC(), Samples: r.samples, Sources: sources}, nil
}

// executions adds ExecutionsStarted and the final status of each execution of every state
// machine the dashboard may name (CloudWatch counts them by StateMachineArn).
func (r *recorder) executions(ctx context.Context) error {
	account, region := r.sourceEnv()
	client := sfn.NewFromConfig(r.w.Operator(account, region))
	for _, arn := range r.w.StateMachines {
		p := sfn.NewListExecutionsPaginator(client, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn)})
		for pages := 0; p.HasMorePages() && pages < 100; pages++ {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list executions of %s: %w", arn, err)
			}
			for _, e := range page.Executions {
				dims := map[string]string{"StateMachineArn": arn}
				r.add(pictures.Sample{Time: aws.ToTime(e.StartDate).UTC(), Namespace: "AWS/States", Name: "ExecutionsStarted", Dims: dims, Value: 1})
				if name, ok := executionMetrics[e.Status]; ok && e.StopDate != nil {
					r.add(pictures.Sample{Time: e.StopDate.UTC(), Namespace: "AWS/States", Name: name, Dims: dims, Value: 1})
				}
			}
		}
	}
	return nil
}

// functionOfLog is the function a log file belongs to: the local Lambda writes
// lambda-<function>-<account>-<region>.log.
func functionOfLog(path string) string {
	name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "lambda-"), ".log")
	parts := strings.Split(name, "-")
	if len(parts) < 3 {
		return name
	}
	// The Region has three parts (eu-west-1), the account one.
	return strings.Join(parts[:max(len(parts)-4, 1)], "-")
}

// sourceEnv is the source stack's account and Region.
func (r *recorder) sourceEnv() (account, region string) {
	for _, s := range r.w.Stacks {
		if len(s.ResourcesOfType("AWS::CloudWatch::Dashboard")) > 0 {
			return s.Account, s.Region
		}
	}
	return "", ""
}
