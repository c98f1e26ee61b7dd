package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/crossbuild/crossbuild/infra/config"
)

// Two apps are synthesized once for all tests: one admitting target accounts (with an
// account in two Regions and non-default settings) and one admitting an Organization.
var (
	accountsApp *testApp
	orgApp      *testApp
	assetDir    string
)

const (
	srcAccount = "111111111111"
	srcRegion  = "eu-west-1"
	acctA      = "222222222222"
	acctB      = "333333333333"
	externalID = "test-external-id"
	topicARN   = "arn:aws:sns:eu-west-1:111111111111:crossbuild-ops"
	orgID      = "o-exampleorg1"
)

func accountsContext() map[string]any {
	return map[string]any{
		config.KeySourceAccount: srcAccount,
		config.KeySourceRegion:  srcRegion,
		config.KeyExternalID:    externalID,
		config.KeyTargets: []any{
			map[string]any{"accounts": []any{acctA}, "regions": []any{"eu-west-1", "us-east-1"}, "sampleProject": "sample-codebuild-project"},
			map[string]any{"accounts": []any{acctB}, "regions": []any{"us-east-1"}, "projects": []any{"sample-codebuild-project", "nightly"}},
		},
		// Not the account's first Region: the role's home is what is configured.
		config.KeyRoleRegions:         map[string]any{acctA: "us-east-1"},
		config.KeyMaxConcurrency:      7,
		config.KeyHeartbeatSeconds:    900,
		config.KeyTimeoutSeconds:      7200,
		config.KeyPollIntervalSeconds: 30,
		config.KeyAlarmTopicARN:       topicARN,
		// Not the defaults, which orgContext keeps.
		config.KeyReconcileEveryMinutes: 1,
		config.KeyReconcileAfterMinutes: 15,
	}
}

func orgContext() map[string]any {
	return map[string]any{
		config.KeySourceAccount:  srcAccount,
		config.KeySourceRegion:   srcRegion,
		config.KeyExternalID:     externalID,
		config.KeyOrganizationID: orgID,
		config.KeyTargets: []any{
			map[string]any{"accounts": []any{acctA}, "regions": []any{"eu-west-1"}, "projects": []any{"deploy"}},
		},
	}
}

type testApp struct {
	label     string
	app       awscdk.App
	cfg       *config.Config
	d         *Deployment
	stacks    map[string]awscdk.Stack
	templates map[string]assertions.Template
	json      map[string]map[string]any // decoded templates by stack name
}

func TestMain(m *testing.M) {
	// Keep the output readable: the jsii runtime warns about Node versions and cdk-nag reads
	// a deprecated property. Set before the first jsii call starts the runtime.
	for k, v := range map[string]string{
		"JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION":    "1",
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20",
		"JSII_DEPRECATED": "quiet",
	} {
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, v)
		}
	}
	code, err := setup(m)
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (code int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synthesizing the test apps: %v", r)
		}
	}()
	dir, err := os.MkdirTemp("", "crossbuild-assets-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	// Placeholder binaries: the tests look at templates, not at what the functions do.
	for _, fn := range Functions {
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(dir, fn, "bootstrap"), []byte(fn), 0o755); err != nil {
			return 0, err
		}
	}
	assetDir = dir
	if accountsApp, err = newTestApp("accounts", accountsContext(), dir); err != nil {
		return 0, err
	}
	if orgApp, err = newTestApp("organization", orgContext(), dir); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// featureFlags are the feature flags cdk.json sets, so that the tests see the templates
// `cdk synth` writes.
func featureFlags() (map[string]any, error) {
	raw, err := os.ReadFile(filepath.Join("..", "cdk.json"))
	if err != nil {
		return nil, err
	}
	var f struct{ Context map[string]any }
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	flags := map[string]any{}
	for k, v := range f.Context {
		if strings.HasPrefix(k, "@aws-cdk") {
			flags[k] = v
		}
	}
	return flags, nil
}

func newTestApp(label string, ctx map[string]any, dir string) (*testApp, error) {
	return synthesize(label, ctx, dir, true)
}

// synthesize builds the app of ctx with cdk.json's feature flags, with or without cdk-nag.
func synthesize(label string, ctx map[string]any, dir string, nag bool) (*testApp, error) {
	out, err := os.MkdirTemp("", "crossbuild-cdk-out-")
	if err != nil {
		return nil, err
	}
	flags, err := featureFlags()
	if err != nil {
		return nil, err
	}
	for k, v := range flags {
		if _, set := ctx[k]; !set {
			ctx[k] = v
		}
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(out)})
	cfg, err := config.Load(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		return nil, err
	}
	d, err := Build(app, cfg, dir)
	if err != nil {
		return nil, err
	}
	if nag {
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	}
	ta := &testApp{label: label, app: app, cfg: cfg, d: d, stacks: map[string]awscdk.Stack{}, templates: map[string]assertions.Template{}, json: map[string]map[string]any{}}
	all := []awscdk.Stack{d.Source.Stack}
	for _, t := range d.Targets {
		all = append(all, t.Stack)
	}
	for _, s := range all {
		name := *s.StackName()
		tpl := assertions.Template_FromStack(s, nil)
		b, err := json.Marshal(tpl.ToJSON())
		if err != nil {
			return nil, err
		}
		var decoded map[string]any
		if err := json.Unmarshal(b, &decoded); err != nil {
			return nil, err
		}
		ta.stacks[name], ta.templates[name], ta.json[name] = s, tpl, decoded
	}
	return ta, nil
}

// check runs CDK assertions, which panic on failure, and turns a panic into t.Fatal.
func check(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%v", r)
		}
	}()
	f()
}

func (a *testApp) source() assertions.Template { return a.templates[config.SourceStackName] }

// resources returns the resources of a type in a decoded template, by logical id.
func resources(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, raw := range tpl["Resources"].(map[string]any) {
		r := raw.(map[string]any)
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

// only returns the single resource of a type, failing when there is not exactly one.
func only(t *testing.T, tpl map[string]any, typ string) (string, map[string]any) {
	t.Helper()
	rs := resources(tpl, typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	for id, r := range rs {
		return id, r["Properties"].(map[string]any)
	}
	return "", nil
}

// logicalID is the template's logical id of a construct's default resource.
func logicalID(s awscdk.Stack, c constructs.IConstruct) string {
	return *s.GetLogicalId(c.Node().DefaultChild().(awscdk.CfnElement))
}

func str(v string) *string { return jsii.String(v) }

func obj(kv map[string]any) assertions.Matcher { return assertions.Match_ObjectLike(&kv) }

func arrayWith(items ...any) assertions.Matcher { return assertions.Match_ArrayWith(&items) }
