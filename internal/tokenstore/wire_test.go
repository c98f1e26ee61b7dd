package tokenstore

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	ccfBody      = `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}`
	throttleBody = `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}`
)

// wireReply is one scripted HTTP answer.
type wireReply struct {
	status int
	body   string
}

// wireServer answers DynamoDB JSON requests by operation name and records them.
type wireServer struct {
	mu       sync.Mutex
	replies  map[string]wireReply // by operation, e.g. "UpdateItem"
	requests []wireRequest
}

type wireRequest struct {
	op   string
	body map[string]any
}

func (w *wireServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	w.mu.Lock()
	w.requests = append(w.requests, wireRequest{op: op, body: body})
	reply, ok := w.replies[op]
	w.mu.Unlock()
	if !ok {
		reply = wireReply{http.StatusBadRequest, `{"__type":"com.amazon.coral.validate#ValidationException","message":"unexpected operation"}`}
	}
	rw.Header().Set("Content-Type", "application/x-amz-json-1.0")
	rw.WriteHeader(reply.status)
	_, _ = io.WriteString(rw, reply.body)
}

func (w *wireServer) ops() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ops []string
	for _, r := range w.requests {
		ops = append(ops, r.op)
	}
	return ops
}

// newWireStore returns a Store whose real SDK client talks to srv on 127.0.0.1, without
// retries so that each scripted answer is seen once.
func newWireStore(t *testing.T, srv *wireServer) *Store {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	_ = hs.Listener.Close()
	hs.Listener = l
	hs.Start()
	t.Cleanup(hs.Close)
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(hs.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret"}, nil
		}),
		RetryMaxAttempts: 1,
	})
	return New(client, table, WithClock(func() time.Time { return fixedNow }))
}

// itemJSON is a GetItem answer holding a record in state st.
func itemJSON(st State) string {
	return `{"Item":{"buildArn":{"S":"` + arn + `"},"state":{"S":"` + string(st) + `"},"taskToken":{"S":"` + secret + `"}}}`
}

func TestWireErrors(t *testing.T) {
	ok := func(body string) wireReply { return wireReply{http.StatusOK, body} }
	ccf := wireReply{http.StatusBadRequest, ccfBody}
	throttle := wireReply{http.StatusBadRequest, throttleBody}

	tests := []struct {
		name    string
		replies map[string]wireReply
		run     func(s *Store) error
		check   errCheck
		ops     []string
		cond    string // ConditionExpression the first request must carry
	}{
		{
			name:    "create over an existing record",
			replies: map[string]wireReply{"PutItem": ccf, "GetItem": ok(itemJSON(Parked))},
			run:     func(s *Store) error { return s.Create(context.Background(), Record{BuildARN: arn, TaskToken: secret}) },
			check:   exists(Parked),
			ops:     []string{"PutItem", "GetItem"},
			cond:    "attribute_not_exists(#buildArn)",
		},
		{
			name:    "claim of a completed record",
			replies: map[string]wireReply{"UpdateItem": ccf, "GetItem": ok(itemJSON(Completed))},
			run:     func(s *Store) error { _, err := s.Claim(context.Background(), arn, time.Minute); return err },
			check:   conflict("claim", Completed),
			ops:     []string{"UpdateItem", "GetItem"},
			cond:    "#state = :waiting OR (#state = :claimed AND #claimedAt < :staleBefore)",
		},
		{
			name:    "complete of a missing record",
			replies: map[string]wireReply{"UpdateItem": ccf, "GetItem": ok(`{}`)},
			run:     func(s *Store) error { return s.Complete(context.Background(), arn, "poll") },
			check:   notFound(arn),
			ops:     []string{"UpdateItem", "GetItem"},
			cond:    "attribute_exists(#buildArn) AND #state <> :completed",
		},
		{
			name:    "adopt of an item no longer parked",
			replies: map[string]wireReply{"PutItem": ccf, "GetItem": ok(itemJSON(Claimed))},
			run: func(s *Store) error {
				_, _, err := s.Adopt(context.Background(), Record{BuildARN: arn, TaskToken: secret})
				return err
			},
			check: conflict("adopt", Claimed),
			ops:   []string{"PutItem", "GetItem"},
			cond:  "#state = :parked",
		},
		{
			name:    "claim throttled",
			replies: map[string]wireReply{"UpdateItem": throttle},
			run:     func(s *Store) error { _, err := s.Claim(context.Background(), arn, time.Minute); return err },
			check:   throttled("claim " + arn),
			ops:     []string{"UpdateItem"},
			cond:    "#state = :waiting OR (#state = :claimed AND #claimedAt < :staleBefore)",
		},
		{
			name:    "create throttled",
			replies: map[string]wireReply{"PutItem": throttle},
			run:     func(s *Store) error { return s.Create(context.Background(), Record{BuildARN: arn, TaskToken: secret}) },
			check:   throttled("create " + arn),
			ops:     []string{"PutItem"},
			cond:    "attribute_not_exists(#buildArn)",
		},
		{
			name:    "read after a failed condition throttled",
			replies: map[string]wireReply{"UpdateItem": ccf, "GetItem": throttle},
			run: func(s *Store) error {
				return s.Release(context.Background(), Record{BuildARN: arn, ClaimedAt: fixedNow})
			},
			check: throttled("release " + arn),
			ops:   []string{"UpdateItem", "GetItem"},
			cond:  "#state = :claimed AND #claimedAt = :claimedAt",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := &wireServer{replies: tc.replies}
			err := tc.run(newWireStore(t, srv))
			tc.check(t, err)
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error leaks the task token: %v", err)
			}
			if got := srv.ops(); strings.Join(got, ",") != strings.Join(tc.ops, ",") {
				t.Fatalf("operations = %v, want %v", got, tc.ops)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if got := srv.requests[0].body["ConditionExpression"]; got != tc.cond {
				t.Fatalf("ConditionExpression = %v, want %q", got, tc.cond)
			}
			if len(srv.requests) > 1 && srv.requests[1].body["ConsistentRead"] != true {
				t.Fatalf("read after the failed condition is not consistent: %v", srv.requests[1].body)
			}
		})
	}
}

// TestWireConditionErrorIsTyped pins the SDK behaviour the store relies on: the error of a
// failed condition unwraps to *types.ConditionalCheckFailedException.
func TestWireConditionErrorIsTyped(t *testing.T) {
	srv := &wireServer{replies: map[string]wireReply{"PutItem": {http.StatusBadRequest, ccfBody}}}
	s := newWireStore(t, srv)
	_, err := s.client.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item:      key(arn),
	})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("error = %v, want *types.ConditionalCheckFailedException", err)
	}
}

// TestWireRefusalCarriesItem: when DynamoDB returns the refused item with the failed
// condition, the SDK hands it over and the store decides from it without reading again.
func TestWireRefusalCarriesItem(t *testing.T) {
	refusal := func(owner string) wireReply {
		return wireReply{http.StatusBadRequest, `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",` +
			`"message":"The conditional request failed","Item":{"buildArn":{"S":"` + arn + `"},"state":{"S":"CLAIMED"},` +
			`"claimedAt":{"N":"1795680000000"},"claimOwner":{"S":"` + owner + `"}}}`}
	}
	tests := []struct {
		name    string
		holder  string
		wantErr bool
	}{
		{"this call's claim", owner, false},
		{"another invocation's claim", otherOwner, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := &wireServer{replies: map[string]wireReply{"UpdateItem": refusal(tc.holder)}}
			rec, err := newWireStore(t, srv).ClaimAs(context.Background(), arn, owner, time.Minute)
			if tc.wantErr {
				conflict("claim", Claimed)(t, err)
			} else if err != nil || rec.ClaimOwner != owner || !rec.ClaimedAt.Equal(fixedNow) {
				t.Fatalf("ClaimAs = %+v, %v", rec, err)
			}
			if got := srv.ops(); len(got) != 1 {
				t.Fatalf("operations = %v, want the UpdateItem alone", got)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if got := srv.requests[0].body["ReturnValuesOnConditionCheckFailure"]; got != "ALL_OLD" {
				t.Fatalf("ReturnValuesOnConditionCheckFailure = %v", got)
			}
		})
	}
}
