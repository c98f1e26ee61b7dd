// Package sqs serves the part of SQS's JSON API that operators use on the dead-letter
// queues of a world's templates: GetQueueUrl and GetQueueAttributes (their depth),
// ReceiveMessage and DeleteMessage (crossbuild redrive-dlq, or any SQS client). The messages
// are held by a Store, the EventBridge stand-in's dead letters; nothing can be sent to a
// queue but what EventBridge puts there.
package sqs

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crossbuild/crossbuild/local/localaws"
)

const targetPrefix = "AmazonSQS."

// defaultVisibility is a queue's default visibility timeout (SQS: 30 seconds).
const defaultVisibility = 30 * time.Second

// Message is one message of a queue.
type Message struct {
	ID         string
	Body       string
	Attributes map[string]string // message attributes, all of data type String
	SentAt     time.Time
}

// Store holds the queues' messages, by queue ARN.
type Store interface {
	Messages(queueARN string) []Message
	Delete(queueARN, id string) bool
}

// Queue is a queue of a template.
type Queue struct {
	ARN, Name, Account, Region string
}

// Service serves the queues added to it.
type Service struct {
	Endpoint string // base of queue URLs
	Store    Store
	Now      func() time.Time

	mu        sync.Mutex
	queues    map[string]Queue       // by account/name
	invisible map[string]time.Time   // message id -> visible again at
	receives  map[string]int         // message id -> times received
	handles   map[string]receiptLink // receipt handle -> message
}

type receiptLink struct{ queueARN, id string }

// New returns a service whose queue URLs start with endpoint.
func New(endpoint string, store Store) *Service {
	return &Service{Endpoint: strings.TrimSuffix(endpoint, "/"), Store: store, Now: time.Now, queues: map[string]Queue{},
		invisible: map[string]time.Time{}, receives: map[string]int{}, handles: map[string]receiptLink{}}
}

// AddQueue registers a queue and returns its URL.
func (s *Service) AddQueue(q Queue) string {
	s.mu.Lock()
	s.queues[q.Account+"/"+q.Name] = q
	s.mu.Unlock()
	return s.Endpoint + "/" + q.Account + "/" + q.Name
}

type wireInput struct {
	QueueName              string
	QueueOwnerAWSAccountId string
	QueueUrl               string
	AttributeNames         []string
	MessageAttributeNames  []string
	// MessageSystemAttributeNames is the newer name of ReceiveMessage's AttributeNames.
	MessageSystemAttributeNames []string
	MaxNumberOfMessages         *int
	VisibilityTimeout           *int
	WaitTimeSeconds             *int
	ReceiptHandle               string
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := localaws.JSONProtocol{Service: "SQS", TargetPrefix: targetPrefix, ContentType: localaws.JSON10, MaxBody: maxBody,
		Operations: map[string]localaws.JSONOperation{
			"GetQueueUrl":        localaws.JSONOp(s.getQueueURL),
			"GetQueueAttributes": s.onQueue(func(q Queue, in wireInput) (any, error) { return s.getAttributes(q, in.AttributeNames), nil }),
			"ReceiveMessage":     s.onQueue(s.receive),
			"DeleteMessage":      s.onQueue(func(q Queue, in wireInput) (any, error) { return s.delete(q, in.ReceiptHandle) }),
		}}
	p.ServeHTTP(w, r)
}

// maxBody bounds a request body.
const maxBody = 1 << 20

func (s *Service) getQueueURL(_ *http.Request, caller localaws.Caller, in wireInput) (any, error) {
	owner := in.QueueOwnerAWSAccountId
	if owner == "" {
		owner = caller.Account
	}
	u := s.Endpoint + "/" + owner + "/" + in.QueueName
	if _, err := s.callersQueue(caller, u); err != nil {
		return nil, err
	}
	return map[string]string{"QueueUrl": u}, nil
}

// onQueue adapts an operation on the caller's queue named by QueueUrl.
func (s *Service) onQueue(f func(Queue, wireInput) (any, error)) localaws.JSONOperation {
	return localaws.JSONOp(func(_ *http.Request, caller localaws.Caller, in wireInput) (any, error) {
		q, err := s.callersQueue(caller, in.QueueUrl)
		if err != nil {
			return nil, err
		}
		return f(q, in)
	})
}

// callersQueue finds a queue of the caller's account and Region by its URL.
func (s *Service) callersQueue(caller localaws.Caller, u string) (Queue, error) {
	q, ok := s.queue(u)
	if !ok || q.Account != caller.Account || q.Region != caller.Region {
		return Queue{}, sqsError("QueueDoesNotExist", "The specified queue does not exist.")
	}
	return q, nil
}

// queue finds a queue by its URL: this endpoint's, or the https://sqs.<region>.amazonaws.com
// form the templates' Ref gives, by the account and name the path ends with.
func (s *Service) queue(u string) (Queue, bool) {
	p, err := url.Parse(u)
	if err != nil {
		return Queue{}, false
	}
	parts := strings.Split(strings.Trim(p.Path, "/"), "/")
	if len(parts) < 2 {
		return Queue{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[parts[len(parts)-2]+"/"+parts[len(parts)-1]]
	return q, ok
}

func (s *Service) getAttributes(q Queue, names []string) any {
	now := s.Now()
	msgs := s.Store.Messages(q.ARN)
	hidden := 0
	s.mu.Lock()
	for _, m := range msgs {
		if now.Before(s.invisible[m.ID]) {
			hidden++
		}
	}
	s.mu.Unlock()
	all := map[string]string{"QueueArn": q.ARN, "ApproximateNumberOfMessages": strconv.Itoa(len(msgs) - hidden),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(hidden), "ApproximateNumberOfMessagesDelayed": "0",
		"VisibilityTimeout": strconv.Itoa(int(defaultVisibility.Seconds())), "MessageRetentionPeriod": "1209600"}
	out := map[string]string{}
	for _, name := range names {
		if name == "All" {
			out = all
			break
		}
		if v, ok := all[name]; ok {
			out[name] = v
		}
	}
	return map[string]any{"Attributes": out}
}

type wireAttribute struct {
	DataType    string
	StringValue string
}

type wireMessage struct {
	MessageId              string
	ReceiptHandle          string
	MD5OfBody              string
	Body                   string
	MD5OfMessageAttributes string                   `json:",omitempty"`
	MessageAttributes      map[string]wireAttribute `json:",omitempty"`
	Attributes             map[string]string        `json:",omitempty"`
}

// receive hands out up to MaxNumberOfMessages visible messages, oldest first, and hides
// them for the visibility timeout. It does not wait (WaitTimeSeconds): the messages are
// all here already.
func (s *Service) receive(q Queue, in wireInput) (any, error) {
	max := 1
	if in.MaxNumberOfMessages != nil {
		max = *in.MaxNumberOfMessages
	}
	vis := defaultVisibility
	if in.VisibilityTimeout != nil {
		vis = time.Duration(*in.VisibilityTimeout) * time.Second
	}
	switch {
	case max < 1 || max > 10:
		return nil, sqsError("InvalidParameterValue", "MaxNumberOfMessages must be from 1 to 10")
	case vis < 0 || vis > 12*time.Hour:
		return nil, sqsError("InvalidParameterValue", "VisibilityTimeout must be from 0 to 43200")
	}
	now := s.Now()
	out := []wireMessage{}
	s.mu.Lock()
	for _, m := range s.Store.Messages(q.ARN) {
		if len(out) == max {
			break
		}
		if now.Before(s.invisible[m.ID]) {
			continue
		}
		s.invisible[m.ID] = now.Add(vis)
		s.receives[m.ID]++
		handle := newHandle()
		s.handles[handle] = receiptLink{queueARN: q.ARN, id: m.ID}
		wm := wireMessage{MessageId: m.ID, ReceiptHandle: handle, MD5OfBody: md5Hex([]byte(m.Body)), Body: m.Body}
		if attrs := selectAttributes(m.Attributes, in.MessageAttributeNames); len(attrs) > 0 {
			wm.MessageAttributes = map[string]wireAttribute{}
			for k, v := range attrs {
				wm.MessageAttributes[k] = wireAttribute{DataType: "String", StringValue: v}
			}
			wm.MD5OfMessageAttributes = attributesMD5(attrs)
		}
		if len(in.AttributeNames) > 0 || len(in.MessageSystemAttributeNames) > 0 {
			wm.Attributes = map[string]string{"SentTimestamp": strconv.FormatInt(m.SentAt.UnixMilli(), 10),
				"ApproximateReceiveCount": strconv.Itoa(s.receives[m.ID])}
		}
		out = append(out, wm)
	}
	s.mu.Unlock()
	return map[string]any{"Messages": out}, nil
}

func (s *Service) delete(q Queue, handle string) (any, error) {
	s.mu.Lock()
	link, ok := s.handles[handle]
	if ok && link.queueARN == q.ARN {
		delete(s.handles, handle)
		delete(s.invisible, link.id)
		delete(s.receives, link.id)
	}
	s.mu.Unlock()
	if !ok || link.queueARN != q.ARN {
		return nil, sqsError("ReceiptHandleIsInvalid", fmt.Sprintf("The input receipt handle %q is not a valid receipt handle.", handle))
	}
	// A message deleted already (through an older handle) is no error, as in SQS.
	s.Store.Delete(q.ARN, link.id)
	return struct{}{}, nil
}

// selectAttributes keeps the message attributes asked for: All, .*, a name, or a prefix.*.
func selectAttributes(attrs map[string]string, names []string) map[string]string {
	out := map[string]string{}
	for k, v := range attrs {
		for _, n := range names {
			if n == "All" || n == ".*" || n == k || (strings.HasSuffix(n, ".*") && strings.HasPrefix(k, strings.TrimSuffix(n, "*"))) {
				out[k] = v
				break
			}
		}
	}
	return out
}

// attributesMD5 is MD5OfMessageAttributes as SQS computes it: over the attributes sorted by
// name, each as the length-prefixed name, data type and value, with transport type 1
// (a string) before the value ("Calculating the MD5 message digest for message
// attributes", Amazon SQS Developer Guide).
func attributesMD5(attrs map[string]string) string {
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	var buf []byte
	field := func(s string) {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
		buf = append(buf, s...)
	}
	for _, n := range names {
		field(n)
		field("String")
		buf = append(buf, 1)
		field(attrs[n])
	}
	return md5Hex(buf)
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func newHandle() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sqsError is an error in SQS's JSON shape, with the query-compatible code header.
func sqsError(code, message string) *localaws.Error {
	return &localaws.Error{Status: http.StatusBadRequest, Code: "com.amazonaws.sqs#" + code, Message: message,
		QueryError: "AWS.SimpleQueueService." + code + ";Sender"}
}
