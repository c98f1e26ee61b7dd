package sfnapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/crossbuild/crossbuild/local/localaws"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/crossbuild/crossbuild/local/asl"
)

// contentType is the Step Functions protocol: AWS JSON 1.0.
const contentType = "application/x-amz-json-1.0"

// targetPrefix precedes the operation name in X-Amz-Target.
const targetPrefix = "AWSStepFunctions."

// maxRequestBytes bounds request bodies: a definition may be 1 MiB and an
// input 256 KiB, both JSON-escaped inside the request.
const maxRequestBytes = 4 << 20

// Options configures a Handler.
type Options struct {
	// DefaultRegion is used when a request carries no SigV4 credential scope.
	// Defaults to us-east-1.
	DefaultRegion string
	// DefaultAccount is used when the access key id of a request is not a
	// 12-digit account id. Defaults to 123456789012.
	DefaultAccount string
	// Publisher receives a "Step Functions Execution Status Change" event on the
	// default bus of the execution's account and Region whenever an execution ends,
	// child executions included. Nil: no events.
	Publisher Publisher
	// Logger receives the stand-in's own diagnostics; discarded by default.
	Logger *slog.Logger
}

// Handler serves the Step Functions JSON API over an asl.Engine.
type Handler struct {
	engine         *asl.Engine
	defaultRegion  string
	defaultAccount string
	pub            Publisher
	log            *slog.Logger

	mu       sync.Mutex
	machines map[string]*stateMachine // by ARN
	order    []string                 // machine ARNs in creation order
}

// stateMachine is a created state machine and its executions.
type stateMachine struct {
	arn        string
	name       string
	definition string
	parsed     *asl.Definition
	roleArn    string
	typ        string
	created    asl.EpochTime
	logging    json.RawMessage
	tracing    json.RawMessage
	executions []*asl.Execution // in start order
	byName     map[string]*asl.Execution
}

// New returns a Handler serving engine.
func New(engine *asl.Engine, opts Options) *Handler {
	h := &Handler{
		engine:         engine,
		defaultRegion:  opts.DefaultRegion,
		defaultAccount: opts.DefaultAccount,
		machines:       map[string]*stateMachine{},
		pub:            opts.Publisher,
		log:            opts.Logger,
	}
	if h.log == nil {
		h.log = discardLogger()
	}
	if h.pub != nil {
		engine.OnExecutionEnd(h.publishEnd)
	}
	if h.defaultRegion == "" {
		h.defaultRegion = "us-east-1"
	}
	if h.defaultAccount == "" {
		h.defaultAccount = "123456789012"
	}
	return h
}

// apiError is an error response of the protocol.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errorf(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

// caller is who sent a request, as far as the local service cares.
type caller struct {
	region  string
	account string
}

type operation func(h *Handler, c caller, body []byte) (any, error)

var operations = map[string]operation{
	"CreateStateMachine":   (*Handler).createStateMachine,
	"DescribeStateMachine": (*Handler).describeStateMachine,
	"ListStateMachines":    (*Handler).listStateMachines,
	"StartExecution":       (*Handler).startExecution,
	"DescribeExecution":    (*Handler).describeExecution,
	"ListExecutions":       (*Handler).listExecutions,
	"GetExecutionHistory":  (*Handler).getExecutionHistory,
	"StopExecution":        (*Handler).stopExecution,
	"SendTaskSuccess":      (*Handler).sendTaskSuccess,
	"SendTaskFailure":      (*Handler).sendTaskFailure,
	"SendTaskHeartbeat":    (*Handler).sendTaskHeartbeat,
	"DescribeMapRun":       (*Handler).describeMapRun,
	"ListMapRuns":          (*Handler).listMapRuns,
}

// ServeHTTP implements the AWS JSON 1.0 protocol: a POST whose X-Amz-Target
// names the operation and whose body is its JSON input.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := asl.NewUUID()
	w.Header().Set("x-amzn-RequestId", requestID)
	out, err := h.serve(r)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{status: http.StatusInternalServerError, code: "InternalFailure", msg: err.Error()}
		}
		writeJSON(w, ae.status, map[string]string{"__type": ae.code, "message": ae.msg}, ae.code)
		return
	}
	writeJSON(w, http.StatusOK, out, "")
}

func (h *Handler) serve(r *http.Request) (any, error) {
	if r.Method != http.MethodPost {
		return nil, &apiError{status: http.StatusMethodNotAllowed, code: "UnknownOperationException", msg: "only POST is supported"}
	}
	target := r.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, targetPrefix)
	op := operations[name]
	if !ok || op == nil {
		return nil, errorf("UnknownOperationException", "unknown operation %q", target)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		return nil, errorf("SerializationException", "read request: %v", err)
	}
	if len(body) > maxRequestBytes {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: "RequestEntityTooLarge", msg: "the request body is too large"}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	return op(h, h.callerOf(r), body)
}

func writeJSON(w http.ResponseWriter, status int, v any, errorType string) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data = []byte(`{"__type":"InternalFailure","message":"response encoding failed"}`)
		errorType = "InternalFailure"
	}
	w.Header().Set("Content-Type", contentType)
	if errorType != "" {
		w.Header().Set("X-Amzn-ErrorType", errorType)
	}
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// credentialScope matches the Credential of a SigV4 Authorization header:
// access key id / date / region / service / aws4_request.
var credentialScope = regexp.MustCompile(`Credential=([^/,\s]+)/[0-9]{8}/([a-z0-9-]+)/[^/,\s]+/aws4_request`)

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// callerOf reads the Region and account a request is addressed to from its
// SigV4 Authorization header. The signature is not verified: this is a
// local stand-in, and any credentials are accepted. The Region is the one in
// the credential scope; the account is the access key id when that is a
// 12-digit account id (so AWS_ACCESS_KEY_ID=222222222222 acts as that
// account), and the default account otherwise.
func (h *Handler) callerOf(r *http.Request) caller {
	// Behind localaws.Router the caller is resolved from its credentials.
	if lc, ok := localaws.CallerFrom(r.Context()); ok {
		return caller{region: lc.Region, account: lc.Account}
	}
	c := caller{region: h.defaultRegion, account: h.defaultAccount}
	m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return c
	}
	c.region = m[2]
	if accountID.MatchString(m[1]) {
		c.account = m[1]
	}
	return c
}

// decode reads an operation's input. Fields this service does not use are
// ignored, so newer clients keep working.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return errorf("SerializationException", "invalid request: %v", err)
	}
	return nil
}
