package tracing

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// X-Ray takes segment documents for a trace only while its id is recent: the first 32 bits
// of a trace id are the epoch second it began, and the ADOT collector's X-Ray exporter drops
// ids more than 28 days old or more than 5 minutes ahead, 28 being its margin under
// X-Ray's 30-day limit. Documents outside that window are not sent.
const (
	MaxTraceAge   = 28 * 24 * time.Hour
	maxTraceSkew  = 5 * time.Minute
	documentIDLen = 16
)

// Document is an X-Ray segment document for work that has no span in this process: a
// build running in another account, one of its phases, the completion of its task. It is
// sent into a trace given by id, usually an older one than the invocation's own, under a
// parent given by id, so that what happens to a build over hours shows in the trace of the
// execution that started it.
//
// X-Ray keeps one document per id: a document sent again with the same ID replaces the
// earlier one, and a complete one replaces an in-progress one. So ids derived from what
// the document describes (DocumentID) make duplicate and late deliveries harmless.
type Document struct {
	TraceID  string // X-Ray trace id, 1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy
	ID       string // 16 hex digits
	ParentID string
	// Subsegment sends an independent subsegment of ParentID; otherwise a segment, which
	// X-Ray draws as a service node of its own, named Name, of type Origin.
	Subsegment bool
	Name       string
	Origin     string
	Namespace  string
	Start, End time.Time
	// InProgress sends a document without an end: a later complete one replaces it.
	InProgress   bool
	Error, Fault bool
	// ErrorType and ErrorMessage become the document's exception.
	ErrorType, ErrorMessage string
	// Operation, Region and AccountID fill the document's aws object.
	Operation, Region, AccountID string
	// Annotations are indexed; values are strings, booleans or numbers.
	Annotations map[string]any
	Metadata    map[string]any
}

// DocumentError reports a document that cannot be sent.
type DocumentError struct {
	ID     string
	Reason string
}

func (e *DocumentError) Error() string {
	return fmt.Sprintf("x-ray document %s: %s", e.ID, e.Reason)
}

// DocumentID derives a document id from what the document stands for, so that every
// sender of the same thing writes the same id.
func DocumentID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	if binary.BigEndian.Uint64(sum[:8]) == 0 {
		sum[7] = 1 // the all-zero id is invalid
	}
	return hex.EncodeToString(sum[:8])
}

// ParentID returns the id under which documents about this invocation's work hang: the
// id of the span in ctx, when that span is recorded and sampled; "" otherwise, and then
// nothing is to be sent for this trace.
func ParentID(ctx context.Context) string {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() || !span.SpanContext().IsSampled() {
		return ""
	}
	return span.SpanContext().SpanID().String()
}

type emitterKey struct{}

// Emit sends docs through the X-Ray daemon the invocation in ctx exports to. It sends
// whether or not the invocation itself is sampled: the trace the documents belong to made
// that decision when it began. Outside Wrap, or without a daemon, it sends nothing. A
// document that cannot be sent is reported in the error and does not stop the others.
func Emit(ctx context.Context, docs ...Document) error {
	exp, _ := ctx.Value(emitterKey{}).(*Exporter)
	if exp == nil {
		return nil
	}
	now := time.Now()
	var errs []error
	for _, d := range docs {
		seg, err := d.segment(now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := exp.send(seg); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d Document) segment(now time.Time) (*segment, error) {
	id, err := ParseXRayTraceID(d.TraceID)
	if err != nil {
		return nil, &DocumentError{ID: d.ID, Reason: err.Error()}
	}
	began := time.Unix(int64(binary.BigEndian.Uint32(id[:4])), 0)
	if now.Sub(began) > MaxTraceAge || began.Sub(now) > maxTraceSkew {
		return nil, &DocumentError{ID: d.ID, Reason: "trace " + d.TraceID + " began " + began.UTC().Format(time.RFC3339) + ", outside the window X-Ray accepts"}
	}
	if !validDocumentID(d.ID) || (d.ParentID != "" && !validDocumentID(d.ParentID)) {
		return nil, &DocumentError{ID: d.ID, Reason: "ids must be 16 lower-case hex digits, not all zero"}
	}
	if d.Subsegment && d.ParentID == "" {
		return nil, &DocumentError{ID: d.ID, Reason: "a subsegment needs a parent"}
	}
	if d.Start.IsZero() || (!d.InProgress && d.End.IsZero()) {
		return nil, &DocumentError{ID: d.ID, Reason: "start and end (or in progress) are required"}
	}
	seg := &segment{
		Name: sanitizeName(d.Name), ID: d.ID, TraceID: d.TraceID, ParentID: d.ParentID,
		StartTime: epochSeconds(d.Start.UnixMicro()), Namespace: d.Namespace,
		Error: d.Error, Fault: d.Fault,
	}
	if d.Subsegment {
		seg.Type = "subsegment"
	} else {
		seg.Origin = d.Origin
	}
	if d.InProgress {
		seg.InProgress = true
	} else {
		seg.EndTime = max(epochSeconds(d.End.UnixMicro()), seg.StartTime)
	}
	if d.ErrorType != "" || d.ErrorMessage != "" {
		seg.Cause = &cause{Exceptions: []exception{{ID: exceptionID(d.ID, 0),
			Type: truncate(d.ErrorType, maxFieldRunes), Message: truncate(d.ErrorMessage, maxMessageRunes)}}}
	}
	if aws := (awsInfo{Operation: d.Operation, Region: d.Region, AccountID: d.AccountID}); aws != (awsInfo{}) {
		seg.AWS = &aws
	}
	for k, v := range d.Annotations {
		key := sanitizeKey(k)
		if v, ok := documentAnnotation(v); ok && key != "" {
			if seg.Annotations == nil {
				seg.Annotations = map[string]any{}
			}
			seg.Annotations[key] = v
		}
	}
	if len(d.Metadata) > 0 {
		seg.Metadata = map[string]map[string]any{metadataNS: d.Metadata}
	}
	return seg, nil
}

// documentAnnotation keeps the value types X-Ray indexes.
func documentAnnotation(v any) (any, bool) {
	switch v := v.(type) {
	case string:
		return truncate(v, maxValueRunes), true
	case bool, int, int32, int64, uint32:
		return v, true
	case float64:
		return v, !math.IsNaN(v) && !math.IsInf(v, 0)
	}
	return nil, false
}

func validDocumentID(s string) bool {
	if len(s) != documentIDLen || strings.ToLower(s) != s {
		return false
	}
	b, err := hex.DecodeString(s)
	return err == nil && binary.BigEndian.Uint64(b) != 0
}
