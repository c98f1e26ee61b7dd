package sfnapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/crossbuild/crossbuild/local/asl"
)

// Publisher puts events on an account's and Region's default event bus. The EventBridge
// stand-in implements it.
type Publisher interface {
	PublishDefault(ctx context.Context, account, region string, event json.RawMessage) error
}

// The event Step Functions sends to the account's default bus when a Standard workflow's
// execution changes status (EventBridge events reference, "Step Functions events").
const (
	EventSource     = "aws.states"
	EventDetailType = "Step Functions Execution Status Change"
)

// publishTimeout bounds one publication, so a stuck bus never holds up an execution's end.
const publishTimeout = 5 * time.Second

// statusChangeDetail is the event's detail: DescribeExecution's fields, dates in epoch
// milliseconds, input and output as escaped JSON strings.
type statusChangeDetail struct {
	ExecutionArn    string          `json:"executionArn"`
	StateMachineArn string          `json:"stateMachineArn"`
	Name            string          `json:"name"`
	Status          string          `json:"status"`
	StartDate       int64           `json:"startDate"`
	StopDate        *int64          `json:"stopDate"`
	Input           *string         `json:"input"`
	Output          *string         `json:"output"`
	InputDetails    *includeDetails `json:"inputDetails"`
	OutputDetails   *includeDetails `json:"outputDetails"`
}

type includeDetails struct {
	Included bool `json:"included"`
}

// StatusChangeEvent returns the event Step Functions emits for info's current status.
func StatusChangeEvent(info asl.ExecutionInfo) (json.RawMessage, error) {
	d := statusChangeDetail{
		ExecutionArn: info.ExecutionArn, StateMachineArn: info.StateMachineArn, Name: info.Name,
		Status: string(info.Status), StartDate: info.StartDate.UnixMilli(),
		Input: &info.Input, InputDetails: &includeDetails{Included: true},
	}
	if !info.StopDate.IsZero() {
		stop := info.StopDate.UnixMilli()
		d.StopDate = &stop
	}
	if info.HasOutput {
		d.Output, d.OutputDetails = &info.Output, &includeDetails{Included: true}
	}
	return json.Marshal(map[string]any{
		"source":      EventSource,
		"detail-type": EventDetailType,
		"resources":   []string{info.ExecutionArn},
		"detail":      d,
	})
}

// publishEnd sends an ended execution's status change to its account's default bus in its
// Region. A lost event is logged: EventBridge delivery is best effort for this event too.
func (h *Handler) publishEnd(info asl.ExecutionInfo) {
	parts, ok := arnParts(info.ExecutionArn)
	if !ok {
		return
	}
	ev, err := StatusChangeEvent(info)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		defer cancel()
		err = h.pub.PublishDefault(ctx, parts[4], parts[3], ev)
	}
	if err != nil {
		h.log.Warn("publish execution status change", "executionArn", info.ExecutionArn, "status", string(info.Status), "error", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
