// Package tokenstore keeps the Step Functions task token of each started build in
// DynamoDB, so that exactly one of the callback and the poller completes it.
//
// A record goes WAITING (written by the starter) -> CLAIMED (a completion is being sent)
// -> COMPLETED. A claim whose sender died can be taken over once its lease has run out,
// and released when the send failed in a way worth retrying. A terminal event that
// arrives before the starter wrote its record is PARKED under the build ARN; the starter
// adopts it instead of waiting for an event that already came.
//
// Every transition is a single conditional write, so the store works against any
// DynamoDB-compatible endpoint without transactions. A claim carries the id of the
// invocation that took it (its owner): when a write is applied but its answer is lost, the
// SDK retries it and the retry fails its own condition; the item read back then shows this
// owner in the state the call would have produced, and the call succeeds after all. The
// task token never appears in an error returned from here.
package tokenstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// State is the lifecycle state of a token record.
type State string

const (
	Waiting   State = "WAITING"
	Claimed   State = "CLAIMED"
	Completed State = "COMPLETED"
	Parked    State = "PARKED"
)

// Table layout shared with the infrastructure code.
const (
	KeyAttribute = attrBuildARN  // partition key of the table
	DefaultIndex = "byExecution" // GSI: executionArn (hash), mapIndex (range)
	TTLAttribute = attrExpiresAt // epoch seconds
)

// Record is one token record.
type Record struct {
	BuildARN     string
	BuildID      string
	TaskToken    string
	ExecutionARN string
	MapIndex     int
	Account      string
	Region       string
	Project      string
	RoleARN      string
	Completion   string   // "event" | "poll"
	EnvOverrides []string // names only, never values
	TraceID      string
	TraceParent  string // starter span in TraceID the build's segment hangs under; empty when not sampled
	CreatedAt    time.Time
	State        State
	ClaimedAt    time.Time // millisecond precision
	ClaimOwner   string    // invocation that holds, or last held, the claim; empty on older records
	Outcome      string    // JSON of a parked terminal result; kept when an owner adopts it
	CompletedBy  string    // "event" | "poll" | "reconciler"
	ExpiresAt    time.Time // TTL, stored as epoch seconds
}

// API is the subset of *dynamodb.Client the store uses.
type API interface {
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Store reads and writes token records in one table.
type Store struct {
	client API
	table  string
	index  string
	now    func() time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock used for claim times and leases (tests move it forward).
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// WithIndex sets the name of the execution index (default DefaultIndex).
func WithIndex(name string) Option {
	return func(s *Store) {
		if name != "" {
			s.index = name
		}
	}
}

// New returns a Store over table.
func New(client API, table string, opts ...Option) *Store {
	s := &Store{client: client, table: table, index: DefaultIndex, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// CreateTableInput describes the token table: on-demand capacity, the build ARN as key, the
// execution index and the sparse index of open records (OpenIndex). TTL and point-in-time
// recovery are set by the infrastructure.
func CreateTableInput(table string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrBuildARN), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrExecutionARN), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrMapIndex), AttributeType: types.ScalarAttributeTypeN},
			{AttributeName: aws.String(attrOpenShard), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrOpenSince), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrBuildARN), KeyType: types.KeyTypeHash},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(DefaultIndex),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrExecutionARN), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrMapIndex), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}, {
			IndexName: aws.String(OpenIndex),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrOpenShard), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrOpenSince), KeyType: types.KeyTypeRange},
			},
			// The reconciler needs whole records (token, role, outcome) of what it lists.
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

// Expression placeholders. Every attribute goes through a name placeholder so that
// reserved words (state, region, ...) never matter.
const (
	condNotExists = "attribute_not_exists(#buildArn)"
	condClaimable = "#state = :waiting OR (#state = :claimed AND #claimedAt < :staleBefore)"
	condOwnClaim  = "#state = :claimed AND #claimedAt = :claimedAt"
	condOwner     = " AND #claimOwner = :owner"
	condNotDone   = "attribute_exists(#buildArn) AND #state <> :completed"
	condParked    = "#state = :parked"
	condRefresh   = "(#state = :waiting OR #state = :claimed) AND #executionArn = :executionArn AND #mapIndex = :mapIndex"
)

// Create writes rec as a new WAITING record. If a record with the same build ARN exists
// it returns *ExistsError holding that record.
func (s *Store) Create(ctx context.Context, rec Record) error {
	const op = "create"
	if rec.BuildARN == "" {
		return emptyKey(op)
	}
	rec.State = Waiting
	item := marshal(rec)
	maps.Copy(item, s.openAttributes(rec))
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String(condNotExists),
		ExpressionAttributeNames: names(attrBuildARN),
	})
	if err != nil {
		return s.existsError(ctx, op, rec.BuildARN, err)
	}
	return nil
}

// Get reads the record of buildARN with a consistent read; *NotFoundError when absent.
func (s *Store) Get(ctx context.Context, buildARN string) (Record, error) {
	const op = "get"
	if buildARN == "" {
		return Record{}, emptyKey(op)
	}
	rec, found, err := s.get(ctx, buildARN)
	if err != nil {
		return Record{}, fmt.Errorf("%s %s: %w", op, buildARN, err)
	}
	if !found {
		return Record{}, &NotFoundError{Key: buildARN}
	}
	return rec, nil
}

// FindByExecution returns the record started by the Map iteration mapIndex of
// executionARN; *NotFoundError when there is none. It reads the execution index, which is
// eventually consistent: a record written a moment ago may not be found yet. Parked
// records carry no execution ARN and are never found here.
func (s *Store) FindByExecution(ctx context.Context, executionARN string, mapIndex int) (Record, error) {
	key := fmt.Sprintf("execution %s map index %d", executionARN, mapIndex)
	if executionARN == "" {
		return Record{}, errors.New("find by execution: empty execution ARN")
	}
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(s.index),
		KeyConditionExpression:   aws.String("#executionArn = :executionArn AND #mapIndex = :mapIndex"),
		ExpressionAttributeNames: names(attrExecutionARN, attrMapIndex),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":executionArn": str(executionARN),
			":mapIndex":     num(int64(mapIndex)),
		},
	})
	if err != nil {
		return Record{}, fmt.Errorf("find %s: %w", key, err)
	}
	var best Record
	found := false
	for _, item := range out.Items {
		if isIntentItem(item) {
			continue // the build's intent, not its record
		}
		rec, err := unmarshal(item)
		if err != nil {
			return Record{}, fmt.Errorf("find %s: %w", key, err)
		}
		// One build per Map iteration is the rule (the StartBuild idempotency token is
		// derived from both); should there be more, the newest one is the live one.
		if !found || rec.CreatedAt.After(best.CreatedAt) {
			best, found = rec, true
		}
	}
	if !found {
		return Record{}, &NotFoundError{Key: key}
	}
	return best, nil
}

// NewOwnerID returns a random id for the claims of one invocation.
func NewOwnerID() string { return rand.Text() }

// Claim is ClaimAs without an owner. Such a claim cannot be told apart from anyone else's,
// so a claim whose answer was lost is reported as a conflict; use ClaimAs.
func (s *Store) Claim(ctx context.Context, buildARN string, lease time.Duration) (Record, error) {
	return s.ClaimAs(ctx, buildARN, "", lease)
}

// ClaimAs moves a WAITING record to CLAIMED by owner (an id unique to the calling
// invocation, see NewOwnerID), or takes over a CLAIMED record whose claim is older than
// lease, and returns the record as claimed. A retried claim that finds the record claimed
// by this very call succeeds. It returns *ConflictError when the record is COMPLETED,
// PARKED or freshly claimed by someone else, *NotFoundError when there is no record.
func (s *Store) ClaimAs(ctx context.Context, buildARN, owner string, lease time.Duration) (Record, error) {
	const op = "claim"
	if buildARN == "" {
		return Record{}, emptyKey(op)
	}
	now := s.now()
	update := "SET #state = :claimed, #claimedAt = :now"
	attrNames := names(attrState, attrClaimedAt)
	values := map[string]types.AttributeValue{
		":waiting":     str(string(Waiting)),
		":claimed":     str(string(Claimed)),
		":now":         num(now.UnixMilli()),
		":staleBefore": num(now.Add(-lease).UnixMilli()),
	}
	if owner != "" {
		update += ", #claimOwner = :owner"
		attrNames["#"+attrClaimOwner] = attrClaimOwner
		values[":owner"] = str(owner)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 key(buildARN),
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String(condClaimable),
		ExpressionAttributeNames:            attrNames,
		ExpressionAttributeValues:           values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return s.settle(ctx, op, buildARN, err, true, func(cur Record) bool {
			return owner != "" && cur.State == Claimed && cur.ClaimOwner == owner && cur.ClaimedAt.UnixMilli() == now.UnixMilli()
		})
	}
	rec, err := unmarshal(out.Attributes)
	if err != nil {
		return Record{}, fmt.Errorf("%s %s: %w", op, buildARN, err)
	}
	return rec, nil
}

// Release puts a claim back to WAITING, so that a later event or poll can send the
// completion. It succeeds only while rec's claim (its time and, when set, its owner) is
// still the current one; otherwise (taken over, completed, or gone) it returns
// *ConflictError. The owner stays on the released record, which is how a retried release
// recognises that it already happened. When rec carries an Outcome (a terminal outcome
// whose send was refused or must wait), it is written onto the record, so whoever claims
// it next can send it without waiting for another event.
func (s *Store) Release(ctx context.Context, rec Record) error {
	const op = "release"
	if rec.BuildARN == "" {
		return emptyKey(op)
	}
	if rec.ClaimedAt.IsZero() {
		// Not a claim at all; nothing was read, so no state is reported.
		return &ConflictError{BuildARN: rec.BuildARN, Op: op}
	}
	cond := condOwnClaim
	attrNames := names(attrState, attrClaimedAt)
	values := map[string]types.AttributeValue{
		":waiting":   str(string(Waiting)),
		":claimed":   str(string(Claimed)),
		":claimedAt": num(rec.ClaimedAt.UnixMilli()),
	}
	if rec.ClaimOwner != "" {
		cond += condOwner
		attrNames["#"+attrClaimOwner] = attrClaimOwner
		values[":owner"] = str(rec.ClaimOwner)
	}
	update := "SET #state = :waiting REMOVE #claimedAt"
	if rec.Outcome != "" {
		update = "SET #state = :waiting, #outcome = :outcome REMOVE #claimedAt"
		attrNames["#"+attrOutcome] = attrOutcome
		values[":outcome"] = str(rec.Outcome)
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 key(rec.BuildARN),
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            attrNames,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		// Only the owner releases its claim, so WAITING under our owner is our release.
		_, err = s.settle(ctx, op, rec.BuildARN, err, false, func(cur Record) bool {
			return rec.ClaimOwner != "" && cur.State == Waiting && cur.ClaimOwner == rec.ClaimOwner
		})
	}
	return err
}

// Complete marks the record COMPLETED by by ("event", "poll" or "reconciler") and takes it
// out of the open index. It returns
// *ConflictError when it is already completed, *NotFoundError when there is no record.
// A completion whose answer was lost is retried and then reported as a conflict in state
// COMPLETED; callers complete after sending, so they read either answer as done.
func (s *Store) Complete(ctx context.Context, buildARN, by string) error {
	const op = "complete"
	if buildARN == "" {
		return emptyKey(op)
	}
	if by == "" {
		return fmt.Errorf("%s %s: empty completedBy", op, buildARN)
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key(buildARN),
		UpdateExpression:         aws.String("SET #state = :completed, #completedBy = :by" + removeOpen),
		ConditionExpression:      aws.String(condNotDone),
		ExpressionAttributeNames: names(attrBuildARN, attrState, attrCompletedBy, attrOpenShard, attrOpenSince),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":completed": str(string(Completed)),
			":by":        str(by),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return s.conditionError(ctx, op, buildARN, err, true)
	}
	return nil
}

// Park stores a terminal outcome that arrived before the starter wrote the record: a
// PARKED item with p's BuildARN, Account, Region, Project, Outcome and ExpiresAt. When a
// record already exists it returns *ExistsError holding it.
func (s *Store) Park(ctx context.Context, p Record) error {
	const op = "park"
	if p.BuildARN == "" {
		return emptyKey(op)
	}
	parked := Record{
		BuildARN:  p.BuildARN,
		Account:   p.Account,
		Region:    p.Region,
		Project:   p.Project,
		Outcome:   p.Outcome,
		ExpiresAt: p.ExpiresAt,
		State:     Parked,
	}
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     marshal(parked),
		ConditionExpression:      aws.String(condNotExists),
		ExpressionAttributeNames: names(attrBuildARN),
	})
	if err != nil {
		return s.existsError(ctx, op, p.BuildARN, err)
	}
	return nil
}

// Adopt turns a PARKED item into the starter's record rec in state CLAIMED (claimed now
// by rec.ClaimOwner), and returns the parked outcome and the record as stored. The caller
// owns the claim and completes or releases it like any other. It returns *ConflictError
// when the item is no longer PARKED (or gone).
//
// With an owner (see NewOwnerID) the parked outcome stays on the record, so a retried
// adoption that finds the record adopted by this very call still returns it. Without one,
// the parked item is replaced as a whole and a lost answer reads as a conflict.
func (s *Store) Adopt(ctx context.Context, rec Record) (outcome string, claimed Record, err error) {
	const op = "adopt"
	if rec.BuildARN == "" {
		return "", Record{}, emptyKey(op)
	}
	if rec.ClaimOwner != "" {
		return s.adoptAs(ctx, rec)
	}
	rec.State = Claimed
	rec.ClaimedAt = s.now()
	rec.Outcome = ""
	rec.CompletedBy = ""
	item := marshal(rec)
	maps.Copy(item, s.openAttributes(rec))
	out, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String(condParked),
		ExpressionAttributeNames: names(attrState),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":parked": str(string(Parked)),
		},
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return "", Record{}, s.conditionError(ctx, op, rec.BuildARN, err, false)
	}
	old, err := unmarshal(out.Attributes)
	if err != nil {
		return "", Record{}, fmt.Errorf("%s %s: parked item: %w", op, rec.BuildARN, err)
	}
	// Read back what was written so the claim time has the stored precision, which
	// Release compares against.
	claimed, err = unmarshal(item)
	if err != nil {
		return "", Record{}, fmt.Errorf("%s %s: %w", op, rec.BuildARN, err)
	}
	return old.Outcome, claimed, nil
}

// adoptAs is Adopt with an owner: an update of the parked item that keeps its outcome.
func (s *Store) adoptAs(ctx context.Context, rec Record) (string, Record, error) {
	const op = "adopt"
	rec.State = Claimed
	rec.ClaimedAt = s.now()
	rec.Outcome = ""
	rec.CompletedBy = ""
	item := marshal(rec)
	maps.Copy(item, s.openAttributes(rec))
	delete(item, attrBuildARN)
	attrs := make([]string, 0, len(item))
	for a := range item {
		attrs = append(attrs, a)
	}
	slices.Sort(attrs) // a stable expression, for readers of the request
	sets := make([]string, len(attrs))
	attrNames := names(attrs...)
	values := map[string]types.AttributeValue{":parked": str(string(Parked))}
	for i, a := range attrs {
		sets[i] = "#" + a + " = :" + a
		values[":"+a] = item[a]
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 key(rec.BuildARN),
		UpdateExpression:                    aws.String("SET " + strings.Join(sets, ", ")),
		ConditionExpression:                 aws.String(condParked),
		ExpressionAttributeNames:            attrNames,
		ExpressionAttributeValues:           values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var claimed Record
	if err == nil {
		claimed, err = unmarshal(out.Attributes)
		if err != nil {
			return "", Record{}, fmt.Errorf("%s %s: %w", op, rec.BuildARN, err)
		}
	} else {
		claimed, err = s.settle(ctx, op, rec.BuildARN, err, false, func(cur Record) bool {
			return cur.State == Claimed && cur.ClaimOwner == rec.ClaimOwner && cur.ClaimedAt.UnixMilli() == rec.ClaimedAt.UnixMilli()
		})
		if err != nil {
			return "", Record{}, err
		}
	}
	return claimed.Outcome, claimed, nil
}

// RefreshToken replaces the task token of a WAITING or CLAIMED record started by the same
// execution and Map iteration, and returns the record as stored: a retried starter
// invocation carries a new token, and the old one is dead. A claimer whose send is refused
// for the old token reads the new one back and sends again. It returns *ConflictError when
// the record is done (COMPLETED, STOPPED), PARKED, belongs to another execution or Map
// iteration, or is gone.
func (s *Store) RefreshToken(ctx context.Context, buildARN, executionARN string, mapIndex int, token string) (Record, error) {
	const op = "refresh token of"
	if buildARN == "" {
		return Record{}, emptyKey(op)
	}
	update := "SET #taskToken = :taskToken"
	values := map[string]types.AttributeValue{
		":waiting":      str(string(Waiting)),
		":claimed":      str(string(Claimed)),
		":executionArn": str(executionARN),
		":mapIndex":     num(int64(mapIndex)),
	}
	if token == "" {
		update = "REMOVE #taskToken" // poll mode keeps no token
	} else {
		values[":taskToken"] = str(token)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 key(buildARN),
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String(condRefresh),
		ExpressionAttributeNames:            names(attrTaskToken, attrState, attrExecutionARN, attrMapIndex),
		ExpressionAttributeValues:           values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return Record{}, s.conditionError(ctx, op, buildARN, err, false)
	}
	rec, err := unmarshal(out.Attributes)
	if err != nil {
		return Record{}, fmt.Errorf("%s %s: %w", op, buildARN, err)
	}
	return rec, nil
}

// getItem reads one item with a consistent read; nil when there is none.
func (s *Store) getItem(ctx context.Context, k string) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(k),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil || len(out.Item) == 0 {
		return nil, err
	}
	return out.Item, nil
}

// get reads one record with a consistent read.
func (s *Store) get(ctx context.Context, buildARN string) (Record, bool, error) {
	item, err := s.getItem(ctx, buildARN)
	if err != nil || item == nil {
		return Record{}, false, err
	}
	rec, err := unmarshal(item)
	if err != nil {
		return Record{}, false, err
	}
	return rec, true, nil
}

// existsError maps the error of a put conditioned on the item's absence. The failed
// condition does not say what is there, so the existing item is read back.
func (s *Store) existsError(ctx context.Context, op, buildARN string, err error) error {
	if !conditionFailed(err) {
		return fmt.Errorf("%s %s: %w", op, buildARN, err)
	}
	existing, found, err := s.get(ctx, buildARN)
	if err != nil {
		return fmt.Errorf("%s %s: read existing record: %w", op, buildARN, err)
	}
	if !found {
		// Deleted between the two calls; the caller may simply try again.
		return &ConflictError{BuildARN: buildARN, Op: op}
	}
	return &ExistsError{Existing: existing}
}

// conditionError maps the error of a conditional update. After a failed condition the
// item is read back to report its state; a missing item is *NotFoundError when
// missingIsNotFound, otherwise a *ConflictError without state.
func (s *Store) conditionError(ctx context.Context, op, buildARN string, err error, missingIsNotFound bool) error {
	_, err = s.settle(ctx, op, buildARN, err, missingIsNotFound, nil)
	return err
}

// settle is conditionError for a write that can recognise its own success: when the item
// read back after a failed condition is one that ours accepts (the state this very call
// produces, under its owner), the write was applied by an earlier attempt whose answer
// was lost, and settle returns that item and no error.
func (s *Store) settle(ctx context.Context, op, buildARN string, err error, missingIsNotFound bool, ours func(Record) bool) (Record, error) {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return Record{}, fmt.Errorf("%s %s: %w", op, buildARN, err)
	}
	current, found, err := s.refused(ctx, buildARN, ccf)
	if err != nil {
		return Record{}, fmt.Errorf("%s %s: read record after failed condition: %w", op, buildARN, err)
	}
	switch {
	case !found && missingIsNotFound:
		return Record{}, &NotFoundError{Key: buildARN}
	case !found:
		return Record{}, &ConflictError{BuildARN: buildARN, Op: op}
	case ours != nil && ours(current):
		return current, nil
	}
	return Record{}, &ConflictError{BuildARN: buildARN, Op: op, State: current.State}
}

// refused returns the item a condition was checked against: the one DynamoDB returns with
// the refusal (ReturnValuesOnConditionCheckFailure), or else, from stores that do not
// return it, a consistent read.
func (s *Store) refused(ctx context.Context, buildARN string, ccf *types.ConditionalCheckFailedException) (Record, bool, error) {
	if len(ccf.Item) == 0 {
		return s.get(ctx, buildARN)
	}
	rec, err := unmarshal(ccf.Item)
	if err != nil {
		return Record{}, false, err
	}
	return rec, true, nil
}

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func emptyKey(op string) error {
	return fmt.Errorf("%s: empty build ARN", op)
}

func key(buildARN string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrBuildARN: str(buildARN)}
}

// names maps "#attr" to attr for each attribute an expression mentions.
func names(attrs ...string) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m["#"+a] = a
	}
	return m
}
