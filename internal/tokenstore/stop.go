package tokenstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Stopped is the state of a record whose execution ended (aborted, timed out or failed)
// while its build ran, and whose build the canceller stopped. No task waits for it any
// more: it is as final as COMPLETED, and neither a claim nor a later event moves it.
const Stopped State = "STOPPED"

// attrStoppedAt is when the canceller closed the record, in epoch milliseconds.
const attrStoppedAt = "stoppedAt"

// condStoppable admits every state that may still have a running build: WAITING, CLAIMED
// and any state added before a build is recorded, but never a record that is done or
// parked, nor one of another execution.
const condStoppable = "attribute_exists(#buildArn) AND #executionArn = :executionArn" +
	" AND #state <> :completed AND #state <> :parked AND #state <> :stopped"

// ListByExecution returns every record started by executionARN, whatever its Map index or
// state, reading the execution index page by page. The index is eventually consistent: a
// record written a moment ago may be missing. Intents are left out (see ListExecution).
func (s *Store) ListByExecution(ctx context.Context, executionARN string) ([]Record, error) {
	recs, _, err := s.ListExecution(ctx, executionARN)
	return recs, err
}

// ListExecution returns the records and the intents of executionARN, reading the execution
// index page by page (eventually consistent, like ListByExecution).
func (s *Store) ListExecution(ctx context.Context, executionARN string) ([]Record, []Intent, error) {
	if executionARN == "" {
		return nil, nil, errors.New("list by execution: empty execution ARN")
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(s.index),
		KeyConditionExpression:   aws.String("#executionArn = :executionArn"),
		ExpressionAttributeNames: names(attrExecutionARN),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":executionArn": str(executionARN),
		},
	}
	var recs []Record
	var intents []Intent
	for {
		page, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, nil, fmt.Errorf("list records of execution %s: %w", executionARN, err)
		}
		for _, item := range page.Items {
			if isIntentItem(item) {
				it, err := unmarshalIntent(item)
				if err != nil {
					return nil, nil, fmt.Errorf("list records of execution %s: %w", executionARN, err)
				}
				intents = append(intents, it)
				continue
			}
			rec, err := unmarshal(item)
			if err != nil {
				return nil, nil, fmt.Errorf("list records of execution %s: %w", executionARN, err)
			}
			recs = append(recs, rec)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return recs, intents, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// isIntentItem tells an intent from a record by its key.
func isIntentItem(item map[string]types.AttributeValue) bool {
	k, ok := item[attrBuildARN].(*types.AttributeValueMemberS)
	return ok && IsIntentKey(k.Value)
}

// Stop moves the record of buildARN, started by executionARN, to STOPPED and returns it as
// stored. Stopping is idempotent: a refused write that finds the record already STOPPED
// for the same execution succeeds (its own earlier write whose answer was lost, or a
// duplicate event). It returns *ConflictError when the record is COMPLETED, PARKED or of
// another execution, and *NotFoundError when there is none.
func (s *Store) Stop(ctx context.Context, buildARN, executionARN string) (Record, error) {
	const op = "stop"
	if buildARN == "" {
		return Record{}, emptyKey(op)
	}
	if executionARN == "" {
		return Record{}, fmt.Errorf("%s %s: empty execution ARN", op, buildARN)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key(buildARN),
		UpdateExpression:         aws.String("SET #state = :stopped, #stoppedAt = :now" + removeOpen),
		ConditionExpression:      aws.String(condStoppable),
		ExpressionAttributeNames: names(attrBuildARN, attrExecutionARN, attrState, attrStoppedAt, attrOpenShard, attrOpenSince),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":executionArn": str(executionARN),
			":completed":    str(string(Completed)),
			":parked":       str(string(Parked)),
			":stopped":      str(string(Stopped)),
			":now":          num(s.now().UnixMilli()),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return s.settle(ctx, op, buildARN, err, true, func(cur Record) bool {
			return cur.State == Stopped && cur.ExecutionARN == executionARN
		})
	}
	rec, err := unmarshal(out.Attributes)
	if err != nil {
		return Record{}, fmt.Errorf("%s %s: %w", op, buildARN, err)
	}
	return rec, nil
}
