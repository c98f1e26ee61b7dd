package faultmatrix

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// maxPages bounds every listing.
const maxPages = 1000

// child is one target's child execution, as an operator reads it through the API.
type child struct {
	arn         string
	status      sfntypes.ExecutionStatus
	output, err string
	cause       string
	stopped     time.Time // in the state machine's (scaled) time
	tokens      []string  // the task tokens handed to the starter, one per attempt
	submitted   bool      // a wait for the token began
	pollClosed  bool      // the polling branch reported the build
	taskErrors  map[string]int
}

// children reads every child execution of the execution's Map Runs, by map index.
func (r *Runner) children(ctx context.Context, arn string) (map[int]*child, error) {
	out := map[int]*child{}
	runs, err := r.sfn.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("map runs of %s: %w", arn, err)
	}
	for _, run := range runs.MapRuns {
		p := sfn.NewListExecutionsPaginator(r.sfn, &sfn.ListExecutionsInput{MapRunArn: run.MapRunArn, MaxResults: 100})
		for pages := 0; p.HasMorePages(); pages++ {
			if pages > maxPages {
				return nil, fmt.Errorf("children of %s: more than %d pages", arn, maxPages)
			}
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("children of %s: %w", arn, err)
			}
			for _, e := range page.Executions {
				index, c, err := r.child(ctx, aws.ToString(e.ExecutionArn))
				if err != nil {
					return nil, err
				}
				if prev, dup := out[index]; dup {
					return nil, fmt.Errorf("map index %d has two child executions: %s and %s", index, prev.arn, c.arn)
				}
				out[index] = c
			}
		}
	}
	return out, nil
}

// child describes one child execution and reads its history.
func (r *Runner) child(ctx context.Context, arn string) (int, *child, error) {
	d, err := r.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return 0, nil, fmt.Errorf("describe %s: %w", arn, err)
	}
	var in struct {
		MapIndex *int `json:"mapIndex"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &in); err != nil || in.MapIndex == nil {
		return 0, nil, fmt.Errorf("child %s: input without a map index", arn)
	}
	c := &child{arn: arn, status: d.Status, output: aws.ToString(d.Output), err: aws.ToString(d.Error),
		cause: aws.ToString(d.Cause), stopped: aws.ToTime(d.StopDate), taskErrors: map[string]int{}}
	p := sfn.NewGetExecutionHistoryPaginator(r.sfn, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > maxPages {
			return 0, nil, fmt.Errorf("history of %s: more than %d pages", arn, maxPages)
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, nil, fmt.Errorf("history of %s: %w", arn, err)
		}
		for _, e := range page.Events {
			switch {
			case e.Type == sfntypes.HistoryEventTypeTaskScheduled && e.TaskScheduledEventDetails != nil:
				var params struct {
					Payload struct {
						TaskToken string `json:"taskToken"`
					}
				}
				if json.Unmarshal([]byte(aws.ToString(e.TaskScheduledEventDetails.Parameters)), &params) == nil && params.Payload.TaskToken != "" {
					c.tokens = append(c.tokens, params.Payload.TaskToken)
				}
			case e.Type == sfntypes.HistoryEventTypeTaskSubmitted:
				c.submitted = true
			case e.TaskFailedEventDetails != nil:
				c.taskErrors[aws.ToString(e.TaskFailedEventDetails.Error)]++
			case e.TaskTimedOutEventDetails != nil:
				c.taskErrors[aws.ToString(e.TaskTimedOutEventDetails.Error)]++
			case e.StateEnteredEventDetails != nil:
				switch aws.ToString(e.StateEnteredEventDetails.Name) {
				case "Build succeeded", "Build failed":
					c.pollClosed = true
				}
			}
		}
	}
	return *in.MapIndex, c, nil
}
