package localaws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Error is an error as an AWS API reports it: the HTTP status, the error code and the
// message. Operations return it (wrapped or not); the protocol writers find it with errors.As.
type Error struct {
	Status  int
	Code    string
	Message string
	// QueryError is the X-Amzn-Query-Error header of query-compatible JSON services (SQS),
	// which SDKs read the legacy error code from.
	QueryError string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 Error with a formatted message: most AWS errors are.
func BadRequest(code, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, code, format, args...)
}

// asError finds the Error in err; any other error is an internal failure.
func asError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	return &Error{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()}
}

// JSON protocol content types.
const (
	JSON10 = "application/x-amz-json-1.0"
	JSON11 = "application/x-amz-json-1.1"
)

// JSONOperation is one operation of an AWS JSON protocol service: it gets the request, its
// caller and its body (never empty: "{}" when the client sent nothing) and returns the
// output to encode, or an error (an *Error, or anything else for an internal failure).
type JSONOperation func(r *http.Request, c Caller, body []byte) (any, error)

// JSONProtocol serves an AWS JSON protocol (1.0 or 1.1): a POST whose X-Amz-Target is
// TargetPrefix followed by the operation name, with the operation's input as the body.
type JSONProtocol struct {
	Service      string // the service's name in messages: "CodeBuild"
	TargetPrefix string // "CodeBuild_20161006."
	ContentType  string // JSON10 or JSON11; JSON11 when empty
	MaxBody      int    // the largest body accepted; 1 MiB when zero
	Operations   map[string]JSONOperation
	// Unsigned, when set, names the caller of a request localaws.Router did not resolve
	// (a stand-in that also serves on its own); when nil such a request is refused.
	Unsigned func(*http.Request) Caller
}

func (p *JSONProtocol) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if w.Header().Get("X-Amzn-Requestid") == "" {
		w.Header().Set("X-Amzn-Requestid", NewRequestID())
	}
	out, err := p.serve(r)
	if err != nil {
		p.writeError(w, asError(err))
		return
	}
	data, err := json.Marshal(out)
	if err != nil {
		p.writeError(w, asError(fmt.Errorf("encode the response: %w", err)))
		return
	}
	w.Header().Set("Content-Type", p.contentType())
	_, _ = w.Write(data)
}

func (p *JSONProtocol) serve(r *http.Request) (any, error) {
	caller, ok := CallerFrom(r.Context())
	if !ok {
		if p.Unsigned == nil {
			return nil, Errorf(http.StatusForbidden, "MissingAuthenticationTokenException", "the request is not signed")
		}
		caller = p.Unsigned(r)
	}
	if r.Method != http.MethodPost {
		return nil, Errorf(http.StatusMethodNotAllowed, "UnknownOperationException", "%s takes POST requests only", p.Service)
	}
	target := r.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, p.TargetPrefix)
	op := p.Operations[name]
	if !ok || op == nil {
		return nil, BadRequest("UnknownOperationException", "X-Amz-Target %q is not an operation of the local %s", target, p.Service)
	}
	limit := p.MaxBody
	if limit == 0 {
		limit = 1 << 20
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return nil, BadRequest("SerializationException", "read the request: %v", err)
	}
	if len(body) > limit {
		return nil, Errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "the request body is larger than %d bytes", limit)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	return op(r, caller, body)
}

func (p *JSONProtocol) contentType() string {
	if p.ContentType == "" {
		return JSON11
	}
	return p.ContentType
}

func (p *JSONProtocol) writeError(w http.ResponseWriter, e *Error) {
	if e.QueryError != "" {
		w.Header().Set("X-Amzn-Query-Error", e.QueryError)
	}
	writeJSONError(w, p.contentType(), e.Status, e.Code, e.Message)
}

// DecodeJSON reads an operation's input into v; a body that is not the input is the
// client's SerializationException. Unknown fields are ignored, as AWS ignores them.
func DecodeJSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return BadRequest("SerializationException", "cannot read the request: %v", err)
	}
	return nil
}

// JSONOp adapts an operation taking a decoded input to a JSONOperation.
func JSONOp[In any](f func(r *http.Request, c Caller, in In) (any, error)) JSONOperation {
	return func(r *http.Request, c Caller, body []byte) (any, error) {
		var in In
		if err := DecodeJSON(body, &in); err != nil {
			return nil, err
		}
		return f(r, c, in)
	}
}
