package tokenstore

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// withOpen adds the open index's attributes of buildARN, opened at since, to item.
func withOpen(item map[string]types.AttributeValue, buildARN string, since time.Time) map[string]types.AttributeValue {
	out := maps.Clone(item)
	if out == nil {
		out = map[string]types.AttributeValue{}
	}
	out[attrOpenShard] = str(OpenShard(buildARN))
	out[attrOpenSince] = num(since.UnixMilli())
	return out
}

// TestOpenShard: the shard is a stable function of the build ARN, always one of the 16
// names, and 10,000 builds of one execution spread over all of them without a hot one.
func TestOpenShard(t *testing.T) {
	if a, b := OpenShard(arn), OpenShard(arn); a != b {
		t.Fatalf("shard of one ARN changes: %s, %s", a, b)
	}
	counts := map[string]int{}
	const n = 10000
	for i := range n {
		s := OpenShard(fmt.Sprintf("arn:aws:codebuild:eu-west-1:222222222222:build/sample:%08x-7d2a-4c1b-9e55-2a6d1f3c8b90", i))
		counts[s]++
	}
	if len(counts) != OpenShards {
		t.Fatalf("%d shards used, want %d: %v", len(counts), OpenShards, counts)
	}
	for s, c := range counts {
		if i, err := strconv.Atoi(s); err != nil || i < 0 || i >= OpenShards || len(s) != 2 {
			t.Errorf("shard name %q", s)
		}
		// An even spread puts 625 in each; a hot shard would take far more.
		if c > 2*n/OpenShards {
			t.Errorf("shard %s holds %d of %d records", s, c, n)
		}
	}
}

// TestOpenAttributesWithoutCreationTime: a record without createdAt is open from now.
func TestOpenAttributesWithoutCreationTime(t *testing.T) {
	s := New(&fakeAPI{}, table, WithClock(func() time.Time { return fixedNow }))
	got := s.openAttributes(Record{BuildARN: arn})
	if want := withOpen(nil, arn, fixedNow); !maps.EqualFunc(got, want, func(a, b types.AttributeValue) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
		t.Fatalf("open attributes %v, want %v", got, want)
	}
}

// shardFake serves the open index from per-shard lists of records, in pages of at most the
// query's Limit, and records the queries.
type shardFake struct {
	shards  map[string][]Record
	queries []*dynamodb.QueryInput
	fail    error
}

func (f *shardFake) query(in *dynamodb.QueryInput) (*dynamodb.QueryOutput, error) {
	f.queries = append(f.queries, in)
	if f.fail != nil {
		return nil, f.fail
	}
	shard := in.ExpressionAttributeValues[":shard"].(*types.AttributeValueMemberS).Value
	before, _ := strconv.ParseInt(in.ExpressionAttributeValues[":before"].(*types.AttributeValueMemberN).Value, 10, 64)
	var recs []Record
	for _, r := range f.shards[shard] {
		if r.CreatedAt.UnixMilli() < before {
			recs = append(recs, r)
		}
	}
	start := 0
	if k := in.ExclusiveStartKey; k != nil {
		start, _ = strconv.Atoi(k["pos"].(*types.AttributeValueMemberN).Value)
	}
	end := min(start+int(aws.ToInt32(in.Limit)), len(recs))
	out := &dynamodb.QueryOutput{}
	for _, r := range recs[start:end] {
		out.Items = append(out.Items, withOpen(marshal(r), r.BuildARN, r.CreatedAt))
	}
	// Like DynamoDB, a page that stops at Limit has a key even when nothing follows.
	if end-start == int(aws.ToInt32(in.Limit)) {
		out.LastEvaluatedKey = map[string]types.AttributeValue{"pos": num(int64(end))}
	}
	return out, nil
}

// openRecords makes WAITING records, as many per shard as perShard says, created a minute
// apart.
func openRecords(perShard map[string]int) map[string][]Record {
	out := map[string][]Record{}
	want := 0
	for _, n := range perShard {
		want += n
	}
	made := 0
	for i := 0; made < want && i < 1_000_000; i++ {
		b := fmt.Sprintf("arn:aws:codebuild:eu-west-1:222222222222:build/sample:%06d", i)
		s := OpenShard(b)
		if len(out[s]) >= perShard[s] {
			continue
		}
		made++
		out[s] = append(out[s], Record{BuildARN: b, BuildID: "sample:" + b[len(b)-6:], State: Waiting,
			CreatedAt: fixedNow.Add(-time.Duration(made) * time.Minute)})
	}
	for s := range out {
		slices.SortFunc(out[s], func(a, b Record) int { return a.CreatedAt.Compare(b.CreatedAt) })
	}
	return out
}

func TestListOpen(t *testing.T) {
	all := map[string]int{}
	for i := range OpenShards {
		all[shardName(i)] = 3
	}
	tests := []struct {
		name     string
		perShard map[string]int
		before   time.Time
		limit    int
		want     int
		// maxQueries bounds the work: every shard at least once, a few more when one holds
		// the rest of the limit.
		maxQueries int
	}{
		{"every shard, all of it", all, fixedNow, 1000, 3 * OpenShards, 2 * OpenShards},
		{"limit shared among shards", all, fixedNow, 16, 16, OpenShards},
		{"limit below the shard count", all, fixedNow, 5, 5, 5},
		{"one busy shard gets what the others leave", map[string]int{"07": 40, "03": 1}, fixedNow, 30, 30, 3 * OpenShards},
		{"time bound", all, fixedNow.Add(-time.Duration(3*OpenShards-9) * time.Minute), 1000, 9, 2 * OpenShards},
		{"nothing open", nil, fixedNow, 10, 0, OpenShards},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sf := &shardFake{shards: openRecords(tc.perShard)}
			s := New(&fakeAPI{query: sf.query}, table)
			got, err := s.ListOpen(context.Background(), tc.before, tc.limit)
			if err != nil {
				t.Fatalf("ListOpen: %v", err)
			}
			if len(got) != tc.want {
				t.Fatalf("%d records, want %d", len(got), tc.want)
			}
			if !slices.IsSortedFunc(got, func(a, b Record) int { return a.CreatedAt.Compare(b.CreatedAt) }) {
				t.Error("records not oldest first")
			}
			seen := map[string]bool{}
			for _, r := range got {
				if seen[r.BuildARN] || !r.CreatedAt.Before(tc.before) {
					t.Errorf("record %s listed twice or not before the bound", r.BuildARN)
				}
				seen[r.BuildARN] = true
			}
			if n := len(sf.queries); n > tc.maxQueries {
				t.Errorf("%d queries, want at most %d", n, tc.maxQueries)
			}
			shards := map[string]bool{}
			for _, q := range sf.queries {
				if aws.ToString(q.IndexName) != OpenIndex || aws.ToString(q.KeyConditionExpression) != "#openShard = :shard AND #openSince < :before" ||
					aws.ToInt32(q.Limit) < 1 || q.ConsistentRead != nil {
					t.Fatalf("query %+v", q)
				}
				shards[q.ExpressionAttributeValues[":shard"].(*types.AttributeValueMemberS).Value] = true
			}
			if tc.limit >= OpenShards && len(shards) != OpenShards {
				t.Errorf("%d shards queried, want all %d", len(shards), OpenShards)
			}
		})
	}
}

// TestListOpenFairness: a shard full of old records does not keep the others' records out.
func TestListOpenFairness(t *testing.T) {
	recs := openRecords(map[string]int{"00": 100, "01": 2, "02": 2})
	sf := &shardFake{shards: recs}
	got, err := New(&fakeAPI{query: sf.query}, table).ListOpen(context.Background(), fixedNow, 20)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, r := range got {
		per[OpenShard(r.BuildARN)]++
	}
	if len(got) != 20 || per["01"] != 2 || per["02"] != 2 || per["00"] != 16 {
		t.Fatalf("listed per shard %v (%d in all)", per, len(got))
	}
}

// TestListOpenSkipsClosed: an index entry the table has closed meanwhile is not listed.
func TestListOpenSkipsClosed(t *testing.T) {
	recs := openRecords(map[string]int{"04": 4})
	recs["04"][1].State = Completed
	recs["04"][2].State = Stopped
	recs["04"][3].State = Claimed
	got, err := New(&fakeAPI{query: (&shardFake{shards: recs}).query}, table).ListOpen(context.Background(), fixedNow, 10)
	if err != nil || len(got) != 2 || got[0].State != Waiting || got[1].State != Claimed {
		t.Fatalf("ListOpen = %+v, %v", got, err)
	}
}

func TestListOpenErrors(t *testing.T) {
	s := New(&fakeAPI{query: (&shardFake{fail: errThrottle}).query}, table)
	if _, err := s.ListOpen(context.Background(), fixedNow, 10); err == nil {
		t.Fatal("a failed query is not an error")
	}
	if _, err := s.ListOpen(context.Background(), fixedNow, 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
	if _, err := s.ListOpen(context.Background(), time.Time{}, 10); err == nil {
		t.Fatal("zero time bound accepted")
	}
	// A store that keeps answering with an empty page and a key never ends the listing.
	endless := &fakeAPI{query: func(*dynamodb.QueryInput) (*dynamodb.QueryOutput, error) {
		return &dynamodb.QueryOutput{LastEvaluatedKey: map[string]types.AttributeValue{"pos": num(1)}}, nil
	}}
	if _, err := New(endless, table).ListOpen(context.Background(), fixedNow, 3); err == nil {
		t.Fatal("an endless index is not an error")
	}
	if n := len(endless.calls); n > OpenShards*5 {
		t.Fatalf("%d queries against an endless index", n)
	}
}

// TestOpenTransitions: which writes set, keep and remove the open attributes.
func TestOpenTransitions(t *testing.T) {
	rec := fullRecord()
	rec.CreatedAt = fixedNow.Add(-time.Hour)
	f := &fakeAPI{
		update: func(in *dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
			return &dynamodb.UpdateItemOutput{Attributes: marshal(rec)}, nil
		},
		put: func(in *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
			parked := rec
			parked.State = Parked
			return &dynamodb.PutItemOutput{Attributes: marshal(parked)}, nil
		},
	}
	s := New(f, table, WithClock(func() time.Time { return fixedNow }))
	ctx := context.Background()
	withOwner := rec
	withOwner.ClaimOwner = "owner-1"
	steps := []struct {
		name string
		run  func() error
		open string // "set", "kept" or "removed"
	}{
		{"create", func() error { return s.Create(ctx, rec) }, "set"},
		{"adopt", func() error { _, _, err := s.Adopt(ctx, rec); return err }, "set"},
		{"adopt with an owner", func() error { _, _, err := s.Adopt(ctx, withOwner); return err }, "set"},
		{"park", func() error { return s.Park(ctx, rec) }, "kept"},
		{"claim", func() error { _, err := s.ClaimAs(ctx, rec.BuildARN, "owner-1", time.Minute); return err }, "kept"},
		{"release", func() error { r := rec; r.ClaimedAt = fixedNow; return s.Release(ctx, r) }, "kept"},
		{"refresh token", func() error {
			_, err := s.RefreshToken(ctx, rec.BuildARN, rec.ExecutionARN, rec.MapIndex, "tok-2")
			return err
		}, "kept"},
		{"complete", func() error { return s.Complete(ctx, rec.BuildARN, "reconciler") }, "removed"},
		{"stop", func() error { _, err := s.Stop(ctx, rec.BuildARN, rec.ExecutionARN); return err }, "removed"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			f.calls, f.inputs = nil, nil
			if err := st.run(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if len(f.inputs) != 1 {
				t.Fatalf("%d requests", len(f.inputs))
			}
			var set, removed bool
			switch in := f.inputs[0].(type) {
			case *dynamodb.PutItemInput:
				_, set = in.Item[attrOpenShard]
				if set && fmt.Sprint(in.Item[attrOpenSince]) != fmt.Sprint(num(rec.CreatedAt.UnixMilli())) {
					t.Errorf("openSince %v, want the creation time", in.Item[attrOpenSince])
				}
			case *dynamodb.UpdateItemInput:
				_, set = in.ExpressionAttributeValues[":"+attrOpenShard]
				removed = in.ExpressionAttributeNames["#"+attrOpenShard] == attrOpenShard && !set
				if removed && !strings.HasSuffix(aws.ToString(in.UpdateExpression), removeOpen) {
					t.Errorf("update %q does not remove both attributes", aws.ToString(in.UpdateExpression))
				}
			}
			got := "kept"
			switch {
			case set:
				got = "set"
			case removed:
				got = "removed"
			}
			if got != st.open {
				t.Fatalf("open attributes %s, want %s", got, st.open)
			}
		})
	}
}

// TestWireListOpen: the queries as they go over the wire, one per shard, and the records
// decoded from the answer.
func TestWireListOpen(t *testing.T) {
	rec := fullRecord()
	rec.State = Claimed
	rec.CreatedAt = fixedNow.Add(-time.Hour)
	body := `{"Count":1,"Items":[{"buildArn":{"S":"` + arn + `"},"state":{"S":"CLAIMED"},"taskToken":{"S":"` + secret + `"},` +
		`"createdAt":{"S":"2026-11-26T07:00:00Z"},"openShard":{"S":"` + OpenShard(arn) + `"},"openSince":{"N":"1795676400000"}}]}`
	srv := &wireServer{replies: map[string]wireReply{"Query": {http.StatusOK, body}}}
	got, err := newWireStore(t, srv).ListOpen(context.Background(), fixedNow.Add(-10*time.Minute), 100)
	if err != nil {
		t.Fatalf("ListOpen: %v", err)
	}
	// The fake answers every shard with the same item; the store reports what it was given.
	if len(got) != OpenShards || got[0].BuildARN != arn || got[0].TaskToken != secret || got[0].State != Claimed {
		t.Fatalf("records %d, first %+v", len(got), got[0])
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var shards []string
	for _, r := range srv.requests {
		if r.op != "Query" || r.body["IndexName"] != "byOpen" || r.body["TableName"] != table ||
			r.body["KeyConditionExpression"] != "#openShard = :shard AND #openSince < :before" {
			t.Fatalf("request %s %v", r.op, r.body)
		}
		values := r.body["ExpressionAttributeValues"].(map[string]any)
		if before := values[":before"].(map[string]any)["N"]; before != strconv.FormatInt(fixedNow.Add(-10*time.Minute).UnixMilli(), 10) {
			t.Errorf(":before = %v", before)
		}
		if limit := r.body["Limit"].(float64); limit != 100/OpenShards {
			t.Errorf("Limit = %v, want the shard's share %d", limit, 100/OpenShards)
		}
		shards = append(shards, values[":shard"].(map[string]any)["S"].(string))
	}
	want := make([]string, OpenShards)
	for i := range want {
		want[i] = fmt.Sprintf("%02d", i)
	}
	if !slices.Equal(shards, want) {
		t.Fatalf("shards queried %v, want %v", shards, want)
	}
}
