package tokenstore

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	table   = "tokens"
	arn     = "arn:aws:codebuild:eu-west-1:222222222222:build/sample:0b1c"
	execARN = "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"
	secret  = "AQBtoken-secret"
)

var fixedNow = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// fakeAPI answers each operation with a scripted function and records every input. It
// serves one goroutine.
type fakeAPI struct {
	calls  []string
	inputs []any

	put    func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error)
	get    func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)
	update func(*dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error)
	query  func(*dynamodb.QueryInput) (*dynamodb.QueryOutput, error)
}

func (f *fakeAPI) record(op string, in any) {
	f.calls = append(f.calls, op)
	f.inputs = append(f.inputs, in)
}

func (f *fakeAPI) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.record("PutItem", in)
	if f.put == nil {
		return &dynamodb.PutItemOutput{}, nil
	}
	return f.put(in)
}

func (f *fakeAPI) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.record("GetItem", in)
	if f.get == nil {
		return &dynamodb.GetItemOutput{}, nil
	}
	return f.get(in)
}

func (f *fakeAPI) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.record("UpdateItem", in)
	if f.update == nil {
		return &dynamodb.UpdateItemOutput{}, nil
	}
	return f.update(in)
}

func (f *fakeAPI) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	f.record("DeleteItem", in)
	return &dynamodb.DeleteItemOutput{}, nil
}

func (f *fakeAPI) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	f.record("Query", in)
	if f.query == nil {
		return &dynamodb.QueryOutput{}, nil
	}
	return f.query(in)
}

var _ API = (*fakeAPI)(nil)
var _ API = (*dynamodb.Client)(nil)

var (
	errCCF      = &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	errThrottle = &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
)

// itemIn returns a GetItem answer holding rec, or no item when rec is nil.
func itemIn(rec *Record) func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
	return func(in *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
		if rec == nil {
			return &dynamodb.GetItemOutput{}, nil
		}
		return &dynamodb.GetItemOutput{Item: marshal(*rec)}, nil
	}
}

func inState(st State) *Record {
	r := fullRecord()
	r.BuildARN = arn
	r.TaskToken = secret
	r.State = st
	return &r
}

func failWith(err error) func(*dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
	return func(*dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) { return nil, err }
}

func putFailWith(err error) func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
	return func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) { return nil, err }
}

// errCheck asserts the kind of error an operation returned.
type errCheck func(t *testing.T, err error)

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func notFound(key string) errCheck {
	return func(t *testing.T, err error) {
		t.Helper()
		var nf *NotFoundError
		if !errors.As(err, &nf) || nf.Key != key {
			t.Fatalf("error = %v, want *NotFoundError{%q}", err, key)
		}
	}
}

func conflict(op string, st State) errCheck {
	return func(t *testing.T, err error) {
		t.Helper()
		var ce *ConflictError
		if !errors.As(err, &ce) || ce.Op != op || ce.State != st || ce.BuildARN != arn {
			t.Fatalf("error = %#v (%v), want *ConflictError{%s, %q, %q}", err, err, arn, op, st)
		}
	}
}

func exists(st State) errCheck {
	return func(t *testing.T, err error) {
		t.Helper()
		var ee *ExistsError
		if !errors.As(err, &ee) || ee.Existing.State != st || ee.Existing.BuildARN != arn {
			t.Fatalf("error = %v, want *ExistsError in state %s", err, st)
		}
	}
}

// throttled asserts an SDK error passed through with context and no store error type.
func throttled(prefix string) errCheck {
	return func(t *testing.T, err error) {
		t.Helper()
		var pt *types.ProvisionedThroughputExceededException
		if !errors.As(err, &pt) {
			t.Fatalf("error = %v, want a wrapped ProvisionedThroughputExceededException", err)
		}
		if !strings.HasPrefix(err.Error(), prefix) {
			t.Fatalf("error %q does not start with %q", err, prefix)
		}
		var nf *NotFoundError
		var ce *ConflictError
		var ee *ExistsError
		if errors.As(err, &nf) || errors.As(err, &ce) || errors.As(err, &ee) {
			t.Fatalf("throttling reported as a store outcome: %v", err)
		}
	}
}

func anyErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("want an error, got nil")
	}
}

type storeCase struct {
	name  string
	fake  fakeAPI
	run   func(s *Store) error
	check errCheck
	calls []string
}

func runStoreCases(t *testing.T, tests []storeCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &tc.fake
			s := New(f, table, WithClock(func() time.Time { return fixedNow }))
			err := tc.run(s)
			tc.check(t, err)
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Fatalf("error message leaks the task token: %v", err)
			}
			if !reflect.DeepEqual(f.calls, tc.calls) {
				t.Fatalf("calls = %v, want %v", f.calls, tc.calls)
			}
			for i, in := range f.inputs {
				checkCommon(t, f.calls[i], in)
			}
		})
	}
}

// checkCommon asserts what every request must carry: the table, and consistent reads.
func checkCommon(t *testing.T, op string, in any) {
	t.Helper()
	var tbl *string
	switch v := in.(type) {
	case *dynamodb.PutItemInput:
		tbl = v.TableName
	case *dynamodb.GetItemInput:
		tbl = v.TableName
		if !aws.ToBool(v.ConsistentRead) {
			t.Errorf("%s without ConsistentRead", op)
		}
		if !reflect.DeepEqual(v.Key, key(arn)) {
			t.Errorf("%s key = %#v", op, v.Key)
		}
	case *dynamodb.UpdateItemInput:
		tbl = v.TableName
		if !reflect.DeepEqual(v.Key, key(arn)) {
			t.Errorf("%s key = %#v", op, v.Key)
		}
	case *dynamodb.QueryInput:
		tbl = v.TableName
	}
	if aws.ToString(tbl) != table {
		t.Errorf("%s table = %q, want %q", op, aws.ToString(tbl), table)
	}
}

func TestCreate(t *testing.T) {
	rec := *inState(Completed) // Create forces WAITING whatever the caller passed
	runStoreCases(t, []storeCase{
		{
			name: "writes a WAITING record if none exists",
			fake: fakeAPI{put: func(in *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
				if got := aws.ToString(in.ConditionExpression); got != "attribute_not_exists(#buildArn)" {
					return nil, errors.New("condition " + got)
				}
				if !reflect.DeepEqual(in.ExpressionAttributeNames, map[string]string{"#buildArn": "buildArn"}) {
					return nil, errors.New("names")
				}
				want := rec
				want.State = Waiting
				if !reflect.DeepEqual(in.Item, withOpen(marshal(want), arn, rec.CreatedAt)) {
					return nil, errors.New("item")
				}
				return &dynamodb.PutItemOutput{}, nil
			}},
			run:   func(s *Store) error { return s.Create(context.Background(), rec) },
			check: noErr,
			calls: []string{"PutItem"},
		},
		{
			name:  "existing record is read back",
			fake:  fakeAPI{put: putFailWith(errCCF), get: itemIn(inState(Parked))},
			run:   func(s *Store) error { return s.Create(context.Background(), rec) },
			check: exists(Parked),
			calls: []string{"PutItem", "GetItem"},
		},
		{
			name:  "existing record vanished before the read",
			fake:  fakeAPI{put: putFailWith(errCCF), get: itemIn(nil)},
			run:   func(s *Store) error { return s.Create(context.Background(), rec) },
			check: conflict("create", ""),
			calls: []string{"PutItem", "GetItem"},
		},
		{
			name: "read back throttled",
			fake: fakeAPI{put: putFailWith(errCCF), get: func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				return nil, errThrottle
			}},
			run:   func(s *Store) error { return s.Create(context.Background(), rec) },
			check: throttled("create " + arn),
			calls: []string{"PutItem", "GetItem"},
		},
		{
			name:  "throttled",
			fake:  fakeAPI{put: putFailWith(errThrottle)},
			run:   func(s *Store) error { return s.Create(context.Background(), rec) },
			check: throttled("create " + arn),
			calls: []string{"PutItem"},
		},
		{
			name:  "empty build ARN is refused before any call",
			run:   func(s *Store) error { return s.Create(context.Background(), Record{TaskToken: secret}) },
			check: anyErr,
		},
	})
}

func TestGet(t *testing.T) {
	var got Record
	runStoreCases(t, []storeCase{
		{
			name: "found",
			fake: fakeAPI{get: itemIn(inState(Waiting))},
			run: func(s *Store) error {
				var err error
				got, err = s.Get(context.Background(), arn)
				return err
			},
			check: func(t *testing.T, err error) {
				noErr(t, err)
				if !reflect.DeepEqual(got, *inState(Waiting)) {
					t.Fatalf("Get = %+v", got)
				}
			},
			calls: []string{"GetItem"},
		},
		{
			name:  "absent",
			fake:  fakeAPI{get: itemIn(nil)},
			run:   func(s *Store) error { _, err := s.Get(context.Background(), arn); return err },
			check: notFound(arn),
			calls: []string{"GetItem"},
		},
		{
			name: "malformed item",
			fake: fakeAPI{get: func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				return &dynamodb.GetItemOutput{Item: map[string]types.AttributeValue{
					"buildArn": &types.AttributeValueMemberS{Value: arn},
					"mapIndex": &types.AttributeValueMemberS{Value: "x"},
				}}, nil
			}},
			run:   func(s *Store) error { _, err := s.Get(context.Background(), arn); return err },
			check: anyErr,
			calls: []string{"GetItem"},
		},
		{
			name: "throttled",
			fake: fakeAPI{get: func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				return nil, errThrottle
			}},
			run:   func(s *Store) error { _, err := s.Get(context.Background(), arn); return err },
			check: throttled("get " + arn),
			calls: []string{"GetItem"},
		},
	})
}

func TestFindByExecution(t *testing.T) {
	older, newer := *inState(Completed), *inState(Waiting)
	older.CreatedAt = fixedNow.Add(-time.Hour)
	newer.CreatedAt = fixedNow
	var got Record
	find := func(opts ...Option) func(s *Store) error {
		return func(s *Store) error {
			for _, o := range opts {
				o(s)
			}
			var err error
			got, err = s.FindByExecution(context.Background(), execARN, 3)
			return err
		}
	}
	answer := func(index string, items ...Record) func(*dynamodb.QueryInput) (*dynamodb.QueryOutput, error) {
		return func(in *dynamodb.QueryInput) (*dynamodb.QueryOutput, error) {
			if aws.ToString(in.IndexName) != index {
				return nil, errors.New("index " + aws.ToString(in.IndexName))
			}
			if got := aws.ToString(in.KeyConditionExpression); got != "#executionArn = :executionArn AND #mapIndex = :mapIndex" {
				return nil, errors.New("key condition " + got)
			}
			if !reflect.DeepEqual(in.ExpressionAttributeNames, map[string]string{"#executionArn": "executionArn", "#mapIndex": "mapIndex"}) {
				return nil, errors.New("names")
			}
			if !reflect.DeepEqual(in.ExpressionAttributeValues, map[string]types.AttributeValue{
				":executionArn": &types.AttributeValueMemberS{Value: execARN},
				":mapIndex":     &types.AttributeValueMemberN{Value: "3"},
			}) {
				return nil, errors.New("values")
			}
			out := &dynamodb.QueryOutput{}
			for _, r := range items {
				out.Items = append(out.Items, marshal(r))
			}
			return out, nil
		}
	}
	wantGot := func(want Record) errCheck {
		return func(t *testing.T, err error) {
			noErr(t, err)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("found %+v, want %+v", got, want)
			}
		}
	}
	runStoreCases(t, []storeCase{
		{name: "one item", fake: fakeAPI{query: answer("byExecution", newer)}, run: find(), check: wantGot(newer), calls: []string{"Query"}},
		{name: "newest of several", fake: fakeAPI{query: answer("byExecution", newer, older)}, run: find(), check: wantGot(newer), calls: []string{"Query"}},
		{name: "other index name", fake: fakeAPI{query: answer("custom", older)}, run: find(WithIndex("custom")), check: wantGot(older), calls: []string{"Query"}},
		{name: "none", fake: fakeAPI{query: answer("byExecution")}, run: find(), check: notFound("execution " + execARN + " map index 3"), calls: []string{"Query"}},
		{
			name:  "throttled",
			fake:  fakeAPI{query: func(*dynamodb.QueryInput) (*dynamodb.QueryOutput, error) { return nil, errThrottle }},
			run:   find(),
			check: throttled("find execution " + execARN),
			calls: []string{"Query"},
		},
		{
			name:  "empty execution ARN is refused before any call",
			run:   func(s *Store) error { _, err := s.FindByExecution(context.Background(), "", 0); return err },
			check: anyErr,
		},
	})
}

// expectUpdate checks an UpdateItem request and answers it with out.
func expectUpdate(update, cond string, names map[string]string, values map[string]types.AttributeValue, rv types.ReturnValue, out *dynamodb.UpdateItemOutput) func(*dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
	return func(in *dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
		switch {
		case aws.ToString(in.UpdateExpression) != update:
			return nil, errors.New("update expression " + aws.ToString(in.UpdateExpression))
		case aws.ToString(in.ConditionExpression) != cond:
			return nil, errors.New("condition " + aws.ToString(in.ConditionExpression))
		case !reflect.DeepEqual(in.ExpressionAttributeNames, names):
			return nil, errors.New("names")
		case !reflect.DeepEqual(in.ExpressionAttributeValues, values):
			return nil, errors.New("values")
		case in.ReturnValues != rv:
			return nil, errors.New("return values " + string(in.ReturnValues))
		}
		if out == nil {
			out = &dynamodb.UpdateItemOutput{}
		}
		return out, nil
	}
}

func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func nv(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func TestClaim(t *testing.T) {
	claimedRec := inState(Claimed)
	claimedRec.ClaimedAt = fixedNow
	var got Record
	claim := func(s *Store) error {
		var err error
		got, err = s.Claim(context.Background(), arn, time.Minute)
		return err
	}
	runStoreCases(t, []storeCase{
		{
			name: "claims and returns the new record",
			fake: fakeAPI{update: expectUpdate(
				"SET #state = :claimed, #claimedAt = :now",
				"#state = :waiting OR (#state = :claimed AND #claimedAt < :staleBefore)",
				map[string]string{"#state": "state", "#claimedAt": "claimedAt"},
				map[string]types.AttributeValue{
					":waiting":     sv("WAITING"),
					":claimed":     sv("CLAIMED"),
					":now":         nv("1795680000000"),
					":staleBefore": nv("1795679940000"),
				},
				types.ReturnValueAllNew,
				&dynamodb.UpdateItemOutput{Attributes: marshal(*claimedRec)},
			)},
			run: claim,
			check: func(t *testing.T, err error) {
				noErr(t, err)
				if !reflect.DeepEqual(got, *claimedRec) {
					t.Fatalf("claimed %+v", got)
				}
			},
			calls: []string{"UpdateItem"},
		},
		{name: "completed", fake: fakeAPI{update: failWith(errCCF), get: itemIn(inState(Completed))}, run: claim, check: conflict("claim", Completed), calls: []string{"UpdateItem", "GetItem"}},
		{name: "parked", fake: fakeAPI{update: failWith(errCCF), get: itemIn(inState(Parked))}, run: claim, check: conflict("claim", Parked), calls: []string{"UpdateItem", "GetItem"}},
		{name: "claimed by another", fake: fakeAPI{update: failWith(errCCF), get: itemIn(inState(Claimed))}, run: claim, check: conflict("claim", Claimed), calls: []string{"UpdateItem", "GetItem"}},
		{name: "missing", fake: fakeAPI{update: failWith(errCCF), get: itemIn(nil)}, run: claim, check: notFound(arn), calls: []string{"UpdateItem", "GetItem"}},
		{name: "throttled", fake: fakeAPI{update: failWith(errThrottle)}, run: claim, check: throttled("claim " + arn), calls: []string{"UpdateItem"}},
		{
			name: "read after failed condition throttled",
			fake: fakeAPI{update: failWith(errCCF), get: func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				return nil, errThrottle
			}},
			run:   claim,
			check: throttled("claim " + arn),
			calls: []string{"UpdateItem", "GetItem"},
		},
	})
}

func TestRelease(t *testing.T) {
	mine := *inState(Claimed)
	mine.ClaimedAt = time.UnixMilli(1795680000123).UTC()
	withOutcome := mine
	withOutcome.Outcome = `{"status":"SUCCEEDED"}`
	mine.Outcome = ""
	unclaimed := *inState(Waiting)
	unclaimed.ClaimedAt = time.Time{}
	release := func(rec Record) func(s *Store) error {
		return func(s *Store) error { return s.Release(context.Background(), rec) }
	}
	runStoreCases(t, []storeCase{
		{
			name: "own claim goes back to WAITING",
			fake: fakeAPI{update: expectUpdate(
				"SET #state = :waiting REMOVE #claimedAt",
				"#state = :claimed AND #claimedAt = :claimedAt",
				map[string]string{"#state": "state", "#claimedAt": "claimedAt"},
				map[string]types.AttributeValue{
					":waiting":   sv("WAITING"),
					":claimed":   sv("CLAIMED"),
					":claimedAt": nv("1795680000123"),
				},
				"", nil,
			)},
			run:   release(mine),
			check: noErr,
			calls: []string{"UpdateItem"},
		},
		{
			name: "a terminal outcome is kept on the record",
			fake: fakeAPI{update: expectUpdate(
				"SET #state = :waiting, #outcome = :outcome REMOVE #claimedAt",
				"#state = :claimed AND #claimedAt = :claimedAt",
				map[string]string{"#state": "state", "#claimedAt": "claimedAt", "#outcome": "outcome"},
				map[string]types.AttributeValue{
					":waiting":   sv("WAITING"),
					":claimed":   sv("CLAIMED"),
					":claimedAt": nv("1795680000123"),
					":outcome":   sv(`{"status":"SUCCEEDED"}`),
				},
				"", nil,
			)},
			run:   release(withOutcome),
			check: noErr,
			calls: []string{"UpdateItem"},
		},
		{name: "taken over", fake: fakeAPI{update: failWith(errCCF), get: itemIn(inState(Claimed))}, run: release(mine), check: conflict("release", Claimed), calls: []string{"UpdateItem", "GetItem"}},
		{name: "completed", fake: fakeAPI{update: failWith(errCCF), get: itemIn(inState(Completed))}, run: release(mine), check: conflict("release", Completed), calls: []string{"UpdateItem", "GetItem"}},
		{name: "missing", fake: fakeAPI{update: failWith(errCCF), get: itemIn(nil)}, run: release(mine), check: conflict("release", ""), calls: []string{"UpdateItem", "GetItem"}},
		{name: "never claimed", run: release(unclaimed), check: conflict("release", "")},
		{name: "throttled", fake: fakeAPI{update: failWith(errThrottle)}, run: release(mine), check: throttled("release " + arn), calls: []string{"UpdateItem"}},
	})
}

func TestComplete(t *testing.T) {
	complete := func(s *Store) error { return s.Complete(context.Background(), arn, "event") }
	runStoreCases(t, []storeCase{
		{
			name: "completes",
			fake: fakeAPI{update: expectUpdate(
				"SET #state = :completed, #completedBy = :by REMOVE #openShard, #openSince",
				"attribute_exists(#buildArn) AND #state <> :completed",
				map[string]string{"#buildArn": "buildArn", "#state": "state", "#completedBy": "completedBy",
					"#openShard": "openShard", "#openSince": "openSince"},
				map[string]types.AttributeValue{":completed": sv("COMPLETED"), ":by": sv("event")},
				"", nil,
			)},
			run:   complete,
			check: noErr,
			calls: []string{"UpdateItem"},
		},
		{name: "already completed", fake: fakeAPI{update: failWith(errCCF), get: itemIn(inState(Completed))}, run: complete, check: conflict("complete", Completed), calls: []string{"UpdateItem", "GetItem"}},
		{name: "missing", fake: fakeAPI{update: failWith(errCCF), get: itemIn(nil)}, run: complete, check: notFound(arn), calls: []string{"UpdateItem", "GetItem"}},
		{name: "throttled", fake: fakeAPI{update: failWith(errThrottle)}, run: complete, check: throttled("complete " + arn), calls: []string{"UpdateItem"}},
		{name: "empty completedBy", run: func(s *Store) error { return s.Complete(context.Background(), arn, "") }, check: anyErr},
	})
}

func TestPark(t *testing.T) {
	p := fullRecord() // carries fields Park must not store
	p.BuildARN = arn
	p.TaskToken = secret
	park := func(s *Store) error { return s.Park(context.Background(), p) }
	runStoreCases(t, []storeCase{
		{
			name: "stores only the parked fields",
			fake: fakeAPI{put: func(in *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
				want := marshal(Record{BuildARN: arn, Account: p.Account, Region: p.Region, Project: p.Project,
					Outcome: p.Outcome, ExpiresAt: p.ExpiresAt, State: Parked})
				if !reflect.DeepEqual(in.Item, want) {
					return nil, errors.New("item")
				}
				if aws.ToString(in.ConditionExpression) != "attribute_not_exists(#buildArn)" {
					return nil, errors.New("condition")
				}
				return &dynamodb.PutItemOutput{}, nil
			}},
			run:   park,
			check: noErr,
			calls: []string{"PutItem"},
		},
		{name: "record exists", fake: fakeAPI{put: putFailWith(errCCF), get: itemIn(inState(Waiting))}, run: park, check: exists(Waiting), calls: []string{"PutItem", "GetItem"}},
		{name: "throttled", fake: fakeAPI{put: putFailWith(errThrottle)}, run: park, check: throttled("park " + arn), calls: []string{"PutItem"}},
	})
}

func TestAdopt(t *testing.T) {
	rec := *inState(Waiting)
	rec.Outcome = "must not be stored"
	rec.CompletedBy = "poll"
	want := rec
	want.State, want.ClaimedAt, want.Outcome, want.CompletedBy = Claimed, fixedNow, "", ""
	parked := Record{BuildARN: arn, State: Parked, Outcome: `{"status":"FAILED"}`}

	var outcome string
	var claimed Record
	adopt := func(s *Store) error {
		var err error
		outcome, claimed, err = s.Adopt(context.Background(), rec)
		return err
	}
	runStoreCases(t, []storeCase{
		{
			name: "replaces the parked item",
			fake: fakeAPI{put: func(in *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
				switch {
				case !reflect.DeepEqual(in.Item, withOpen(marshal(want), arn, rec.CreatedAt)):
					return nil, errors.New("item")
				case aws.ToString(in.ConditionExpression) != "#state = :parked":
					return nil, errors.New("condition")
				case !reflect.DeepEqual(in.ExpressionAttributeNames, map[string]string{"#state": "state"}):
					return nil, errors.New("names")
				case !reflect.DeepEqual(in.ExpressionAttributeValues, map[string]types.AttributeValue{":parked": sv("PARKED")}):
					return nil, errors.New("values")
				case in.ReturnValues != types.ReturnValueAllOld:
					return nil, errors.New("return values")
				}
				return &dynamodb.PutItemOutput{Attributes: marshal(parked)}, nil
			}},
			run: adopt,
			check: func(t *testing.T, err error) {
				noErr(t, err)
				if outcome != parked.Outcome {
					t.Errorf("outcome = %q, want %q", outcome, parked.Outcome)
				}
				if !reflect.DeepEqual(claimed, want) {
					t.Errorf("claimed = %+v, want %+v", claimed, want)
				}
			},
			calls: []string{"PutItem"},
		},
		{name: "no longer parked", fake: fakeAPI{put: putFailWith(errCCF), get: itemIn(inState(Claimed))}, run: adopt, check: conflict("adopt", Claimed), calls: []string{"PutItem", "GetItem"}},
		{name: "gone", fake: fakeAPI{put: putFailWith(errCCF), get: itemIn(nil)}, run: adopt, check: conflict("adopt", ""), calls: []string{"PutItem", "GetItem"}},
		{name: "throttled", fake: fakeAPI{put: putFailWith(errThrottle)}, run: adopt, check: throttled("adopt " + arn), calls: []string{"PutItem"}},
	})
}

func TestRefreshToken(t *testing.T) {
	const newToken = "AQBnew-token-secret"
	refresh := func(token string) func(s *Store) error {
		return func(s *Store) error {
			_, err := s.RefreshToken(context.Background(), arn, execARN, 3, token)
			return err
		}
	}
	names := map[string]string{"#taskToken": "taskToken", "#state": "state", "#executionArn": "executionArn", "#mapIndex": "mapIndex"}
	cond := "(#state = :waiting OR #state = :claimed) AND #executionArn = :executionArn AND #mapIndex = :mapIndex"
	stored := &dynamodb.UpdateItemOutput{Attributes: marshal(*inState(Claimed))}
	runStoreCases(t, []storeCase{
		{
			name: "replaces the token",
			fake: fakeAPI{update: expectUpdate("SET #taskToken = :taskToken", cond, names,
				map[string]types.AttributeValue{
					":waiting": sv("WAITING"), ":claimed": sv("CLAIMED"), ":executionArn": sv(execARN), ":mapIndex": nv("3"), ":taskToken": sv(newToken),
				}, types.ReturnValueAllNew, stored)},
			run:   refresh(newToken),
			check: noErr,
			calls: []string{"UpdateItem"},
		},
		{
			name: "an empty token removes it",
			fake: fakeAPI{update: expectUpdate("REMOVE #taskToken", cond, names,
				map[string]types.AttributeValue{
					":waiting": sv("WAITING"), ":claimed": sv("CLAIMED"), ":executionArn": sv(execARN), ":mapIndex": nv("3"),
				}, types.ReturnValueAllNew, stored)},
			run:   refresh(""),
			check: noErr,
			calls: []string{"UpdateItem"},
		},
		{
			name: "refused: wrong execution or state",
			fake: fakeAPI{update: failWith(errCCF), get: itemIn(inState(Waiting))},
			run:  refresh(newToken),
			check: func(t *testing.T, err error) {
				conflict("refresh token of", Waiting)(t, err)
				if strings.Contains(err.Error(), newToken) {
					t.Fatalf("error leaks the new token: %v", err)
				}
			},
			calls: []string{"UpdateItem", "GetItem"},
		},
		{name: "gone", fake: fakeAPI{update: failWith(errCCF), get: itemIn(nil)}, run: refresh(newToken), check: conflict("refresh token of", ""), calls: []string{"UpdateItem", "GetItem"}},
		{name: "throttled", fake: fakeAPI{update: failWith(errThrottle)}, run: refresh(newToken), check: throttled("refresh token of " + arn), calls: []string{"UpdateItem"}},
	})
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&NotFoundError{Key: arn}, "token record not found: " + arn},
		{&ExistsError{Existing: *inState(Parked)}, "token record " + arn + " already exists in state PARKED"},
		{&ConflictError{BuildARN: arn, Op: "claim", State: Completed}, "claim " + arn + ": token record is COMPLETED"},
		{&ConflictError{BuildARN: arn, Op: "release"}, "release " + arn + ": token record is not in a state that allows it"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if strings.Contains(tc.err.Error(), secret) {
			t.Errorf("%q leaks the task token", tc.err)
		}
	}
}

func TestCreateTableInput(t *testing.T) {
	in := CreateTableInput("tokens")
	if aws.ToString(in.TableName) != "tokens" || in.BillingMode != types.BillingModePayPerRequest {
		t.Fatalf("table %q billing %s", aws.ToString(in.TableName), in.BillingMode)
	}
	if len(in.KeySchema) != 1 || aws.ToString(in.KeySchema[0].AttributeName) != "buildArn" || in.KeySchema[0].KeyType != types.KeyTypeHash {
		t.Fatalf("key schema %+v", in.KeySchema)
	}
	if len(in.GlobalSecondaryIndexes) != 2 {
		t.Fatalf("indexes %+v", in.GlobalSecondaryIndexes)
	}
	gsi := in.GlobalSecondaryIndexes[0]
	if aws.ToString(gsi.IndexName) != "byExecution" || gsi.Projection.ProjectionType != types.ProjectionTypeAll {
		t.Fatalf("index %+v", gsi)
	}
	wantKeys := []types.KeySchemaElement{
		{AttributeName: aws.String("executionArn"), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String("mapIndex"), KeyType: types.KeyTypeRange},
	}
	if !reflect.DeepEqual(gsi.KeySchema, wantKeys) {
		t.Fatalf("index keys %+v", gsi.KeySchema)
	}
	defs := map[string]types.ScalarAttributeType{}
	for _, d := range in.AttributeDefinitions {
		defs[aws.ToString(d.AttributeName)] = d.AttributeType
	}
	if !reflect.DeepEqual(defs, map[string]types.ScalarAttributeType{"buildArn": "S", "executionArn": "S", "mapIndex": "N",
		"openShard": "S", "openSince": "N"}) {
		t.Fatalf("attribute definitions %v", defs)
	}
	open := in.GlobalSecondaryIndexes[1]
	if aws.ToString(open.IndexName) != "byOpen" || open.Projection.ProjectionType != types.ProjectionTypeAll {
		t.Fatalf("index %+v", open)
	}
	wantKeys = []types.KeySchemaElement{
		{AttributeName: aws.String("openShard"), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String("openSince"), KeyType: types.KeyTypeRange},
	}
	if !reflect.DeepEqual(open.KeySchema, wantKeys) {
		t.Fatalf("open index keys %+v", open.KeySchema)
	}
}
