package tokenstore

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	owner      = "OWNER-THIS-INVOCATION"
	otherOwner = "OWNER-ANOTHER-INVOCATION"
)

// claimedBy is a record claimed at claimedAt by who.
func claimedBy(who string, claimedAt time.Time) *Record {
	r := inState(Claimed)
	r.ClaimedAt, r.ClaimOwner = claimedAt, who
	return r
}

// refusedWith is a failed condition whose refusal carries the item, as DynamoDB answers
// with ReturnValuesOnConditionCheckFailure ALL_OLD.
func refusedWith(rec *Record) error {
	return &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed"), Item: marshal(*rec)}
}

// withAllOld checks that a conditional update asks for the refused item.
func withAllOld(next func(*dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error)) func(*dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
	return func(in *dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
		if in.ReturnValuesOnConditionCheckFailure != types.ReturnValuesOnConditionCheckFailureAllOld {
			return nil, errors.New("return values on condition check failure " + string(in.ReturnValuesOnConditionCheckFailure))
		}
		return next(in)
	}
}

func TestClaimAs(t *testing.T) {
	mine := claimedBy(owner, fixedNow)
	var got Record
	claim := func(s *Store) error {
		var err error
		got, err = s.ClaimAs(context.Background(), arn, owner, time.Minute)
		return err
	}
	gotMine := func(t *testing.T, err error) {
		t.Helper()
		noErr(t, err)
		if !reflect.DeepEqual(got, *mine) {
			t.Fatalf("claimed %+v, want %+v", got, *mine)
		}
	}
	runStoreCases(t, []storeCase{
		{
			name: "claims under the owner",
			fake: fakeAPI{update: withAllOld(expectUpdate(
				"SET #state = :claimed, #claimedAt = :now, #claimOwner = :owner",
				"#state = :waiting OR (#state = :claimed AND #claimedAt < :staleBefore)",
				map[string]string{"#state": "state", "#claimedAt": "claimedAt", "#claimOwner": "claimOwner"},
				map[string]types.AttributeValue{
					":waiting":     sv("WAITING"),
					":claimed":     sv("CLAIMED"),
					":now":         nv("1795680000000"),
					":staleBefore": nv("1795679940000"),
					":owner":       sv(owner),
				},
				types.ReturnValueAllNew,
				&dynamodb.UpdateItemOutput{Attributes: marshal(*mine)},
			))},
			run:   claim,
			check: gotMine,
			calls: []string{"UpdateItem"},
		},
		{
			name:  "answer lost: the retry finds this call's claim",
			fake:  fakeAPI{update: failWith(errCCF), get: itemIn(mine)},
			run:   claim,
			check: gotMine,
			calls: []string{"UpdateItem", "GetItem"},
		},
		{
			name:  "answer lost: the refusal carries this call's claim",
			fake:  fakeAPI{update: failWith(refusedWith(mine))},
			run:   claim,
			check: gotMine,
			calls: []string{"UpdateItem"},
		},
		{
			name:  "claimed by another owner",
			fake:  fakeAPI{update: failWith(errCCF), get: itemIn(claimedBy(otherOwner, fixedNow))},
			run:   claim,
			check: conflict("claim", Claimed),
			calls: []string{"UpdateItem", "GetItem"},
		},
		{
			name:  "refusal carries another owner's claim",
			fake:  fakeAPI{update: failWith(refusedWith(claimedBy(otherOwner, fixedNow)))},
			run:   claim,
			check: conflict("claim", Claimed),
			calls: []string{"UpdateItem"},
		},
		{
			name:  "claimed without an owner, as before owners existed",
			fake:  fakeAPI{update: failWith(errCCF), get: itemIn(claimedBy("", fixedNow))},
			run:   claim,
			check: conflict("claim", Claimed),
			calls: []string{"UpdateItem", "GetItem"},
		},
		{
			name:  "same owner, another claim: not this call's write",
			fake:  fakeAPI{update: failWith(errCCF), get: itemIn(claimedBy(owner, fixedNow.Add(-time.Second)))},
			run:   claim,
			check: conflict("claim", Claimed),
			calls: []string{"UpdateItem", "GetItem"},
		},
		{
			name: "completed after this call's claim",
			fake: fakeAPI{update: failWith(errCCF), get: itemIn(func() *Record {
				r := claimedBy(owner, fixedNow)
				r.State = Completed
				return r
			}())},
			run:   claim,
			check: conflict("claim", Completed),
			calls: []string{"UpdateItem", "GetItem"},
		},
		{name: "missing", fake: fakeAPI{update: failWith(errCCF), get: itemIn(nil)}, run: claim, check: notFound(arn), calls: []string{"UpdateItem", "GetItem"}},
	})
}

func TestReleaseWithOwner(t *testing.T) {
	mine := *claimedBy(owner, time.UnixMilli(1795680000123).UTC())
	mine.Outcome = "" // a release after a failed send that carried no outcome
	released := func(who string) *Record {
		r := inState(Waiting)
		r.ClaimedAt, r.ClaimOwner = time.Time{}, who
		return r
	}
	release := func(s *Store) error { return s.Release(context.Background(), mine) }
	runStoreCases(t, []storeCase{
		{
			name: "own claim goes back to WAITING",
			fake: fakeAPI{update: withAllOld(expectUpdate(
				"SET #state = :waiting REMOVE #claimedAt",
				"#state = :claimed AND #claimedAt = :claimedAt AND #claimOwner = :owner",
				map[string]string{"#state": "state", "#claimedAt": "claimedAt", "#claimOwner": "claimOwner"},
				map[string]types.AttributeValue{
					":waiting":   sv("WAITING"),
					":claimed":   sv("CLAIMED"),
					":claimedAt": nv("1795680000123"),
					":owner":     sv(owner),
				},
				"", nil,
			))},
			run:   release,
			check: noErr,
			calls: []string{"UpdateItem"},
		},
		{name: "answer lost: released under this owner", fake: fakeAPI{update: failWith(errCCF), get: itemIn(released(owner))}, run: release, check: noErr, calls: []string{"UpdateItem", "GetItem"}},
		{name: "released by another owner", fake: fakeAPI{update: failWith(errCCF), get: itemIn(released(otherOwner))}, run: release, check: conflict("release", Waiting), calls: []string{"UpdateItem", "GetItem"}},
		{name: "taken over by another owner", fake: fakeAPI{update: failWith(errCCF), get: itemIn(claimedBy(otherOwner, fixedNow))}, run: release, check: conflict("release", Claimed), calls: []string{"UpdateItem", "GetItem"}},
		{name: "missing", fake: fakeAPI{update: failWith(errCCF), get: itemIn(nil)}, run: release, check: conflict("release", ""), calls: []string{"UpdateItem", "GetItem"}},
	})
}

func TestAdoptWithOwner(t *testing.T) {
	const parkedOutcome = `{"status":"FAILED"}`
	rec := *inState(Waiting)
	rec.ClaimedAt = time.Time{}
	rec.ClaimOwner = owner
	rec.Outcome = "not the caller's to set"
	rec.CompletedBy = "poll"
	stored := rec
	stored.State, stored.ClaimedAt, stored.Outcome, stored.CompletedBy = Claimed, fixedNow, parkedOutcome, ""

	var gotOutcome string
	var claimed Record
	adopt := func(s *Store) error {
		var err error
		gotOutcome, claimed, err = s.Adopt(context.Background(), rec)
		return err
	}
	adopted := func(t *testing.T, err error) {
		t.Helper()
		noErr(t, err)
		if gotOutcome != parkedOutcome {
			t.Errorf("outcome = %q, want %q", gotOutcome, parkedOutcome)
		}
		if !reflect.DeepEqual(claimed, stored) {
			t.Errorf("claimed:\n got %+v\nwant %+v", claimed, stored)
		}
	}
	other := stored
	other.ClaimOwner = otherOwner
	runStoreCases(t, []storeCase{
		{
			name: "updates the parked item and keeps its outcome",
			fake: fakeAPI{update: withAllOld(func(in *dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
				written := withOpen(marshal(stored), arn, stored.CreatedAt)
				delete(written, "buildArn")
				delete(written, "outcome")
				if len(in.ExpressionAttributeValues) != len(written)+1 || !reflect.DeepEqual(in.ExpressionAttributeValues[":parked"], sv("PARKED")) {
					return nil, errors.New("values")
				}
				for a, v := range written {
					if !reflect.DeepEqual(in.ExpressionAttributeValues[":"+a], v) || in.ExpressionAttributeNames["#"+a] != a {
						return nil, errors.New("attribute " + a)
					}
				}
				switch {
				case aws.ToString(in.ConditionExpression) != "#state = :parked":
					return nil, errors.New("condition")
				case in.ReturnValues != types.ReturnValueAllNew:
					return nil, errors.New("return values")
				case aws.ToString(in.UpdateExpression) != "SET #account = :account, #buildId = :buildId, #claimOwner = :claimOwner, "+
					"#claimedAt = :claimedAt, #completion = :completion, #createdAt = :createdAt, #envOverrides = :envOverrides, "+
					"#executionArn = :executionArn, #expiresAt = :expiresAt, #mapIndex = :mapIndex, #openShard = :openShard, "+
					"#openSince = :openSince, #project = :project, "+
					"#region = :region, #roleArn = :roleArn, #state = :state, #taskToken = :taskToken, #traceId = :traceId, #traceParent = :traceParent":
					return nil, errors.New("update expression " + aws.ToString(in.UpdateExpression))
				}
				return &dynamodb.UpdateItemOutput{Attributes: marshal(stored)}, nil
			})},
			run:   adopt,
			check: adopted,
			calls: []string{"UpdateItem"},
		},
		{name: "answer lost: the retry finds this call's adoption", fake: fakeAPI{update: failWith(errCCF), get: itemIn(&stored)}, run: adopt, check: adopted, calls: []string{"UpdateItem", "GetItem"}},
		{name: "answer lost: the refusal carries this call's adoption", fake: fakeAPI{update: failWith(refusedWith(&stored))}, run: adopt, check: adopted, calls: []string{"UpdateItem"}},
		{name: "adopted by another owner", fake: fakeAPI{update: failWith(errCCF), get: itemIn(&other)}, run: adopt, check: conflict("adopt", Claimed), calls: []string{"UpdateItem", "GetItem"}},
		{name: "gone", fake: fakeAPI{update: failWith(errCCF), get: itemIn(nil)}, run: adopt, check: conflict("adopt", ""), calls: []string{"UpdateItem", "GetItem"}},
		{name: "throttled", fake: fakeAPI{update: failWith(errThrottle)}, run: adopt, check: throttled("adopt " + arn), calls: []string{"UpdateItem"}},
	})
}

func TestNewOwnerIDIsUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewOwnerID()
		if len(id) < 16 || seen[id] {
			t.Fatalf("owner id %q is short or repeated", id)
		}
		seen[id] = true
	}
}
