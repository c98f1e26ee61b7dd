package tokenstore

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestListByExecutionPages: every page of the index is read, each from where the last
// one ended.
func TestListByExecutionPages(t *testing.T) {
	const exec = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"
	page := func(idx int64, last bool) *dynamodb.QueryOutput {
		r := fullRecord()
		r.ExecutionARN = exec
		r.MapIndex = int(idx)
		out := &dynamodb.QueryOutput{Items: []map[string]types.AttributeValue{marshal(r)}}
		if !last {
			out.LastEvaluatedKey = map[string]types.AttributeValue{attrMapIndex: num(idx)}
		}
		return out
	}
	var starts []map[string]types.AttributeValue
	f := &fakeAPI{query: func(in *dynamodb.QueryInput) (*dynamodb.QueryOutput, error) {
		starts = append(starts, in.ExclusiveStartKey)
		if *in.IndexName != DefaultIndex || *in.KeyConditionExpression != "#executionArn = :executionArn" {
			t.Errorf("query %s on %s", *in.KeyConditionExpression, *in.IndexName)
		}
		return page(int64(len(starts)-1), len(starts) == 3), nil
	}}
	recs, err := New(f, "tokens").ListByExecution(context.Background(), exec)
	if err != nil || len(recs) != 3 || recs[2].MapIndex != 2 {
		t.Fatalf("list = %+v, %v", recs, err)
	}
	if starts[0] != nil || len(starts) != 3 || starts[2][attrMapIndex].(*types.AttributeValueMemberN).Value != "1" {
		t.Fatalf("start keys %v", starts)
	}
	f.query = func(*dynamodb.QueryInput) (*dynamodb.QueryOutput, error) { return nil, errThrottle }
	if _, err := New(f, "tokens").ListByExecution(context.Background(), exec); err == nil {
		t.Fatal("a failed page is not an error")
	}
}

// TestStopLostAnswer: a stop applied whose answer was lost is retried, fails its
// condition, and finds the record stopped for its execution: success, not a conflict.
func TestStopLostAnswer(t *testing.T) {
	stopped := inState(Stopped)
	f := &fakeAPI{update: func(*dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
		return nil, &types.ConditionalCheckFailedException{Item: marshal(*stopped)}
	}}
	got, err := New(f, "tokens").Stop(context.Background(), arn, stopped.ExecutionARN)
	if err != nil || got.State != Stopped {
		t.Fatalf("stop = %+v, %v", got, err)
	}
	if _, err := New(f, "tokens").Stop(context.Background(), arn, stopped.ExecutionARN+"-other"); err == nil {
		t.Fatal("a record stopped for another execution is not a conflict")
	}
}
