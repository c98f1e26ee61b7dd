package sqs

import (
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sqssdk "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// memStore is a Store in memory.
type memStore struct {
	mu   sync.Mutex
	msgs map[string][]Message
}

func (m *memStore) Messages(arn string) []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Message(nil), m.msgs[arn]...)
}

func (m *memStore) Delete(arn, id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, msg := range m.msgs[arn] {
		if msg.ID == id {
			m.msgs[arn] = append(m.msgs[arn][:i:i], m.msgs[arn][i+1:]...)
			return true
		}
	}
	return false
}

const queueARN = "arn:aws:sqs:eu-west-1:111111111111:crossbuild-source-CallbackDeadLetters-abc"

// TestQueueWire: the SDK reads a queue's depth, receives its messages (checking the body's
// MD5 itself), hides what it received for the visibility timeout, and deletes; a queue is
// found by the URL CloudFormation's Ref gives as well as by the endpoint's.
func TestQueueWire(t *testing.T) {
	store := &memStore{msgs: map[string][]Message{queueARN: {
		{ID: "m1", Body: "foobar2", Attributes: map[string]string{"AtTimestamp": "2021-02-15T12:00:33+09:00"}, SentAt: time.Unix(1, 0)},
		{ID: "m2", Body: `{"source":"aws.codebuild"}`, Attributes: map[string]string{"ERROR_CODE": "SDK_CLIENT_ERROR", "TARGET_ARN": "arn:aws:lambda:eu-west-1:111111111111:function:f"}},
	}}}
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	ids := localaws.NewIdentities()
	router := localaws.NewRouter(ids)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	s := New(srv.URL, store)
	s.Now = func() time.Time { return now }
	router.Handle("sqs", s)
	s.AddQueue(Queue{ARN: queueARN, Name: "crossbuild-source-CallbackDeadLetters-abc", Account: "111111111111", Region: "eu-west-1"})
	client := func(account string) *sqssdk.Client {
		c := ids.LongTerm(localaws.Principal{Account: account, ARN: "arn:aws:iam::" + account + ":role/operator"})
		return sqssdk.NewFromConfig(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")})
	}
	c := client("111111111111")
	ctx := t.Context()

	u, err := c.GetQueueUrl(ctx, &sqssdk.GetQueueUrlInput{QueueName: aws.String("crossbuild-source-CallbackDeadLetters-abc")})
	if err != nil {
		t.Fatal(err)
	}
	depth := func(url string) (visible, hidden string) {
		t.Helper()
		out, err := c.GetQueueAttributes(ctx, &sqssdk.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]
	}
	cfnURL := "https://sqs.eu-west-1.amazonaws.com/111111111111/crossbuild-source-CallbackDeadLetters-abc"
	if v, h := depth(cfnURL); v != "2" || h != "0" {
		t.Fatalf("depth %s/%s", v, h)
	}

	recv, err := c.ReceiveMessage(ctx, &sqssdk.ReceiveMessageInput{QueueUrl: u.QueueUrl, MaxNumberOfMessages: 10,
		MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recv.Messages) != 2 {
		t.Fatalf("%d messages", len(recv.Messages))
	}
	m1 := recv.Messages[0]
	// The digest of a message SQS itself returned: the same body and attribute.
	if aws.ToString(m1.MD5OfBody) != "cbac77acf401ef89c3297bd9fc41ec0b" || aws.ToString(m1.MD5OfMessageAttributes) != "9fd5e217089075be61cd1d67e35e5117" ||
		m1.Attributes["ApproximateReceiveCount"] != "1" {
		t.Errorf("message %+v", m1)
	}
	if a := recv.Messages[1].MessageAttributes["TARGET_ARN"]; aws.ToString(a.StringValue) != "arn:aws:lambda:eu-west-1:111111111111:function:f" || aws.ToString(a.DataType) != "String" {
		t.Errorf("attributes %+v", recv.Messages[1].MessageAttributes)
	}
	// Received messages are hidden until the visibility timeout passes.
	if v, h := depth(*u.QueueUrl); v != "0" || h != "2" {
		t.Fatalf("depth after receive %s/%s", v, h)
	}
	again, err := c.ReceiveMessage(ctx, &sqssdk.ReceiveMessageInput{QueueUrl: u.QueueUrl})
	if err != nil || len(again.Messages) != 0 {
		t.Fatalf("a hidden message came back: %v %v", again, err)
	}
	now = now.Add(31 * time.Second)
	again, err = c.ReceiveMessage(ctx, &sqssdk.ReceiveMessageInput{QueueUrl: aws.String(cfnURL), VisibilityTimeout: 0, MaxNumberOfMessages: 1})
	if err != nil || len(again.Messages) != 1 || aws.ToString(again.Messages[0].MessageId) != "m1" {
		t.Fatalf("after the timeout: %+v %v", again, err)
	}

	if _, err := c.DeleteMessage(ctx, &sqssdk.DeleteMessageInput{QueueUrl: u.QueueUrl, ReceiptHandle: recv.Messages[1].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if got := store.Messages(queueARN); len(got) != 1 || got[0].ID != "m1" {
		t.Fatalf("store after delete %+v", got)
	}

	var invalid *sqstypes.ReceiptHandleIsInvalid
	if _, err := c.DeleteMessage(ctx, &sqssdk.DeleteMessageInput{QueueUrl: u.QueueUrl, ReceiptHandle: aws.String("nope")}); !errors.As(err, &invalid) {
		t.Errorf("a bad handle: %v", err)
	}
	var missing *sqstypes.QueueDoesNotExist
	if _, err := client("222222222222").ReceiveMessage(ctx, &sqssdk.ReceiveMessageInput{QueueUrl: u.QueueUrl}); !errors.As(err, &missing) {
		t.Errorf("another account's queue: %v", err)
	}
	if _, err := c.ReceiveMessage(ctx, &sqssdk.ReceiveMessageInput{QueueUrl: u.QueueUrl, MaxNumberOfMessages: 11}); err == nil {
		t.Error("11 messages at once were accepted")
	}
}
