package eventbridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// maxRequestBody bounds a request body; PutEvents entries are limited to
// 256 KB, so anything much larger is refused before decoding.
const maxRequestBody = 1 << 20

const targetPrefix = "AWSEvents."

// Request-level error codes.
const (
	errValidationException = "ValidationException"
	errServiceUnavailable  = "ServiceUnavailableException"
	errAccessDenied        = "AccessDeniedException"
	errResourceNotFound    = "ResourceNotFoundException"
	errInternalFailure     = "InternalFailure"
)

// ServeHTTP serves EventBridge's JSON 1.1 protocol: PutEvents, ListRules and
// DescribeEventBus. The caller comes from localaws.Router.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	caller, ok := localaws.CallerFrom(r.Context())
	if !ok {
		localaws.WriteJSONError(w, http.StatusForbidden, "MissingAuthenticationTokenException", "request is not signed")
		return
	}
	if r.Method != http.MethodPost {
		localaws.WriteJSONError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "only POST is supported")
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok {
		localaws.WriteJSONError(w, http.StatusBadRequest, "UnknownOperationException", "missing or foreign X-Amz-Target")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	dec := json.NewDecoder(r.Body)
	switch op {
	case "PutEvents":
		var in wirePutEventsInput
		if decodeInto(w, dec, &in) {
			s.servePutEvents(w, r, caller, in)
		}
	case "ListRules":
		var in wireListRulesInput
		if decodeInto(w, dec, &in) {
			s.serveListRules(w, caller, in)
		}
	case "DescribeEventBus":
		var in wireDescribeEventBusInput
		if decodeInto(w, dec, &in) {
			s.serveDescribeEventBus(w, caller, in)
		}
	default:
		if !s.serveControl(w, caller, op, dec) {
			localaws.WriteJSONError(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("operation %q is not emulated", op))
		}
	}
}

func decodeInto(w http.ResponseWriter, dec *json.Decoder, v any) bool {
	if err := dec.Decode(v); err != nil {
		localaws.WriteJSONError(w, http.StatusBadRequest, "SerializationException", "cannot read the request: "+err.Error())
		return false
	}
	return true
}

type wirePutEventsInput struct {
	Entries    []wireEntry
	EndpointId string
}

type wireEntry struct {
	Source       string
	DetailType   string
	Detail       string
	Resources    []string
	EventBusName string
	Time         *wireTime
	TraceHeader  string
}

// wireTime is a timestamp as AWS JSON protocols send it: epoch seconds,
// possibly fractional; an RFC 3339 string is accepted too.
type wireTime struct{ time.Time }

func (t *wireTime) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case float64:
		return t.fromEpoch(x)
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return t.fromEpoch(f)
		}
		parsed, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return fmt.Errorf("timestamp %q: %w", x, err)
		}
		t.Time = parsed
		return nil
	default:
		return fmt.Errorf("timestamp must be a number or a string, got %s", b)
	}
}

func (t *wireTime) fromEpoch(f float64) error {
	// Bounded to years 0001-9999 so conversion cannot overflow.
	if math.IsNaN(f) || f < -62135596800 || f > 253402300799 {
		return fmt.Errorf("timestamp %v out of range", f)
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

func (s *Service) servePutEvents(w http.ResponseWriter, r *http.Request, caller localaws.Caller, in wirePutEventsInput) {
	if in.EndpointId != "" {
		localaws.WriteJSONError(w, http.StatusBadRequest, errValidationException, "global endpoints (EndpointId) are not emulated")
		return
	}
	entries := make([]Entry, len(in.Entries))
	for i, e := range in.Entries {
		entries[i] = Entry{Source: e.Source, DetailType: e.DetailType, Detail: e.Detail, Resources: e.Resources, EventBusName: e.EventBusName}
		if e.Time != nil {
			entries[i].Time = e.Time.Time
		}
	}
	res, err := s.PutEvents(r.Context(), caller.Principal, caller.Region, entries)
	var re *RequestError
	switch {
	case errors.As(err, &re):
		localaws.WriteJSONError(w, http.StatusBadRequest, re.Code, re.Message)
		return
	case errors.Is(err, ErrClosed):
		localaws.WriteJSONError(w, http.StatusServiceUnavailable, errServiceUnavailable, "the event bus service is shutting down")
		return
	case err != nil:
		localaws.WriteJSONError(w, http.StatusInternalServerError, errInternalFailure, err.Error())
		return
	}
	localaws.WriteJSON(w, res)
}

type wireListRulesInput struct {
	EventBusName string
	NamePrefix   string
	NextToken    string
	Limit        int
}

type wireRule struct {
	Name               string
	Arn                string
	EventBusName       string
	EventPattern       string `json:",omitempty"`
	ScheduleExpression string `json:",omitempty"`
	State              string
}

func (s *Service) serveListRules(w http.ResponseWriter, caller localaws.Caller, in wireListRulesInput) {
	k, ok := s.ownBus(w, caller, in.EventBusName)
	if !ok {
		return
	}
	if in.Limit < 0 || in.Limit > 100 {
		localaws.WriteJSONError(w, http.StatusBadRequest, errValidationException, "Limit must be 1 to 100")
		return
	}
	s.mu.RLock()
	var rules []wireRule
	if b := s.buses[k]; b != nil {
		for _, r := range b.rules {
			if !strings.HasPrefix(r.name, in.NamePrefix) {
				continue
			}
			state := "ENABLED"
			if !r.enabled {
				state = "DISABLED"
			}
			wr := wireRule{Name: r.name, Arn: r.arn, EventBusName: k.name, EventPattern: string(r.raw), State: state}
			if r.period > 0 {
				wr.EventPattern, wr.ScheduleExpression = "", r.schedule
			}
			rules = append(rules, wr)
		}
	}
	s.mu.RUnlock()
	sort.Slice(rules, func(i, j int) bool { return rules[i].Name < rules[j].Name })
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 || n > len(rules) {
			localaws.WriteJSONError(w, http.StatusBadRequest, errValidationException, "invalid NextToken")
			return
		}
		start = n
	}
	limit := in.Limit
	if limit == 0 {
		limit = 100
	}
	out := struct {
		Rules     []wireRule
		NextToken string `json:",omitempty"`
	}{Rules: rules[start:min(start+limit, len(rules))]}
	if start+limit < len(rules) {
		out.NextToken = strconv.Itoa(start + limit)
	}
	if out.Rules == nil {
		out.Rules = []wireRule{}
	}
	localaws.WriteJSON(w, out)
}

type wireDescribeEventBusInput struct {
	Name string
}

func (s *Service) serveDescribeEventBus(w http.ResponseWriter, caller localaws.Caller, in wireDescribeEventBusInput) {
	k, ok := s.ownBus(w, caller, in.Name)
	if !ok {
		return
	}
	policy, _ := s.lookupBus(k)
	out := struct {
		Name   string
		Arn    string
		Policy string `json:",omitempty"`
	}{Name: k.name, Arn: s.busARN(k), Policy: string(compact(policy))}
	localaws.WriteJSON(w, out)
}

// ownBus resolves a bus of the caller's account and Region, writing the
// error response when there is none.
func (s *Service) ownBus(w http.ResponseWriter, caller localaws.Caller, nameOrARN string) (busKey, bool) {
	k, err := resolveBus(nameOrARN, caller.Account, caller.Region)
	if err != nil {
		localaws.WriteJSONError(w, http.StatusBadRequest, errValidationException, err.Error())
		return busKey{}, false
	}
	if k.account != caller.Account || k.region != caller.Region {
		localaws.WriteJSONError(w, http.StatusBadRequest, errAccessDenied, fmt.Sprintf("%s may not read %s", caller.ARN, s.busARN(k)))
		return busKey{}, false
	}
	if _, ok := s.lookupBus(k); !ok {
		localaws.WriteJSONError(w, http.StatusBadRequest, errResourceNotFound, fmt.Sprintf("Event bus %s does not exist.", k.name))
		return busKey{}, false
	}
	return k, true
}
