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

func (s *Service) serveDescribeRule(_ *http.Request, caller localaws.Caller, in wireRuleRef) (any, error) {
	r, k, err := s.ownRule(caller, in.EventBusName, in.Name)
	if err != nil {
		return nil, err
	}
	return s.wireRuleOf(r, k), nil
}

func (s *Service) serveListTargetsByRule(_ *http.Request, caller localaws.Caller, in wireListTargetsInput) (any, error) {
	r, _, err := s.ownRule(caller, in.EventBusName, in.Rule)
	if err != nil {
		return nil, err
	}
	return struct{ Targets []wireTarget }{wireTargetsOf(r)}, nil
}

// serveEnableRule is EnableRule (enabled) or DisableRule.
func (s *Service) serveEnableRule(enabled bool) func(*http.Request, localaws.Caller, wireRuleRef) (any, error) {
	return func(_ *http.Request, caller localaws.Caller, in wireRuleRef) (any, error) {
		r, _, err := s.ownRule(caller, in.EventBusName, in.Name)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		r.enabled = enabled
		s.mu.Unlock()
		return struct{}{}, nil
	}
}

// ownRule finds a rule on a bus of the caller's account and Region.
func (s *Service) ownRule(caller localaws.Caller, busName, name string) (*rule, busKey, error) {
	k, err := s.ownBus(caller, busName)
	if err != nil {
		return nil, busKey{}, err
	}
	s.mu.RLock()
	var r *rule
	if b := s.buses[k]; b != nil {
		r = b.rules[name]
	}
	s.mu.RUnlock()
	if r == nil {
		return nil, busKey{}, localaws.BadRequest(errResourceNotFound, "Rule %s does not exist on EventBus %s.", name, k.name)
	}
	return r, k, nil
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

func (s *Service) serveListArchives(_ *http.Request, caller localaws.Caller, in wireListArchivesInput) (any, error) {
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
	return struct{ Archives []wireArchive }{out}, nil
}

// servePutPermission takes the Policy form only: it replaces the bus's whole resource
// policy, as PutPermission does with Policy.
func (s *Service) servePutPermission(_ *http.Request, caller localaws.Caller, in wirePutPermissionInput) (any, error) {
	if in.Policy == "" || in.Action != "" || in.Principal != "" || in.StatementId != "" || len(in.Condition) > 0 {
		return nil, localaws.BadRequest(errValidationException, "only PutPermission with a whole Policy is emulated")
	}
	k, err := s.ownBus(caller, in.EventBusName)
	if err != nil {
		return nil, err
	}
	if err := s.setPolicy(k, json.RawMessage(in.Policy)); err != nil {
		return nil, localaws.BadRequest(errValidationException, "%s", err.Error())
	}
	return struct{}{}, nil
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
