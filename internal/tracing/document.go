package tracing

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"unicode"

	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-sdk-go-v2/otelaws"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Attribute keys with a meaning in the X-Ray document. Everything else goes to metadata.
const (
	annotationPrefix = "xray.annotation."

	// What otelaws sets on an SDK call span: rpc.method is "<service>/<operation>".
	attrRPCSystem  = string(semconv.RPCSystemNameKey)
	attrRPCMethod  = string(semconv.RPCMethodKey)
	attrRegion     = string(otelaws.RegionKey)
	attrRequestID  = string(otelaws.RequestIDKey)
	attrHTTPStatus = string(semconv.HTTPResponseStatusCodeKey)
	attrErrorType  = string(semconv.ErrorTypeKey) // the Go type; the exception holds the API error code

	rpcSystemAWS = otelaws.AWSSystemVal

	exceptionEvent   = "exception"
	attrExcType      = "exception.type"
	attrExcMessage   = "exception.message"
	metadataNS       = "default"
	truncatedKey     = "truncated"
	maxNameRunes     = 200  // X-Ray's limit for segment names
	maxKeyRunes      = 500  // X-Ray's limit for annotation keys
	maxValueRunes    = 1000 // X-Ray's limit for annotation values
	maxFieldRunes    = 256  // operation, Region, request id: real ones are far shorter
	maxExceptions    = 10
	maxMessageRunes  = 1024
	shortMessageRune = 256
)

// segment is a classic X-Ray segment document, or a subsegment sent on its own when Type
// is "subsegment".
type segment struct {
	Name        string                    `json:"name"`
	ID          string                    `json:"id"`
	TraceID     string                    `json:"trace_id"`
	ParentID    string                    `json:"parent_id,omitempty"`
	Type        string                    `json:"type,omitempty"`
	Origin      string                    `json:"origin,omitempty"`
	StartTime   float64                   `json:"start_time"`
	EndTime     float64                   `json:"end_time,omitempty"`
	InProgress  bool                      `json:"in_progress,omitempty"`
	Namespace   string                    `json:"namespace,omitempty"`
	Error       bool                      `json:"error,omitempty"`
	Throttle    bool                      `json:"throttle,omitempty"`
	Fault       bool                      `json:"fault,omitempty"`
	Cause       *cause                    `json:"cause,omitempty"`
	HTTP        *httpInfo                 `json:"http,omitempty"`
	AWS         *awsInfo                  `json:"aws,omitempty"`
	Annotations map[string]any            `json:"annotations,omitempty"`
	Metadata    map[string]map[string]any `json:"metadata,omitempty"`
}

type cause struct {
	Exceptions []exception `json:"exceptions"`
}

type exception struct {
	ID      string `json:"id"`
	Type    string `json:"type,omitempty"`
	Message string `json:"message,omitempty"`
	Remote  bool   `json:"remote,omitempty"`
}

type httpInfo struct {
	Response httpResponse `json:"response"`
}

type httpResponse struct {
	Status int64 `json:"status"`
}

type awsInfo struct {
	AccountID string `json:"account_id,omitempty"`
	Operation string `json:"operation,omitempty"`
	Region    string `json:"region,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// toSegment converts one ended span. A span with a parent (local, or remote from the
// Lambda trace header) becomes a subsegment of that parent; a span without one becomes a
// segment of its own.
func toSegment(s sdktrace.ReadOnlySpan) *segment {
	sc := s.SpanContext()
	seg := &segment{
		Name:      sanitizeName(s.Name()),
		ID:        sc.SpanID().String(),
		TraceID:   XRayTraceID(sc.TraceID()),
		StartTime: epochSeconds(s.StartTime().UnixMicro()),
	}
	seg.EndTime = max(epochSeconds(s.EndTime().UnixMicro()), seg.StartTime)
	if p := s.Parent(); p.SpanID().IsValid() {
		seg.ParentID = p.SpanID().String()
		seg.Type = "subsegment"
	}

	var isAWS bool
	var service string
	var status int64
	aws := awsInfo{}
	for _, kv := range s.Attributes() {
		key := string(kv.Key)
		switch key {
		case attrRPCSystem:
			isAWS = kv.Value.AsString() == rpcSystemAWS
			continue
		case attrRPCMethod:
			method := kv.Value.Emit()
			if svc, op, ok := strings.Cut(method, "/"); ok {
				service, method = svc, op
			}
			aws.Operation = truncate(method, maxFieldRunes)
			continue
		case attrErrorType:
			continue
		case attrRegion:
			aws.Region = truncate(kv.Value.Emit(), maxFieldRunes)
			continue
		case attrRequestID:
			aws.RequestID = truncate(kv.Value.Emit(), maxFieldRunes)
			continue
		case attrHTTPStatus:
			if kv.Value.Type() == attribute.INT64 {
				status = kv.Value.AsInt64()
				continue
			}
		}
		if name, ok := strings.CutPrefix(key, annotationPrefix); ok {
			if v, ok := annotationValue(kv.Value); ok && sanitizeKey(name) != "" {
				if seg.Annotations == nil {
					seg.Annotations = map[string]any{}
				}
				seg.Annotations[sanitizeKey(name)] = v
				continue
			}
		}
		if seg.Metadata == nil {
			seg.Metadata = map[string]map[string]any{metadataNS: {}}
		}
		seg.Metadata[metadataNS][key] = jsonValue(kv.Value)
	}

	if isAWS {
		seg.Namespace = "aws"
		if service != "" {
			seg.Name = sanitizeName(service) // X-Ray groups AWS calls by service name
		}
	}
	if aws != (awsInfo{}) {
		seg.AWS = &aws
	}
	if status > 0 {
		seg.HTTP = &httpInfo{Response: httpResponse{Status: status}}
	}

	switch {
	case status == 429:
		seg.Error, seg.Throttle = true, true
	case status >= 500:
		seg.Fault = true
	case status >= 400:
		seg.Error = true
	case s.Status().Code == codes.Error:
		seg.Fault = true
	}

	for _, ev := range s.Events() {
		if ev.Name != exceptionEvent {
			continue
		}
		if seg.Cause == nil {
			seg.Cause = &cause{}
		}
		if len(seg.Cause.Exceptions) == maxExceptions {
			break
		}
		ex := exception{ID: exceptionID(seg.ID, len(seg.Cause.Exceptions)), Remote: isAWS}
		for _, kv := range ev.Attributes {
			switch kv.Key {
			case attrExcType:
				ex.Type = truncate(kv.Value.Emit(), maxFieldRunes)
			case attrExcMessage:
				ex.Message = truncate(kv.Value.Emit(), maxMessageRunes)
			}
		}
		seg.Cause.Exceptions = append(seg.Cause.Exceptions, ex)
	}
	return seg
}

// shrinkSteps make a document smaller, least valuable data first. Each reports whether it
// changed anything.
var shrinkSteps = []func(*segment) bool{
	func(s *segment) bool { // metadata is never indexed
		if s.Metadata == nil || (len(s.Metadata) == 1 && len(s.Metadata[metadataNS]) == 1 && s.Metadata[metadataNS][truncatedKey] == true) {
			return false
		}
		s.Metadata = map[string]map[string]any{metadataNS: {truncatedKey: true}}
		return true
	},
	func(s *segment) bool { // keep the first exception, shortened
		if s.Cause == nil {
			return false
		}
		s.Cause.Exceptions = s.Cause.Exceptions[:min(1, len(s.Cause.Exceptions))]
		for i := range s.Cause.Exceptions {
			s.Cause.Exceptions[i].Message = truncate(s.Cause.Exceptions[i].Message, shortMessageRune)
		}
		return true
	},
	func(s *segment) bool { // annotations that are not ours
		changed := false
		for k := range s.Annotations {
			if !projectKeys[k] {
				delete(s.Annotations, k)
				changed = true
			}
		}
		return changed
	},
	func(s *segment) bool {
		changed := s.Cause != nil || s.Annotations != nil
		s.Cause, s.Annotations = nil, nil
		return changed
	},
}

// TooLargeError reports a span that could not be made to fit in one datagram.
type TooLargeError struct {
	Name  string
	Bytes int
	Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("span %q: %d bytes even after truncation, limit %d", e.Name, e.Bytes, e.Limit)
}

// datagramHeader precedes every document sent to the daemon.
const datagramHeader = `{"format": "json", "version": 1}` + "\n"

// encodeDatagram renders seg as a daemon datagram of at most limit bytes, dropping the
// least valuable fields first when it is too large.
func encodeDatagram(seg *segment, limit int) ([]byte, error) {
	b, err := marshalDatagram(seg)
	for i := 0; err == nil && len(b) > limit && i < len(shrinkSteps); i++ {
		if shrinkSteps[i](seg) {
			b, err = marshalDatagram(seg)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("encode span %q: %w", seg.Name, err)
	}
	if len(b) > limit {
		return nil, &TooLargeError{Name: seg.Name, Bytes: len(b), Limit: limit}
	}
	return b, nil
}

func marshalDatagram(seg *segment) ([]byte, error) {
	doc, err := json.Marshal(seg)
	if err != nil {
		return nil, err
	}
	return append([]byte(datagramHeader), doc...), nil
}

// epochSeconds renders microseconds as the float seconds X-Ray expects.
func epochSeconds(micros int64) float64 {
	return float64(micros) / 1e6
}

// exceptionID derives a stable 16-hex-digit id, unique within the trace for practical
// purposes, from the span id and the exception's position.
func exceptionID(spanID string, i int) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(spanID))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(i))
	_, _ = h.Write(n[:])
	return fmt.Sprintf("%016x", h.Sum64())
}

// annotationValue returns v as an X-Ray annotation value: string, number or bool.
func annotationValue(v attribute.Value) (any, bool) {
	switch v.Type() {
	case attribute.STRING:
		return truncate(v.AsString(), maxValueRunes), true
	case attribute.BOOL:
		return v.AsBool(), true
	case attribute.INT64:
		return v.AsInt64(), true
	case attribute.FLOAT64:
		f := v.AsFloat64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, false
		}
		return f, true
	default:
		return nil, false
	}
}

// jsonValue returns v in a form encoding/json always accepts (it refuses NaN and ±Inf).
func jsonValue(v attribute.Value) any {
	switch v.Type() {
	case attribute.BOOL, attribute.INT64, attribute.STRING,
		attribute.BOOLSLICE, attribute.INT64SLICE, attribute.STRINGSLICE:
		return v.AsInterface()
	case attribute.FLOAT64:
		return finite(v.AsFloat64())
	case attribute.FLOAT64SLICE:
		in := v.AsFloat64Slice()
		out := make([]any, len(in))
		for i, f := range in {
			out[i] = finite(f)
		}
		return out
	default:
		return v.Emit()
	}
}

func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return f
}

// sanitizeName keeps the characters X-Ray allows in a name: letters, digits, white space
// and _ . : / % & # = + \ - @.
func sanitizeName(s string) string {
	s = truncate(s, maxNameRunes)
	s = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsSpace(r) || strings.ContainsRune(`_.:/%&#=+\-@`, r) {
			return r
		}
		return '_'
	}, s)
	if strings.TrimSpace(s) == "" {
		return "unnamed"
	}
	return s
}

// sanitizeKey maps an annotation key onto [A-Za-z0-9_], the only keys X-Ray indexes.
func sanitizeKey(s string) string {
	s = truncate(s, maxKeyRunes)
	return strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
			return r
		}
		return '_'
	}, s)
}

func truncate(s string, runes int) string {
	n := 0
	for i := range s {
		if n == runes {
			return s[:i]
		}
		n++
	}
	return s
}
