package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Starting a build is intent-first. Before StartBuild, the starter opens an attempt on the
// INTENT item of its (execution, Map index); once CodeBuild answers, the build is written
// onto the intent. Every later attempt of the same item reads the intent first and reuses
// the build, however late it comes: CodeBuild's idempotency token only covers five
// minutes, the state machine's retries may wait hours.
//
// An intent's attempt is open from the moment it is taken until StartBuild's answer is
// known. A refusal that started nothing (a quota, a missing project) closes it; the next
// attempt opens a new one with a new idempotency token. An attempt left open (the starter
// crashed, or the answer was lost) may have started a build: within the token's window the
// same token returns that build; after it, the starter looks for the build in CodeBuild
// before it may close the attempt.
//
// The canceller marks the intent cancelled when its execution ends: no attempt opens after
// that, and a build recorded later is stopped by the starter that started it.

// IntentState is the state attribute of every intent item.
const IntentState State = "INTENT"

// IntentKeyPrefix starts every intent's key. Build ARNs start with "arn:", so the two kinds
// of items never share a key.
const IntentKeyPrefix = "intent/"

// Intent attributes beyond those of a record.
const (
	attrAttempt     = "attempt"
	attrAttemptAt   = "attemptAt"
	attrStarted     = "startedBuildArn"
	attrCancelledAt = "cancelledAt"
)

// Intent is the start of one Map item's build.
type Intent struct {
	ExecutionARN string
	MapIndex     int
	// Where the build runs: enough for the canceller to stop it before a record exists.
	Account, Region, Project, RoleARN string
	Attempt                           int       // the current (or last) attempt, from 1
	AttemptAt                         time.Time // when the current attempt opened; zero once closed
	BuildARN                          string    // the build the item started, once known
	BuildID                           string
	CancelledAt                       time.Time // the execution ended; nothing may start any more
	CreatedAt                         time.Time
	ExpiresAt                         time.Time
}

// Open reports whether an attempt is open: it may have started a build nobody recorded.
func (in Intent) Open() bool { return in.BuildARN == "" && !in.AttemptAt.IsZero() }

// Cancelled reports whether the execution ended.
func (in Intent) Cancelled() bool { return !in.CancelledAt.IsZero() }

// IntentKey is the table key of the intent of executionARN's Map item mapIndex.
func IntentKey(executionARN string, mapIndex int) string {
	return IntentKeyPrefix + executionARN + "#" + strconv.Itoa(mapIndex)
}

// IsIntentKey reports whether a table key is an intent's.
func IsIntentKey(key string) bool { return strings.HasPrefix(key, IntentKeyPrefix) }

// CancelledError reports that the intent's execution ended: no build may be started for it.
type CancelledError struct {
	Intent Intent
}

func (e *CancelledError) Error() string {
	return fmt.Sprintf("execution %s ended: Map item %d starts no build", e.Intent.ExecutionARN, e.Intent.MapIndex)
}

// OtherBuildError reports that the intent already holds another build than the one being
// recorded: two builds were started for one Map item, and Build is the second.
type OtherBuildError struct {
	Intent Intent
	Build  string
}

func (e *OtherBuildError) Error() string {
	return fmt.Sprintf("execution %s Map item %d already started %s, not %s", e.Intent.ExecutionARN, e.Intent.MapIndex, e.Intent.BuildARN, e.Build)
}

// maxIntentRounds bounds BeginStart's read-then-write rounds against concurrent attempts.
const maxIntentRounds = 4

// BeginStart returns the intent of want's execution and Map index, as it stands for a
// StartBuild attempt:
//   - a recorded build (BuildARN set): reuse it, start nothing;
//   - an attempt this call opened (AttemptAt now): start with that attempt's token;
//   - an attempt already open (AttemptAt earlier): an earlier call may have started a build.
//
// It returns *CancelledError when the execution ended. want carries the execution ARN, the
// Map index, where the build runs and the item's expiry.
func (s *Store) BeginStart(ctx context.Context, want Intent) (Intent, error) {
	const op = "begin start"
	if want.ExecutionARN == "" {
		return Intent{}, fmt.Errorf("%s: empty execution ARN", op)
	}
	k := IntentKey(want.ExecutionARN, want.MapIndex)
	for range maxIntentRounds {
		cur, found, err := s.getIntent(ctx, k)
		if err != nil {
			return Intent{}, fmt.Errorf("%s %s: %w", op, k, err)
		}
		switch {
		case !found:
			in, err := s.createIntent(ctx, k, want)
			if conditionFailed(err) {
				continue // a concurrent attempt wrote it first, or our own retried write did
			}
			if err != nil {
				return Intent{}, fmt.Errorf("%s %s: %w", op, k, err)
			}
			return in, nil
		case cur.Cancelled():
			return cur, &CancelledError{Intent: cur}
		case cur.BuildARN != "" || cur.Open():
			return cur, nil
		}
		in, err := s.reopen(ctx, k, cur)
		if conditionFailed(err) {
			continue
		}
		if err != nil {
			return Intent{}, fmt.Errorf("%s %s: %w", op, k, err)
		}
		return in, nil
	}
	return Intent{}, fmt.Errorf("%s %s: the intent kept changing under %d rounds of concurrent attempts", op, k, maxIntentRounds)
}

// createIntent writes a new intent with attempt 1 open.
func (s *Store) createIntent(ctx context.Context, k string, want Intent) (Intent, error) {
	now := s.now()
	in := Intent{
		ExecutionARN: want.ExecutionARN, MapIndex: want.MapIndex,
		Account: want.Account, Region: want.Region, Project: want.Project, RoleARN: want.RoleARN,
		Attempt: 1, AttemptAt: now, CreatedAt: now, ExpiresAt: want.ExpiresAt,
	}
	item := marshalIntent(in)
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String(condNotExists),
		ExpressionAttributeNames: names(attrBuildARN),
	})
	if err != nil {
		return Intent{}, err
	}
	return unmarshalIntent(item)
}

// reopen opens the next attempt of an intent whose last attempt was closed.
func (s *Store) reopen(ctx context.Context, k string, cur Intent) (Intent, error) {
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              key(k),
		UpdateExpression: aws.String("SET #attempt = :next, #attemptAt = :now"),
		ConditionExpression: aws.String("#attempt = :attempt AND attribute_not_exists(#attemptAt)" +
			" AND attribute_not_exists(#startedBuildArn) AND attribute_not_exists(#cancelledAt)"),
		ExpressionAttributeNames: names(attrAttempt, attrAttemptAt, attrStarted, attrCancelledAt),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":attempt": num(int64(cur.Attempt)),
			":next":    num(int64(cur.Attempt + 1)),
			":now":     num(s.now().UnixMilli()),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return Intent{}, err
	}
	return unmarshalIntent(out.Attributes)
}

// RecordBuild writes the build that attempt in started onto its intent, and returns the
// intent as stored. A retried write that finds this build already recorded succeeds. It
// returns *CancelledError when the execution ended meanwhile (the caller stops the build it
// started), and *OtherBuildError when another build is recorded.
func (s *Store) RecordBuild(ctx context.Context, in Intent, buildARN, buildID string) (Intent, error) {
	const op = "record build on intent"
	if buildARN == "" {
		return Intent{}, emptyKey(op)
	}
	k := IntentKey(in.ExecutionARN, in.MapIndex)
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              key(k),
		UpdateExpression: aws.String("SET #startedBuildArn = :arn, #buildId = :id REMOVE #attemptAt"),
		ConditionExpression: aws.String("attribute_exists(#buildArn) AND attribute_not_exists(#cancelledAt)" +
			" AND (attribute_not_exists(#startedBuildArn) OR #startedBuildArn = :arn)"),
		ExpressionAttributeNames: names(attrBuildARN, attrStarted, attrBuildID, attrAttemptAt, attrCancelledAt),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":arn": str(buildARN),
			":id":  str(buildID),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return unmarshalIntent(out.Attributes)
	}
	cur, found, err := s.refusedIntent(ctx, k, err)
	switch {
	case err != nil:
		return Intent{}, fmt.Errorf("%s %s: %w", op, k, err)
	case !found:
		return Intent{}, &NotFoundError{Key: k}
	case cur.Cancelled():
		return cur, &CancelledError{Intent: cur}
	case cur.BuildARN != buildARN:
		return cur, &OtherBuildError{Intent: cur, Build: buildARN}
	}
	return cur, nil // our own write, answered by the SDK's retry
}

// CloseAttempt closes in's attempt after a StartBuild refusal that started nothing, so the
// next attempt opens a new one. It does nothing when the attempt is no longer the current
// open one (a build was recorded, or another attempt opened).
func (s *Store) CloseAttempt(ctx context.Context, in Intent) error {
	const op = "close attempt of intent"
	k := IntentKey(in.ExecutionARN, in.MapIndex)
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key(k),
		UpdateExpression:         aws.String("REMOVE #attemptAt"),
		ConditionExpression:      aws.String("#attempt = :attempt AND attribute_not_exists(#startedBuildArn)"),
		ExpressionAttributeNames: names(attrAttempt, attrAttemptAt, attrStarted),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":attempt": num(int64(in.Attempt)),
		},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("%s %s: %w", op, k, err)
	}
	return nil
}

// CancelIntent marks the intent of executionARN's Map item mapIndex cancelled and returns it
// as stored: no attempt opens after this, and a build recorded after it is stopped by its
// starter. Cancelling twice keeps the first time. *NotFoundError when there is no intent.
func (s *Store) CancelIntent(ctx context.Context, executionARN string, mapIndex int) (Intent, error) {
	const op = "cancel intent"
	k := IntentKey(executionARN, mapIndex)
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key(k),
		UpdateExpression:         aws.String("SET #cancelledAt = if_not_exists(#cancelledAt, :now)"),
		ConditionExpression:      aws.String("attribute_exists(#buildArn)"),
		ExpressionAttributeNames: names(attrBuildARN, attrCancelledAt),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": num(s.now().UnixMilli()),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		return Intent{}, &NotFoundError{Key: k}
	}
	if err != nil {
		return Intent{}, fmt.Errorf("%s %s: %w", op, k, err)
	}
	return unmarshalIntent(out.Attributes)
}

// GetIntent reads the intent of executionARN's Map item mapIndex with a consistent read;
// *NotFoundError when there is none.
func (s *Store) GetIntent(ctx context.Context, executionARN string, mapIndex int) (Intent, error) {
	k := IntentKey(executionARN, mapIndex)
	in, found, err := s.getIntent(ctx, k)
	if err != nil {
		return Intent{}, fmt.Errorf("get intent %s: %w", k, err)
	}
	if !found {
		return Intent{}, &NotFoundError{Key: k}
	}
	return in, nil
}

func (s *Store) getIntent(ctx context.Context, k string) (Intent, bool, error) {
	item, err := s.getItem(ctx, k)
	if err != nil || item == nil {
		return Intent{}, false, err
	}
	in, err := unmarshalIntent(item)
	return in, err == nil, err
}

// refusedIntent returns the intent a refused condition was checked against.
func (s *Store) refusedIntent(ctx context.Context, k string, err error) (Intent, bool, error) {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return Intent{}, false, err
	}
	if len(ccf.Item) == 0 {
		return s.getIntent(ctx, k)
	}
	in, uerr := unmarshalIntent(ccf.Item)
	return in, uerr == nil, uerr
}

func marshalIntent(in Intent) map[string]types.AttributeValue {
	item := marshal(Record{
		BuildARN: IntentKey(in.ExecutionARN, in.MapIndex), BuildID: in.BuildID,
		ExecutionARN: in.ExecutionARN, MapIndex: in.MapIndex,
		Account: in.Account, Region: in.Region, Project: in.Project, RoleARN: in.RoleARN,
		State: IntentState, CreatedAt: in.CreatedAt, ExpiresAt: in.ExpiresAt,
	})
	item[attrAttempt] = num(int64(in.Attempt))
	if !in.AttemptAt.IsZero() {
		item[attrAttemptAt] = num(in.AttemptAt.UnixMilli())
	}
	if in.BuildARN != "" {
		item[attrStarted] = str(in.BuildARN)
	}
	if !in.CancelledAt.IsZero() {
		item[attrCancelledAt] = num(in.CancelledAt.UnixMilli())
	}
	return item
}

// unmarshalIntent reads an intent item; any other item is an error.
func unmarshalIntent(item map[string]types.AttributeValue) (Intent, error) {
	rec, err := unmarshal(item)
	if err != nil {
		return Intent{}, err
	}
	if rec.State != IntentState || !IsIntentKey(rec.BuildARN) {
		return Intent{}, fmt.Errorf("item %s is not an intent (state %q)", rec.BuildARN, rec.State)
	}
	in := Intent{
		ExecutionARN: rec.ExecutionARN, MapIndex: rec.MapIndex, BuildID: rec.BuildID,
		Account: rec.Account, Region: rec.Region, Project: rec.Project, RoleARN: rec.RoleARN,
		CreatedAt: rec.CreatedAt, ExpiresAt: rec.ExpiresAt,
	}
	nums := map[string]*int64{}
	for _, a := range []string{attrAttempt, attrAttemptAt, attrCancelledAt} {
		av, ok := item[a]
		if !ok {
			continue
		}
		n, ok := av.(*types.AttributeValueMemberN)
		if !ok {
			return Intent{}, fmt.Errorf("intent %s: attribute %s: want a number, got %T", rec.BuildARN, a, av)
		}
		v, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return Intent{}, fmt.Errorf("intent %s: attribute %s: %w", rec.BuildARN, a, err)
		}
		nums[a] = &v
	}
	if v := nums[attrAttempt]; v != nil {
		if *v < 0 || *v > 1<<20 {
			return Intent{}, fmt.Errorf("intent %s: attribute %s: %d is out of range", rec.BuildARN, attrAttempt, *v)
		}
		in.Attempt = int(*v)
	}
	if v := nums[attrAttemptAt]; v != nil {
		in.AttemptAt = time.UnixMilli(*v).UTC()
	}
	if v := nums[attrCancelledAt]; v != nil {
		in.CancelledAt = time.UnixMilli(*v).UTC()
	}
	if av, ok := item[attrStarted]; ok {
		s, ok := av.(*types.AttributeValueMemberS)
		if !ok {
			return Intent{}, fmt.Errorf("intent %s: attribute %s: want a string, got %T", rec.BuildARN, attrStarted, av)
		}
		in.BuildARN = s.Value
	}
	return in, nil
}
