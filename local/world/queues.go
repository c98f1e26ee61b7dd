package world

import (
	"github.com/crossbuild/crossbuild/local/eventbridge"
	"github.com/crossbuild/crossbuild/local/sqs"
)

// deadLetterQueues lets the SQS stand-in serve the dead letters the EventBridge stand-in
// keeps: the templates' queues hold nothing else.
type deadLetterQueues struct{ events *eventbridge.Service }

func (d deadLetterQueues) Messages(queueARN string) []sqs.Message {
	letters := d.events.DeadLetters(queueARN)
	out := make([]sqs.Message, len(letters))
	for i, l := range letters {
		out[i] = sqs.Message{ID: l.ID, Body: string(l.Body), Attributes: l.Attributes, SentAt: l.SentAt}
	}
	return out
}

func (d deadLetterQueues) Delete(queueARN, id string) bool {
	return d.events.RemoveDeadLetter(queueARN, id)
}
