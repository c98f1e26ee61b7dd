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
)

// ServeHTTP serves EventBridge's JSON 1.1 protocol. The caller comes from localaws.Router.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.api.ServeHTTP(w, r)
}

// protocol is the operations the stand-in serves: PutEvents, ListRules and
// DescribeEventBus here, the control operations of control.go and replay.go.
func (s *Service) protocol() *localaws.JSONProtocol {
	return &localaws.JSONProtocol{Service: "EventBridge", TargetPrefix: targetPrefix, ContentType: localaws.JSON11, MaxBody: maxRequestBody,
		Operations: map[string]localaws.JSONOperation{
			"PutEvents":         localaws.JSONOp(s.servePutEvents),
			"ListRules":         localaws.JSONOp(s.serveListRules),
			"DescribeEventBus":  localaws.JSONOp(s.serveDescribeEventBus),
			"DescribeRule":      localaws.JSONOp(s.serveDescribeRule),
			"ListTargetsByRule": localaws.JSONOp(s.serveListTargetsByRule),
			"DisableRule":       localaws.JSONOp(s.serveEnableRule(false)),
			"EnableRule":        localaws.JSONOp(s.serveEnableRule(true)),
			"ListArchives":      localaws.JSONOp(s.serveListArchives),
			"PutPermission":     localaws.JSONOp(s.servePutPermission),
			"StartReplay":       localaws.JSONOp(s.serveStartReplay),
			"DescribeReplay":    localaws.JSONOp(s.serveDescribeReplay),
		}}
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

func (s *Service) servePutEvents(r *http.Request, caller localaws.Caller, in wirePutEventsInput) (any, error) {
	if in.EndpointId != "" {
		return nil, localaws.BadRequest(errValidationException, "global endpoints (EndpointId) are not emulated")
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
		return nil, localaws.Errorf(http.StatusBadRequest, re.Code, "%s", re.Message)
	case errors.Is(err, ErrClosed):
		return nil, localaws.Errorf(http.StatusServiceUnavailable, errServiceUnavailable, "the event bus service is shutting down")
	case err != nil:
		return nil, err // an internal failure
	}
	return res, nil
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

func (s *Service) serveListRules(_ *http.Request, caller localaws.Caller, in wireListRulesInput) (any, error) {
	k, err := s.ownBus(caller, in.EventBusName)
	if err != nil {
		return nil, err
	}
	if in.Limit < 0 || in.Limit > 100 {
		return nil, localaws.BadRequest(errValidationException, "Limit must be 1 to 100")
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
			return nil, localaws.BadRequest(errValidationException, "invalid NextToken")
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
	return out, nil
}

type wireDescribeEventBusInput struct {
	Name string
}

func (s *Service) serveDescribeEventBus(_ *http.Request, caller localaws.Caller, in wireDescribeEventBusInput) (any, error) {
	k, err := s.ownBus(caller, in.Name)
	if err != nil {
		return nil, err
	}
	policy, _ := s.lookupBus(k)
	out := struct {
		Name   string
		Arn    string
		Policy string `json:",omitempty"`
	}{Name: k.name, Arn: s.busARN(k), Policy: string(compact(policy))}
	return out, nil
}

// ownBus resolves a bus of the caller's account and Region.
func (s *Service) ownBus(caller localaws.Caller, nameOrARN string) (busKey, error) {
	k, err := resolveBus(nameOrARN, caller.Account, caller.Region)
	if err != nil {
		return busKey{}, localaws.BadRequest(errValidationException, "%s", err.Error())
	}
	if k.account != caller.Account || k.region != caller.Region {
		return busKey{}, localaws.BadRequest(errAccessDenied, "%s may not read %s", caller.ARN, s.busARN(k))
	}
	if _, ok := s.lookupBus(k); !ok {
		return busKey{}, localaws.BadRequest(errResourceNotFound, "Event bus %s does not exist.", k.name)
	}
	return k, nil
}
