package asl

import (
	"strconv"
	"time"
)

// maxHistoryEvents is the Step Functions limit on events per execution; an
// execution that would exceed it fails.
const maxHistoryEvents = 25000

// EpochTime marshals as fractional epoch seconds, the timestamp format of the
// Step Functions JSON protocol.
type EpochTime time.Time

// MarshalJSON renders seconds since the epoch with millisecond precision.
func (t EpochTime) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

// Time returns t as a time.Time.
func (t EpochTime) Time() time.Time { return time.Time(t) }

// HistoryEvent is one event of an execution's history, shaped and named as in
// the GetExecutionHistory response of the Step Functions API.
type HistoryEvent struct {
	Timestamp       EpochTime `json:"timestamp"`
	Type            string    `json:"type"`
	ID              int64     `json:"id"`
	PreviousEventID int64     `json:"previousEventId"`

	ExecutionStartedEventDetails        *ExecutionStartedEventDetails `json:"executionStartedEventDetails,omitempty"`
	ExecutionSucceededEventDetails      *OutputEventDetails           `json:"executionSucceededEventDetails,omitempty"`
	ExecutionFailedEventDetails         *ErrorEventDetails            `json:"executionFailedEventDetails,omitempty"`
	ExecutionAbortedEventDetails        *ErrorEventDetails            `json:"executionAbortedEventDetails,omitempty"`
	ExecutionTimedOutEventDetails       *ErrorEventDetails            `json:"executionTimedOutEventDetails,omitempty"`
	StateEnteredEventDetails            *StateEnteredEventDetails     `json:"stateEnteredEventDetails,omitempty"`
	StateExitedEventDetails             *StateExitedEventDetails      `json:"stateExitedEventDetails,omitempty"`
	TaskScheduledEventDetails           *TaskScheduledEventDetails    `json:"taskScheduledEventDetails,omitempty"`
	TaskStartedEventDetails             *TaskResourceEventDetails     `json:"taskStartedEventDetails,omitempty"`
	TaskSubmittedEventDetails           *TaskOutputEventDetails       `json:"taskSubmittedEventDetails,omitempty"`
	TaskSucceededEventDetails           *TaskOutputEventDetails       `json:"taskSucceededEventDetails,omitempty"`
	TaskFailedEventDetails              *TaskErrorEventDetails        `json:"taskFailedEventDetails,omitempty"`
	TaskTimedOutEventDetails            *TaskErrorEventDetails        `json:"taskTimedOutEventDetails,omitempty"`
	LambdaFunctionScheduledEventDetails *LambdaScheduledEventDetails  `json:"lambdaFunctionScheduledEventDetails,omitempty"`
	LambdaFunctionSucceededEventDetails *OutputEventDetails           `json:"lambdaFunctionSucceededEventDetails,omitempty"`
	LambdaFunctionFailedEventDetails    *ErrorEventDetails            `json:"lambdaFunctionFailedEventDetails,omitempty"`
	LambdaFunctionTimedOutEventDetails  *ErrorEventDetails            `json:"lambdaFunctionTimedOutEventDetails,omitempty"`
	MapStateStartedEventDetails         *MapStateStartedEventDetails  `json:"mapStateStartedEventDetails,omitempty"`
	MapIterationStartedEventDetails     *MapIterationEventDetails     `json:"mapIterationStartedEventDetails,omitempty"`
	MapIterationSucceededEventDetails   *MapIterationEventDetails     `json:"mapIterationSucceededEventDetails,omitempty"`
	MapIterationFailedEventDetails      *MapIterationEventDetails     `json:"mapIterationFailedEventDetails,omitempty"`
	MapIterationAbortedEventDetails     *MapIterationEventDetails     `json:"mapIterationAbortedEventDetails,omitempty"`
	MapRunStartedEventDetails           *MapRunStartedEventDetails    `json:"mapRunStartedEventDetails,omitempty"`
	MapRunFailedEventDetails            *ErrorEventDetails            `json:"mapRunFailedEventDetails,omitempty"`
}

// DataDetails tells whether a payload in an event was truncated.
type DataDetails struct {
	Truncated bool `json:"truncated"`
}

// ExecutionStartedEventDetails describes ExecutionStarted.
type ExecutionStartedEventDetails struct {
	Input        string       `json:"input"`
	InputDetails *DataDetails `json:"inputDetails"`
	RoleArn      string       `json:"roleArn,omitempty"`
}

// OutputEventDetails carries an output payload.
type OutputEventDetails struct {
	Output        string       `json:"output"`
	OutputDetails *DataDetails `json:"outputDetails"`
}

// ErrorEventDetails carries an error name and cause; empty ones are omitted,
// as Step Functions omits them.
type ErrorEventDetails struct {
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
}

// StateEnteredEventDetails describes <Type>StateEntered.
type StateEnteredEventDetails struct {
	Name         string       `json:"name"`
	Input        string       `json:"input"`
	InputDetails *DataDetails `json:"inputDetails"`
}

// StateExitedEventDetails describes <Type>StateExited.
type StateExitedEventDetails struct {
	Name          string       `json:"name"`
	Output        string       `json:"output"`
	OutputDetails *DataDetails `json:"outputDetails"`
}

// TaskScheduledEventDetails describes TaskScheduled.
type TaskScheduledEventDetails struct {
	ResourceType       string `json:"resourceType"`
	Resource           string `json:"resource"`
	Region             string `json:"region"`
	Parameters         string `json:"parameters"`
	TimeoutInSeconds   *int64 `json:"timeoutInSeconds,omitempty"`
	HeartbeatInSeconds *int64 `json:"heartbeatInSeconds,omitempty"`
}

// TaskResourceEventDetails describes TaskStarted.
type TaskResourceEventDetails struct {
	ResourceType string `json:"resourceType"`
	Resource     string `json:"resource"`
}

// TaskOutputEventDetails describes TaskSubmitted and TaskSucceeded.
type TaskOutputEventDetails struct {
	ResourceType  string       `json:"resourceType"`
	Resource      string       `json:"resource"`
	Output        string       `json:"output"`
	OutputDetails *DataDetails `json:"outputDetails"`
}

// TaskErrorEventDetails describes TaskFailed and TaskTimedOut.
type TaskErrorEventDetails struct {
	ResourceType string `json:"resourceType"`
	Resource     string `json:"resource"`
	Error        string `json:"error,omitempty"`
	Cause        string `json:"cause,omitempty"`
}

// LambdaScheduledEventDetails describes LambdaFunctionScheduled.
type LambdaScheduledEventDetails struct {
	Resource         string       `json:"resource"`
	Input            string       `json:"input"`
	InputDetails     *DataDetails `json:"inputDetails"`
	TimeoutInSeconds *int64       `json:"timeoutInSeconds,omitempty"`
}

// MapStateStartedEventDetails describes MapStateStarted.
type MapStateStartedEventDetails struct {
	Length int `json:"length"`
}

// MapIterationEventDetails describes the MapIteration* events.
type MapIterationEventDetails struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
}

// MapRunStartedEventDetails describes MapRunStarted.
type MapRunStartedEventDetails struct {
	MapRunArn string `json:"mapRunArn"`
}

// untruncated returns fresh details: payloads are never truncated here.
func untruncated() *DataDetails { return &DataDetails{} }
