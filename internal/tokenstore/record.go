package tokenstore

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names of the token table (docs/reference.md, "Token table").
const (
	attrBuildARN     = "buildArn"
	attrBuildID      = "buildId"
	attrTaskToken    = "taskToken"
	attrExecutionARN = "executionArn"
	attrMapIndex     = "mapIndex"
	attrAccount      = "account"
	attrRegion       = "region"
	attrProject      = "project"
	attrRoleARN      = "roleArn"
	attrCompletion   = "completion"
	attrEnvOverrides = "envOverrides"
	attrTraceID      = "traceId"
	attrTraceParent  = "traceParent"
	attrCreatedAt    = "createdAt"
	attrState        = "state"
	attrClaimedAt    = "claimedAt"
	attrClaimOwner   = "claimOwner"
	attrOutcome      = "outcome"
	attrCompletedBy  = "completedBy"
	attrExpiresAt    = "expiresAt"
)

// item is a Record as the table stores it. The attributevalue package maps it to and from
// attributes; what it cannot express on its own stays here: an attribute is left out when it
// carries nothing (an empty executionArn would be an invalid index key, and the open index
// is sparse), times are UTC, createdAt is RFC 3339 text, claimedAt counts milliseconds and
// expiresAt seconds (DynamoDB's TTL), and envOverrides is a list, which keeps the order and,
// unlike a string set, may be empty. Pointers mark the attributes whose zero value is still
// written.
type item struct {
	BuildARN     text    `dynamodbav:"buildArn"`
	BuildID      text    `dynamodbav:"buildId,omitempty"`
	TaskToken    text    `dynamodbav:"taskToken,omitempty"`
	ExecutionARN text    `dynamodbav:"executionArn,omitempty"`
	MapIndex     *whole  `dynamodbav:"mapIndex,omitempty"`
	Account      text    `dynamodbav:"account,omitempty"`
	Region       text    `dynamodbav:"region,omitempty"`
	Project      text    `dynamodbav:"project,omitempty"`
	RoleARN      text    `dynamodbav:"roleArn,omitempty"`
	Completion   text    `dynamodbav:"completion,omitempty"`
	EnvOverrides *[]text `dynamodbav:"envOverrides,omitempty"`
	TraceID      text    `dynamodbav:"traceId,omitempty"`
	TraceParent  text    `dynamodbav:"traceParent,omitempty"`
	CreatedAt    text    `dynamodbav:"createdAt,omitempty"`
	State        text    `dynamodbav:"state,omitempty"`
	ClaimedAt    *whole  `dynamodbav:"claimedAt,omitempty"`
	ClaimOwner   text    `dynamodbav:"claimOwner,omitempty"`
	Outcome      text    `dynamodbav:"outcome,omitempty"`
	CompletedBy  text    `dynamodbav:"completedBy,omitempty"`
	ExpiresAt    *whole  `dynamodbav:"expiresAt,omitempty"`
}

// text and whole are read strictly: attributevalue alone would read a number or a null into
// a string field, or a string into a time, without complaint, and a record like that is
// better refused than half understood.
type (
	text  string
	whole int64
)

func (t *text) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	s, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		return fmt.Errorf("want a string, got %T", av)
	}
	*t = text(s.Value)
	return nil
}

func (w *whole) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		return fmt.Errorf("want a number, got %T", av)
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return err
	}
	*w = whole(v)
	return nil
}

// decoder hands each member of a string set to text on its own.
var decoder = attributevalue.NewDecoder(func(o *attributevalue.DecoderOptions) {
	o.FixUnmarshalIndividualSetValues = true
})

// marshal turns rec into a DynamoDB item. mapIndex is written whenever it can mean
// something: with an execution ARN, or when it is not zero.
func marshal(rec Record) map[string]types.AttributeValue {
	it := item{
		BuildARN: text(rec.BuildARN), BuildID: text(rec.BuildID), TaskToken: text(rec.TaskToken),
		ExecutionARN: text(rec.ExecutionARN), Account: text(rec.Account), Region: text(rec.Region),
		Project: text(rec.Project), RoleARN: text(rec.RoleARN), Completion: text(rec.Completion),
		TraceID: text(rec.TraceID), TraceParent: text(rec.TraceParent), State: text(rec.State),
		ClaimOwner: text(rec.ClaimOwner), Outcome: text(rec.Outcome), CompletedBy: text(rec.CompletedBy),
	}
	if rec.ExecutionARN != "" || rec.MapIndex != 0 {
		it.MapIndex = ptr(whole(rec.MapIndex))
	}
	if rec.EnvOverrides != nil {
		names := make([]text, len(rec.EnvOverrides))
		for i, n := range rec.EnvOverrides {
			names[i] = text(n)
		}
		it.EnvOverrides = &names
	}
	if !rec.CreatedAt.IsZero() {
		it.CreatedAt = text(rec.CreatedAt.UTC().Format(time.RFC3339Nano))
	}
	if !rec.ClaimedAt.IsZero() {
		it.ClaimedAt = ptr(whole(rec.ClaimedAt.UnixMilli()))
	}
	if !rec.ExpiresAt.IsZero() {
		it.ExpiresAt = ptr(whole(rec.ExpiresAt.Unix()))
	}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		// Every field is a string, a whole number or a list of strings: encoding cannot fail.
		panic(fmt.Sprintf("encode token record %s: %v", rec.BuildARN, err))
	}
	return av
}

// unmarshal reads an item written by marshal. An attribute of an unexpected type is an
// error rather than a silently empty field.
func unmarshal(av map[string]types.AttributeValue) (Record, error) {
	for name, v := range av {
		// marshal never writes a null; pointers would read one as an absent attribute.
		if _, null := v.(*types.AttributeValueMemberNULL); null || v == nil {
			return Record{}, fmt.Errorf("token record %s: attribute %s: want a value, got null", buildARNOf(av), name)
		}
	}
	var it item
	if err := decoder.Decode(&types.AttributeValueMemberM{Value: av}, &it); err != nil {
		return Record{}, fmt.Errorf("token record %s: %w", buildARNOf(av), err)
	}
	rec := Record{
		BuildARN: string(it.BuildARN), BuildID: string(it.BuildID), TaskToken: string(it.TaskToken),
		ExecutionARN: string(it.ExecutionARN), Account: string(it.Account), Region: string(it.Region),
		Project: string(it.Project), RoleARN: string(it.RoleARN), Completion: string(it.Completion),
		TraceID: string(it.TraceID), TraceParent: string(it.TraceParent), State: State(it.State),
		ClaimOwner: string(it.ClaimOwner), Outcome: string(it.Outcome), CompletedBy: string(it.CompletedBy),
	}
	fail := func(attr string, err error) (Record, error) {
		return Record{}, fmt.Errorf("token record %s: attribute %s: %w", rec.BuildARN, attr, err)
	}
	if it.MapIndex != nil {
		// Map indexes are small; the bound keeps the int conversion safe on every platform.
		if *it.MapIndex < math.MinInt32 || *it.MapIndex > math.MaxInt32 {
			return fail(attrMapIndex, fmt.Errorf("%d is out of range", *it.MapIndex))
		}
		rec.MapIndex = int(*it.MapIndex)
	}
	if it.EnvOverrides != nil {
		rec.EnvOverrides = make([]string, len(*it.EnvOverrides))
		for i, n := range *it.EnvOverrides {
			rec.EnvOverrides[i] = string(n)
		}
	}
	if it.CreatedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, string(it.CreatedAt))
		if err != nil {
			return fail(attrCreatedAt, err)
		}
		rec.CreatedAt = t.UTC()
	}
	if it.ClaimedAt != nil {
		rec.ClaimedAt = time.UnixMilli(int64(*it.ClaimedAt)).UTC()
	}
	if it.ExpiresAt != nil {
		rec.ExpiresAt = time.Unix(int64(*it.ExpiresAt), 0).UTC()
	}
	return rec, nil
}

// buildARNOf names an item in an error, when it has a readable key.
func buildARNOf(av map[string]types.AttributeValue) string {
	if s, ok := av[attrBuildARN].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return "(no buildArn)"
}

func ptr[T any](v T) *T { return &v }

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
