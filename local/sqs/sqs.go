// Package sqs serves the part of SQS's JSON API that reads a queue's depth (GetQueueUrl,
// GetQueueAttributes) for the dead-letter queues of a world's templates, whose messages the
// EventBridge stand-in keeps.
package sqs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/crossbuild/crossbuild/local/localaws"
)

const targetPrefix = "AmazonSQS."

// Messages counts the messages in a queue, by its ARN.
type Messages func(queueARN string) int

// Queue is a queue of a template.
type Queue struct {
	ARN, Name, Account, Region string
}

// Service serves the queues added to it.
type Service struct {
	Endpoint string // base of queue URLs
	Messages Messages

	mu     sync.RWMutex
	queues map[string]Queue // by URL
}

// New returns a service whose queue URLs start with endpoint.
func New(endpoint string, messages Messages) *Service {
	return &Service{Endpoint: strings.TrimSuffix(endpoint, "/"), Messages: messages, queues: map[string]Queue{}}
}

// AddQueue registers a queue and returns its URL.
func (s *Service) AddQueue(q Queue) string {
	u := s.Endpoint + "/" + q.Account + "/" + q.Name
	s.mu.Lock()
	s.queues[u] = q
	s.mu.Unlock()
	return u
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	caller, ok := localaws.CallerFrom(r.Context())
	if !ok {
		writeError(w, "MissingAuthenticationToken", "request is not signed")
		return
	}
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	var in struct {
		QueueName              string
		QueueOwnerAWSAccountId string
		QueueUrl               string
		AttributeNames         []string
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		writeError(w, "InvalidParameterValue", "cannot read the request: "+err.Error())
		return
	}
	switch op {
	case "GetQueueUrl":
		owner := in.QueueOwnerAWSAccountId
		if owner == "" {
			owner = caller.Account
		}
		u := s.Endpoint + "/" + owner + "/" + in.QueueName
		if q, ok := s.queue(u); !ok || q.Account != caller.Account || q.Region != caller.Region {
			writeError(w, "QueueDoesNotExist", "The specified queue does not exist.")
			return
		}
		localaws.WriteJSON(w, map[string]string{"QueueUrl": u})
	case "GetQueueAttributes":
		q, ok := s.queue(in.QueueUrl)
		if !ok || q.Account != caller.Account || q.Region != caller.Region {
			writeError(w, "QueueDoesNotExist", "The specified queue does not exist.")
			return
		}
		n := strconv.Itoa(s.Messages(q.ARN))
		all := map[string]string{"QueueArn": q.ARN, "ApproximateNumberOfMessages": n,
			"ApproximateNumberOfMessagesNotVisible": "0", "ApproximateNumberOfMessagesDelayed": "0"}
		out := map[string]string{}
		for _, name := range in.AttributeNames {
			if name == "All" {
				out = all
				break
			}
			if v, ok := all[name]; ok {
				out[name] = v
			}
		}
		localaws.WriteJSON(w, map[string]any{"Attributes": out})
	default:
		writeError(w, "UnsupportedOperation", fmt.Sprintf("operation %q is not emulated by the local SQS", op))
	}
}

func (s *Service) queue(u string) (Queue, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	q, ok := s.queues[u]
	return q, ok
}

// writeError answers in SQS's JSON error shape, with the query-compatible code header.
func writeError(w http.ResponseWriter, code, message string) {
	w.Header().Set("X-Amzn-Query-Error", "AWS.SimpleQueueService."+code+";Sender")
	localaws.WriteJSONError(w, http.StatusBadRequest, "com.amazonaws.sqs#"+code, message)
}
