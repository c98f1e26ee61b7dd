package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

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
