package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Open records. A record a task may still be waiting for (WAITING or CLAIMED) carries two
// attributes that only such records carry, so the sparse index over them lists exactly the
// records a completion may have been lost for, without a Scan of the table:
//
//   - openShard: one of OpenShards values derived from the build ARN. With one partition
//     key for all, 10,000 records of one execution would share one index partition, whose
//     write rate is capped; spread over shards they do not.
//   - openSince: the record's creation time in epoch milliseconds, the index's sort key, so
//     "open for longer than X" is a key condition.
//
// Create and Adopt set them, Claim, Release and RefreshToken leave them, Complete and Stop
// remove them. Parked items and intents never carry them.
const (
	OpenIndex          = "byOpen"      // GSI: openShard (hash), openSince (range)
	OpenShardAttribute = attrOpenShard // string
	OpenSinceAttribute = attrOpenSince // number, epoch milliseconds
	OpenShards         = 16
)

const (
	attrOpenShard = "openShard"
	attrOpenSince = "openSince"
)

// removeOpen is the clause of an update that closes a record for good.
const removeOpen = " REMOVE #openShard, #openSince"

// OpenShard returns the shard of buildARN's record in the open index: "00" to "15".
func OpenShard(buildARN string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(buildARN)) // a hash.Hash never fails to write
	return shardName(int(h.Sum32() % OpenShards))
}

func shardName(i int) string { return fmt.Sprintf("%02d", i) }

// openAttributes are the attributes that put rec in the open index. A record without a
// creation time counts as opened now.
func (s *Store) openAttributes(rec Record) map[string]types.AttributeValue {
	since := rec.CreatedAt
	if since.IsZero() {
		since = s.now()
	}
	return map[string]types.AttributeValue{
		attrOpenShard: str(OpenShard(rec.BuildARN)),
		attrOpenSince: num(since.UnixMilli()),
	}
}

// ListOpen returns up to limit records that were opened before before and are still open
// (WAITING or CLAIMED), oldest first. It queries every shard of the open index, page by
// page, sharing limit among them so that no shard starves the others. The index is
// eventually consistent: a record completed a moment ago may still be listed, so callers
// act on a record only through a conditional write (a claim).
func (s *Store) ListOpen(ctx context.Context, before time.Time, limit int) ([]Record, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list open records: limit %d is not positive", limit)
	}
	if before.IsZero() {
		return nil, errors.New("list open records: no time bound")
	}
	type cursor struct {
		shard string
		start map[string]types.AttributeValue
		done  bool
	}
	cursors := make([]*cursor, OpenShards)
	for i := range cursors {
		cursors[i] = &cursor{shard: shardName(i)}
	}
	var out []Record
	// Every query returns at least one item or ends its shard, so this bound is never hit
	// by a well-behaved store; it only keeps a misbehaving one from looping forever.
	maxQueries := OpenShards * (limit + 2)
	for queries := 0; len(out) < limit; {
		var active []*cursor
		for _, c := range cursors {
			if !c.done {
				active = append(active, c)
			}
		}
		if len(active) == 0 {
			break
		}
		share := max((limit-len(out))/len(active), 1)
		for _, c := range active {
			if len(out) >= limit {
				break
			}
			if queries >= maxQueries {
				return nil, fmt.Errorf("list open records: no end after %d queries", queries)
			}
			queries++
			want := min(share, limit-len(out))
			page, err := s.client.Query(ctx, &dynamodb.QueryInput{
				TableName:                aws.String(s.table),
				IndexName:                aws.String(OpenIndex),
				KeyConditionExpression:   aws.String("#openShard = :shard AND #openSince < :before"),
				ExpressionAttributeNames: names(attrOpenShard, attrOpenSince),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":shard":  str(c.shard),
					":before": num(before.UnixMilli()),
				},
				Limit:             aws.Int32(int32(min(want, 1<<30))),
				ExclusiveStartKey: c.start,
			})
			if err != nil {
				return nil, fmt.Errorf("list open records of shard %s: %w", c.shard, err)
			}
			for _, item := range page.Items {
				rec, err := unmarshal(item)
				if err != nil {
					return nil, fmt.Errorf("list open records of shard %s: %w", c.shard, err)
				}
				if rec.State != Waiting && rec.State != Claimed {
					continue // closed since the index was written
				}
				out = append(out, rec)
			}
			c.start = page.LastEvaluatedKey
			c.done = len(page.LastEvaluatedKey) == 0
		}
	}
	slices.SortStableFunc(out, func(a, b Record) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.BuildARN, b.BuildARN)
	})
	return out, nil
}
