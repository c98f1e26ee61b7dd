package eventbridge

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// The read operations an operator's tools use to check a deployment (DescribeRule,
// ListTargetsByRule, ListArchives), the two changes of the EventBridge API that
// misconfigure one (DisableRule, PutPermission with a whole Policy), and replays
// (StartReplay, DescribeReplay; replay.go).

type wireRuleRef struct {
	Name         string
	EventBusName string
}

type wireListTargetsInput struct {
	Rule         string
	EventBusName string
	NextToken    string
	Limit        int
}

type wireTarget struct {
	Id               string
	Arn              string
	RoleArn          string                `json:",omitempty"`
	Input            string                `json:",omitempty"`
	InputPath        string                `json:",omitempty"`
	DeadLetterConfig *struct{ Arn string } `json:",omitempty"`
	RetryPolicy      *struct {
		MaximumRetryAttempts     int
		MaximumEventAgeInSeconds int
	} `json:",omitempty"`
}

type wireListArchivesInput struct {
	EventSourceArn string
	NamePrefix     string
	State          string
	NextToken      string
	Limit          int
}

type wirePutPermissionInput struct {
	EventBusName string
	Policy       string
	Action       string
	Principal    string
	StatementId  string
	Condition    json.RawMessage
}

// serveControl handles the operations above; it reports false for any other.
func (s *Service) serveControl(w http.ResponseWriter, caller localaws.Caller, op string, dec *json.Decoder) bool {
	switch op {
	case "DescribeRule":
		var in wireRuleRef
		if decodeInto(w, dec, &in) {
			if r, k, ok := s.ownRule(w, caller, in.EventBusName, in.Name); ok {
				localaws.WriteJSON(w, s.wireRuleOf(r, k))
			}
		}
	case "ListTargetsByRule":
		var in wireListTargetsInput
		if decodeInto(w, dec, &in) {
			if r, _, ok := s.ownRule(w, caller, in.EventBusName, in.Rule); ok {
				localaws.WriteJSON(w, struct{ Targets []wireTarget }{wireTargetsOf(r)})
			}
		}
	case "DisableRule", "EnableRule":
		var in wireRuleRef
		if decodeInto(w, dec, &in) {
			if r, _, ok := s.ownRule(w, caller, in.EventBusName, in.Name); ok {
				s.mu.Lock()
				r.enabled = op == "EnableRule"
				s.mu.Unlock()
				localaws.WriteJSON(w, struct{}{})
			}
		}
	case "ListArchives":
		var in wireListArchivesInput
		if decodeInto(w, dec, &in) {
			s.serveListArchives(w, caller, in)
		}
	case "PutPermission":
		var in wirePutPermissionInput
		if decodeInto(w, dec, &in) {
			s.servePutPermission(w, caller, in)
		}
	case "StartReplay":
		var in wireStartReplayInput
		if decodeInto(w, dec, &in) {
			s.serveStartReplay(w, caller, in)
		}
	case "DescribeReplay":
		var in struct{ ReplayName string }
		if decodeInto(w, dec, &in) {
			s.serveDescribeReplay(w, caller, in.ReplayName)
		}
	default:
		return false
	}
	return true
}

// ownRule finds a rule on a bus of the caller's account and Region.
func (s *Service) ownRule(w http.ResponseWriter, caller localaws.Caller, busName, name string) (*rule, busKey, bool) {
	k, ok := s.ownBus(w, caller, busName)
	if !ok {
		return nil, busKey{}, false
	}
	s.mu.RLock()
	var r *rule
	if b := s.buses[k]; b != nil {
		r = b.rules[name]
	}
	s.mu.RUnlock()
	if r == nil {
		localaws.WriteJSONError(w, http.StatusBadRequest, errResourceNotFound, fmt.Sprintf("Rule %s does not exist on EventBus %s.", name, k.name))
		return nil, busKey{}, false
	}
	return r, k, true
}

func (s *Service) wireRuleOf(r *rule, k busKey) wireRule {
	s.mu.RLock()
	defer s.mu.RUnlock()
	state := "ENABLED"
	if !r.enabled {
		state = "DISABLED"
	}
	out := wireRule{Name: r.name, Arn: r.arn, EventBusName: k.name, EventPattern: string(r.raw), State: state}
	if r.period > 0 {
		out.EventPattern, out.ScheduleExpression = "", r.schedule
	}
	return out
}

func wireTargetsOf(r *rule) []wireTarget {
	out := make([]wireTarget, 0, len(r.targets))
	for _, t := range r.targets {
		wt := wireTarget{Id: t.ID, Arn: t.ARN, RoleArn: t.RoleARN, Input: t.Input, InputPath: t.InputPath}
		if t.DeadLetterARN != "" {
			wt.DeadLetterConfig = &struct{ Arn string }{t.DeadLetterARN}
		}
		if t.Target.MaxRetryAttempts != 0 || t.Target.MaxEventAge != 0 {
			wt.RetryPolicy = &struct {
				MaximumRetryAttempts     int
				MaximumEventAgeInSeconds int
			}{t.retries, int(t.maxAge.Seconds())}
		}
		out = append(out, wt)
	}
	return out
}

func (s *Service) serveListArchives(w http.ResponseWriter, caller localaws.Caller, in wireListArchivesInput) {
	type wireArchive struct {
		ArchiveName    string
		EventSourceArn string
		State          string
		EventCount     int
	}
	s.mu.RLock()
	var out []wireArchive
	for k, a := range s.archives {
		source := s.busARN(a.bus)
		if k.account != caller.Account || k.region != caller.Region || !strings.HasPrefix(k.name, in.NamePrefix) ||
			(in.EventSourceArn != "" && in.EventSourceArn != source) || (in.State != "" && in.State != "ENABLED") {
			continue
		}
		a.mu.Lock()
		n := len(a.events)
		a.mu.Unlock()
		out = append(out, wireArchive{ArchiveName: k.name, EventSourceArn: source, State: "ENABLED", EventCount: n})
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ArchiveName < out[j].ArchiveName })
	if out == nil {
		out = []wireArchive{}
	}
	localaws.WriteJSON(w, struct{ Archives []wireArchive }{out})
}

// servePutPermission takes the Policy form only: it replaces the bus's whole resource
// policy, as PutPermission does with Policy.
func (s *Service) servePutPermission(w http.ResponseWriter, caller localaws.Caller, in wirePutPermissionInput) {
	if in.Policy == "" || in.Action != "" || in.Principal != "" || in.StatementId != "" || len(in.Condition) > 0 {
		localaws.WriteJSONError(w, http.StatusBadRequest, errValidationException, "only PutPermission with a whole Policy is emulated")
		return
	}
	k, ok := s.ownBus(w, caller, in.EventBusName)
	if !ok {
		return
	}
	if err := s.setPolicy(k, json.RawMessage(in.Policy)); err != nil {
		localaws.WriteJSONError(w, http.StatusBadRequest, errValidationException, err.Error())
		return
	}
	localaws.WriteJSON(w, struct{}{})
}

// setPolicy replaces the resource policy of an existing bus.
func (s *Service) setPolicy(k busKey, policy json.RawMessage) error {
	if !json.Valid(policy) || len(policy) == 0 || policy[0] != '{' {
		return fmt.Errorf("Policy is not a JSON object")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buses[k] == nil && k.name != DefaultBus {
		return fmt.Errorf("event bus %s does not exist", s.busARN(k))
	}
	s.busLocked(k).policy = append(json.RawMessage(nil), compact(policy)...)
	return nil
}
