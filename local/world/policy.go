package world

import (
	"encoding/json"
	"sync"

	"github.com/crossbuild/crossbuild/internal/iam"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// policyEvaluator lets the EventBridge stand-in ask IAM whether a bus policy admits a sender.
type policyEvaluator struct{}

var parsed sync.Map // policy text -> *iam.Policy or error

func (policyEvaluator) Allows(policy json.RawMessage, principal localaws.Principal, action, resource string, context map[string][]string) (bool, string) {
	key := string(policy)
	v, ok := parsed.Load(key)
	if !ok {
		p, err := iam.Parse(policy)
		if err != nil {
			v = err
		} else {
			v = p
		}
		parsed.Store(key, v)
	}
	p, ok := v.(*iam.Policy)
	if !ok {
		return false, "the resource policy does not parse: " + v.(error).Error()
	}
	decision, why := p.Evaluate(iam.Request{Principal: principal, Action: action, Resource: resource, Context: context}, true)
	return decision == iam.Allow, why.String()
}
