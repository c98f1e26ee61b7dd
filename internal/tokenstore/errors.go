package tokenstore

import "fmt"

// NotFoundError reports that no token record exists for Key (a build ARN, or an execution
// ARN and map index).
type NotFoundError struct {
	Key string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("token record not found: %s", e.Key)
}

// ExistsError reports that a record already exists where a new one was to be written.
// Existing is that record as read with a consistent read.
type ExistsError struct {
	Existing Record
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("token record %s already exists in state %s", e.Existing.BuildARN, e.Existing.State)
}

// ConflictError reports that a conditional write was refused because the record is not in a
// state that allows Op. State is the record's current state when it could be read, empty
// otherwise.
type ConflictError struct {
	BuildARN string
	Op       string
	State    State
}

func (e *ConflictError) Error() string {
	if e.State == "" {
		return fmt.Sprintf("%s %s: token record is not in a state that allows it", e.Op, e.BuildARN)
	}
	return fmt.Sprintf("%s %s: token record is %s", e.Op, e.BuildARN, e.State)
}
