package tokenstore

import (
	"fmt"
	"math"
	"strconv"
	"time"

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

// marshal turns rec into a DynamoDB item. Empty strings and zero times are left out so that
// an item never carries a meaningless attribute; in particular an empty executionArn would
// be an invalid index key. mapIndex is written whenever it can mean something: with an
// execution ARN, or when it is not zero.
func marshal(rec Record) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrBuildARN: str(rec.BuildARN),
	}
	putStr := func(name, v string) {
		if v != "" {
			item[name] = str(v)
		}
	}
	putStr(attrBuildID, rec.BuildID)
	putStr(attrTaskToken, rec.TaskToken)
	putStr(attrExecutionARN, rec.ExecutionARN)
	if rec.ExecutionARN != "" || rec.MapIndex != 0 {
		item[attrMapIndex] = num(int64(rec.MapIndex))
	}
	putStr(attrAccount, rec.Account)
	putStr(attrRegion, rec.Region)
	putStr(attrProject, rec.Project)
	putStr(attrRoleARN, rec.RoleARN)
	putStr(attrCompletion, rec.Completion)
	if rec.EnvOverrides != nil {
		// A list keeps the order and, unlike a string set, may be empty.
		names := make([]types.AttributeValue, len(rec.EnvOverrides))
		for i, n := range rec.EnvOverrides {
			names[i] = str(n)
		}
		item[attrEnvOverrides] = &types.AttributeValueMemberL{Value: names}
	}
	putStr(attrTraceID, rec.TraceID)
	putStr(attrTraceParent, rec.TraceParent)
	if !rec.CreatedAt.IsZero() {
		item[attrCreatedAt] = str(rec.CreatedAt.UTC().Format(time.RFC3339Nano))
	}
	putStr(attrState, string(rec.State))
	if !rec.ClaimedAt.IsZero() {
		item[attrClaimedAt] = num(rec.ClaimedAt.UnixMilli())
	}
	putStr(attrClaimOwner, rec.ClaimOwner)
	putStr(attrOutcome, rec.Outcome)
	putStr(attrCompletedBy, rec.CompletedBy)
	if !rec.ExpiresAt.IsZero() {
		item[attrExpiresAt] = num(rec.ExpiresAt.Unix())
	}
	return item
}

// unmarshal reads an item written by marshal. An attribute of an unexpected type is an
// error rather than a silently empty field.
func unmarshal(item map[string]types.AttributeValue) (Record, error) {
	var rec Record
	var err error
	getStr := func(name string, dst *string) {
		if err != nil {
			return
		}
		av, ok := item[name]
		if !ok {
			return
		}
		s, ok := av.(*types.AttributeValueMemberS)
		if !ok {
			err = fmt.Errorf("attribute %s: want a string, got %T", name, av)
			return
		}
		*dst = s.Value
	}
	getInt := func(name string) (int64, bool) {
		if err != nil {
			return 0, false
		}
		av, ok := item[name]
		if !ok {
			return 0, false
		}
		n, ok := av.(*types.AttributeValueMemberN)
		if !ok {
			err = fmt.Errorf("attribute %s: want a number, got %T", name, av)
			return 0, false
		}
		v, perr := strconv.ParseInt(n.Value, 10, 64)
		if perr != nil {
			err = fmt.Errorf("attribute %s: %w", name, perr)
			return 0, false
		}
		return v, true
	}

	getStr(attrBuildARN, &rec.BuildARN)
	getStr(attrBuildID, &rec.BuildID)
	getStr(attrTaskToken, &rec.TaskToken)
	getStr(attrExecutionARN, &rec.ExecutionARN)
	if v, ok := getInt(attrMapIndex); ok {
		// Map indexes are small; the bound keeps the int conversion safe on every platform.
		if v < math.MinInt32 || v > math.MaxInt32 {
			err = fmt.Errorf("attribute %s: %d is out of range", attrMapIndex, v)
		}
		rec.MapIndex = int(v)
	}
	getStr(attrAccount, &rec.Account)
	getStr(attrRegion, &rec.Region)
	getStr(attrProject, &rec.Project)
	getStr(attrRoleARN, &rec.RoleARN)
	getStr(attrCompletion, &rec.Completion)
	if av, ok := item[attrEnvOverrides]; ok && err == nil {
		rec.EnvOverrides, err = stringList(av)
	}
	getStr(attrTraceID, &rec.TraceID)
	getStr(attrTraceParent, &rec.TraceParent)
	var created string
	getStr(attrCreatedAt, &created)
	if created != "" && err == nil {
		t, perr := time.Parse(time.RFC3339Nano, created)
		if perr != nil {
			err = fmt.Errorf("attribute %s: %w", attrCreatedAt, perr)
		}
		rec.CreatedAt = t.UTC()
	}
	var state string
	getStr(attrState, &state)
	rec.State = State(state)
	if v, ok := getInt(attrClaimedAt); ok {
		rec.ClaimedAt = time.UnixMilli(v).UTC()
	}
	getStr(attrClaimOwner, &rec.ClaimOwner)
	getStr(attrOutcome, &rec.Outcome)
	getStr(attrCompletedBy, &rec.CompletedBy)
	if v, ok := getInt(attrExpiresAt); ok {
		rec.ExpiresAt = time.Unix(v, 0).UTC()
	}
	if err != nil {
		return Record{}, fmt.Errorf("token record %s: %w", rec.BuildARN, err)
	}
	return rec, nil
}

func stringList(av types.AttributeValue) ([]string, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberL:
		out := make([]string, len(v.Value))
		for i, e := range v.Value {
			s, ok := e.(*types.AttributeValueMemberS)
			if !ok {
				return nil, fmt.Errorf("attribute %s[%d]: want a string, got %T", attrEnvOverrides, i, e)
			}
			out[i] = s.Value
		}
		return out, nil
	case *types.AttributeValueMemberSS:
		// Accepted for items written by hand; a set has no order.
		return append([]string{}, v.Value...), nil
	default:
		return nil, fmt.Errorf("attribute %s: want a list, got %T", attrEnvOverrides, av)
	}
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
