package conformance

import (
	"encoding/json"
	"fmt"
	"github.com/crossbuild/crossbuild/local/dynalite"
	"os"
	"path/filepath"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/infra/statemachine"
)

// Function names the app's Lambda tasks invoke in the conformance cases;
// testdata/app.json keys its handlers by them.
const (
	appStarter = "starter"
	appPoller  = "poller"
)

// appDefinition renders the app's state machine as the source stack does:
// the builder of infra/statemachine with the settings of infra/cdk.json, and
// Lambda ARNs in place of the tokens CloudFormation resolves at deploy time.
func appDefinition() (json.RawMessage, error) {
	root, err := dynalite.ModuleRoot()
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
		StarterARN:          arn(appStarter),
		PollerARN:           arn(appPoller),
		MaxConcurrency:      cfg.MaxConcurrency,
		HeartbeatSeconds:    cfg.HeartbeatSeconds,
		TimeoutSeconds:      cfg.TimeoutSeconds,
		PollIntervalSeconds: cfg.PollIntervalSeconds,
	})
	if err != nil {
		return nil, err
	}
	return json.RawMessage(def), nil
}
