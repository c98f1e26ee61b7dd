package conformance

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/infra/statemachine"
	"github.com/crossbuild/crossbuild/internal/toolpath"
)

// Function names the app's Lambda tasks invoke in the conformance cases;
// testdata/app.json keys its handlers by them.
const (
	appPlanner    = "planner"
	appStarter    = "starter"
	appPoller     = "poller"
	appSummariser = "summariser"
	appCanceller  = "canceller"
)

// appDefinition renders the app's state machine as the source stack does:
// the builder of infra/statemachine with the settings of infra/cdk.json, and
// Lambda ARNs in place of the tokens CloudFormation resolves at deploy time.
func appDefinition() (json.RawMessage, error) {
	root, err := toolpath.ModuleRoot()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(root, "infra", "cdk.json"))
	if err != nil {
		return nil, fmt.Errorf("read the app's settings: %w", err)
	}
	var cdk struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &cdk); err != nil {
		return nil, fmt.Errorf("parse infra/cdk.json: %w", err)
	}
	cfg, err := config.Load(func(key string) any { return cdk.Context[key] })
	if err != nil {
		return nil, fmt.Errorf("infra/cdk.json: %w", err)
	}
	arn := func(name string) string {
		return fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", cfg.Partition, cfg.SourceRegion, cfg.SourceAccount, name)
	}
	def, err := statemachine.Definition(statemachine.Params{
		PlannerARN:    arn(appPlanner),
		StarterARN:    arn(appStarter),
		PollerARN:     arn(appPoller),
		SummariserARN: arn(appSummariser),
		CancellerARN:  arn(appCanceller),
	})
	if err != nil {
		return nil, err
	}
	return json.RawMessage(def), nil
}

// appTargetDefinition is the state machine each target's child execution runs: the app's
// Distributed Map item processor as a definition of its own. The top level (planner,
// ItemReader, ResultWriter, summariser) is not compared: aws-local-stepfunctions runs a
// distributed Map as an inline one and reads no items from S3 (docs/local.md).
func appTargetDefinition() (json.RawMessage, error) {
	raw, err := appDefinition()
	if err != nil {
		return nil, err
	}
	var def struct {
		States map[string]struct {
			ItemProcessor *struct {
				StartAt string          `json:"StartAt"`
				States  json.RawMessage `json:"States"`
			} `json:"ItemProcessor"`
		} `json:"States"`
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		return nil, fmt.Errorf("decode the app definition: %w", err)
	}
	m := def.States[statemachine.StateRunTargets].ItemProcessor
	if m == nil {
		return nil, fmt.Errorf("the app definition has no %q item processor", statemachine.StateRunTargets)
	}
	return json.Marshal(map[string]any{"QueryLanguage": "JSONPath", "StartAt": m.StartAt, "States": m.States})
}

// failCausesThroughPass rewrites, for aws-local-stepfunctions only, each Fail state whose
// ErrorPath or CausePath is an intrinsic function into a Pass state that evaluates the
// same paths into {"error", "cause"} and a Fail state reading them with plain paths.
//
// Step Functions accepts intrinsic functions in a Fail state's ErrorPath and CausePath and
// local/asl evaluates them; aws-local-stepfunctions 3.0.0 reads them as JSONPath and fails
// with States.Runtime ("Path expression 'States.JsonToString($)' does not point to a
// value"), while it evaluates the same functions in Parameters. The rewrite leaves the
// error name and the cause the reference computes to its own intrinsic functions, so the
// app's failing targets are compared with it instead of excluded. testdata/fail.json keeps
// the difference itself as an excluded case ("fail cause path as an intrinsic function").
func failCausesThroughPass(def json.RawMessage) (json.RawMessage, error) {
	var m map[string]any
	if err := json.Unmarshal(def, &m); err != nil {
		return nil, fmt.Errorf("decode definition: %w", err)
	}
	states, _ := m["States"].(map[string]any)
	for name, v := range maps.Clone(states) {
		st, _ := v.(map[string]any)
		if st["Type"] != "Fail" || !(isIntrinsic(st["ErrorPath"]) || isIntrinsic(st["CausePath"])) {
			continue
		}
		params := map[string]any{}
		fail := map[string]any{"Type": "Fail"}
		for field, key := range map[string]string{"Error": "error", "Cause": "cause"} {
			if p, ok := st[field+"Path"]; ok {
				params[key+".$"] = p
				fail[field+"Path"] = "$." + key
			} else if lit, ok := st[field]; ok {
				fail[field] = lit
			}
		}
		failName := name + " (fail)"
		if _, taken := states[failName]; taken {
			return nil, fmt.Errorf("state %q exists", failName)
		}
		states[name] = map[string]any{"Type": "Pass", "Parameters": params, "Next": failName}
		states[failName] = fail
	}
	return json.Marshal(m)
}

func isIntrinsic(v any) bool {
	s, ok := v.(string)
	return ok && strings.HasPrefix(s, "States.")
}
