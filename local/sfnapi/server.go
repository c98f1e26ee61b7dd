package sfnapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"sync"

	"github.com/crossbuild/crossbuild/local/asl"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// contentType is the Step Functions protocol: AWS JSON 1.0.
const contentType = localaws.JSON10

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

	api *localaws.JSONProtocol
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
	h.api = h.protocol()
	return h
}

func errorf(code, format string, args ...any) *localaws.Error {
	return localaws.BadRequest(code, format, args...)
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

// protocol is the Handler's AWS JSON 1.0 protocol. Unlike the other stand-ins it also
// serves requests that did not come through localaws.Router, so that it can run on its own.
func (h *Handler) protocol() *localaws.JSONProtocol {
	ops := make(map[string]localaws.JSONOperation, len(operations))
	for name, op := range operations {
		ops[name] = func(_ *http.Request, c localaws.Caller, body []byte) (any, error) {
			return op(h, caller{region: c.Region, account: c.Account}, body)
		}
	}
	return &localaws.JSONProtocol{Service: "Step Functions", TargetPrefix: targetPrefix, ContentType: contentType,
		MaxBody: maxRequestBytes, Operations: ops,
		Unsigned: func(r *http.Request) localaws.Caller {
			c := h.callerOf(r)
			return localaws.Caller{Principal: localaws.Principal{Account: c.account}, Region: c.region}
		}}
}

// ServeHTTP implements the AWS JSON 1.0 protocol: a POST whose X-Amz-Target
// names the operation and whose body is its JSON input.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.api.ServeHTTP(w, r)
}

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
	scope, err := localaws.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return c
	}
	c.region = scope.Region
	if accountID.MatchString(scope.AccessKeyID) {
		c.account = scope.AccessKeyID
	}
	return c
}

// decode reads an operation's input. Fields this service does not use are
// ignored, so newer clients keep working.
func decode(body []byte, v any) error { return localaws.DecodeJSON(body, v) }
