package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// base is a valid context as cdk.json would give it (JSON values decoded to Go values).
func base() map[string]any {
	return map[string]any{
		KeySourceAccount: "111111111111",
		KeySourceRegion:  "eu-west-1",
		KeyExternalID:    "crossbuild-example",
		KeyTargets: []any{
			map[string]any{"accounts": []any{"222222222222"}, "regions": []any{"eu-west-1"}, "sampleProject": "sample-codebuild-project"},
			map[string]any{"accounts": []any{"333333333333"}, "regions": []any{"us-east-1"}, "projects": []any{"sample-codebuild-project"}},
		},
	}
}

func getter(ctx map[string]any) Getter {
	return func(key string) any { return ctx[key] }
}

func TestLoadValid(t *testing.T) {
	cfg, err := Load(getter(base()))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Config{
		SourceAccount:  "111111111111",
		SourceRegion:   "eu-west-1",
		Partition:      "aws",
		ExternalID:     "crossbuild-example",
		TargetRoleName: DefaultTargetRoleName,
		Targets: []Target{
			{Account: "222222222222", Region: "eu-west-1", Projects: []string{"sample-codebuild-project"}, SampleProject: "sample-codebuild-project", OwnsRole: true},
			{Account: "333333333333", Region: "us-east-1", Projects: []string{"sample-codebuild-project"}, OwnsRole: true},
		},
		RoleRegions:         map[string]string{"222222222222": "eu-west-1", "333333333333": "us-east-1"},
		MaxConcurrency:      DefaultMaxConcurrency,
		HeartbeatSeconds:    DefaultHeartbeatSeconds,
		TimeoutSeconds:      DefaultTimeoutSeconds,
		PollIntervalSeconds: DefaultPollIntervalSeconds,
		MaxPollInterval:     DefaultMaxPollInterval,
		EnvMapping:          DefaultEnvMapping(),
		ConstantEnv:         DefaultConstantEnv(),
		CorrelationPrefix:   DefaultCorrelationPrefix,
		RecordTTLHours:      DefaultRecordTTLHours,
		LogLevel:            DefaultLogLevel,

		ReconcileEveryMinutes: DefaultReconcileEvery,
		ReconcileAfterMinutes: DefaultReconcileAfter,
		MaxEventPatternChars:  DefaultMaxEventPatternChars,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("Load:\n got %+v\nwant %+v", cfg, want)
	}
	if got := cfg.Targets[0].StackName(); got != "crossbuild-target-222222222222-eu-west-1" {
		t.Errorf("StackName = %q", got)
	}
	if got := cfg.EventBusARN(); got != "arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild" {
		t.Errorf("EventBusARN = %q", got)
	}
	if got, want := cfg.TargetRoleARNs(), []string{
		"arn:aws:iam::222222222222:role/crossbuild-target-role",
		"arn:aws:iam::333333333333:role/crossbuild-target-role",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("TargetRoleARNs = %v, want %v", got, want)
	}
	if got := cfg.EnvMappingJSON(); got != `{"SampleValue1":"SAMPLE_VAR1","SampleValue2":"SAMPLE_VAR2"}` {
		t.Errorf("EnvMappingJSON = %s", got)
	}
	if got := cfg.ConstantEnvJSON(); got != `{"HARDCODED_VAR1":"I am hardcoded"}` {
		t.Errorf("ConstantEnvJSON = %s", got)
	}
}

// TestLoadMatrix checks the accounts × Regions expansion, the role owner per account and
// the project ARNs the target role is limited to.
func TestLoadMatrix(t *testing.T) {
	ctx := base()
	ctx[KeyRoleRegions] = map[string]any{"222222222222": "us-east-1", "333333333333": "eu-west-1"}
	ctx[KeyTargets] = []any{
		map[string]any{
			"accounts": []any{"222222222222", "333333333333"},
			"regions":  []any{"eu-west-1", "us-east-1"},
			"projects": []any{"build-b", "build-a"},
		},
		map[string]any{"accounts": []any{"444444444444"}, "regions": []any{"eu-central-1"}, "projects": []any{"x1"}},
	}
	cfg, err := Load(getter(ctx))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	type row struct {
		account, region string
		owns            bool
	}
	var got []row
	for _, tg := range cfg.Targets {
		got = append(got, row{tg.Account, tg.Region, tg.OwnsRole})
		if tg.Account != "444444444444" && !reflect.DeepEqual(tg.Projects, []string{"build-a", "build-b"}) {
			t.Errorf("%s/%s projects = %v, want sorted [build-a build-b]", tg.Account, tg.Region, tg.Projects)
		}
	}
	want := []row{
		{"222222222222", "eu-west-1", false},
		{"222222222222", "us-east-1", true},
		{"333333333333", "eu-west-1", true},
		{"333333333333", "us-east-1", false},
		{"444444444444", "eu-central-1", true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("targets = %v, want %v", got, want)
	}
	if got, want := cfg.ProjectARNs("222222222222"), []string{
		"arn:aws:codebuild:eu-west-1:222222222222:project/build-a",
		"arn:aws:codebuild:eu-west-1:222222222222:project/build-b",
		"arn:aws:codebuild:us-east-1:222222222222:project/build-a",
		"arn:aws:codebuild:us-east-1:222222222222:project/build-b",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("ProjectARNs = %v, want %v", got, want)
	}
	if got, want := cfg.TargetRegions(), []string{"eu-central-1", "eu-west-1", "us-east-1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("TargetRegions = %v, want %v", got, want)
	}
	if got, want := cfg.ProjectNames(), []string{"build-a", "build-b", "x1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ProjectNames = %v, want %v", got, want)
	}
}

// TestLoadFromCommandLine covers values given with -c, which arrive as strings.
func TestLoadFromCommandLine(t *testing.T) {
	targets, err := json.Marshal(base()[KeyTargets])
	if err != nil {
		t.Fatal(err)
	}
	ctx := base()
	ctx[KeyTargets] = string(targets)
	ctx[KeyMaxConcurrency] = "5"
	ctx[KeyEnvMapping] = `{"Greeting":"GREETING"}`
	ctx[KeyLogLevel] = "debug"
	ctx[KeyOrganizationID] = "o-abcdefghij"
	cfg, err := Load(getter(ctx))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(cfg.Targets) != 2 || cfg.MaxConcurrency != 5 || cfg.LogLevel != "DEBUG" || cfg.OrganizationID != "o-abcdefghij" {
		t.Errorf("Load = %+v", cfg)
	}
	if got := cfg.EnvMappingJSON(); got != `{"Greeting":"GREETING"}` {
		t.Errorf("EnvMappingJSON = %s", got)
	}
	ctx[KeyEnvNamesAllowed] = `["GREETING", "DEPLOY_*", "NODE_OPTIONS"]`
	if cfg, err = Load(getter(ctx)); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := cfg.EnvNamesAllowedList(); got != "GREETING,DEPLOY_*,NODE_OPTIONS" {
		t.Errorf("EnvNamesAllowedList = %q", got)
	}
}

func TestLoadPartition(t *testing.T) {
	ctx := base()
	ctx[KeySourceRegion] = "cn-north-1"
	ctx[KeyTargets] = []any{map[string]any{"accounts": []any{"222222222222"}, "regions": []any{"cn-northwest-1"}, "projects": []any{"p1"}}}
	cfg, err := Load(getter(ctx))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := cfg.TargetRoleARN("222222222222"); got != "arn:aws-cn:iam::222222222222:role/crossbuild-target-role" {
		t.Errorf("TargetRoleARN = %q", got)
	}
}

func TestLoadErrors(t *testing.T) {
	entry := func(fields map[string]any) map[string]any {
		e := map[string]any{"accounts": []any{"222222222222"}, "regions": []any{"eu-west-1"}, "projects": []any{"p1"}}
		for k, v := range fields {
			if v == nil {
				delete(e, k)
			} else {
				e[k] = v
			}
		}
		return e
	}
	tests := []struct {
		name string
		set  map[string]any // nil value deletes the key
		want []string       // substrings of the error
	}{
		{"malformed source account", map[string]any{KeySourceAccount: "12345"}, []string{`crossbuild:sourceAccount: "12345" is not a 12-digit AWS account id`}},
		{"account as number", map[string]any{KeySourceAccount: float64(111111111111)}, []string{"crossbuild:sourceAccount: must be a string", "quote it"}},
		{"missing source account", map[string]any{KeySourceAccount: nil}, []string{"crossbuild:sourceAccount: is required"}},
		{"bad source region", map[string]any{KeySourceRegion: "Europe"}, []string{`crossbuild:sourceRegion: "Europe" is not an AWS Region name`}},
		{"missing external id", map[string]any{KeyExternalID: nil}, []string{"crossbuild:externalId: is required"}},
		{"external id with space", map[string]any{KeyExternalID: "a b"}, []string{"crossbuild:externalId:"}},
		{"missing targets", map[string]any{KeyTargets: nil}, []string{"crossbuild:targets: is required"}},
		{"empty targets", map[string]any{KeyTargets: []any{}}, []string{"crossbuild:targets: is empty"}},
		{"targets not an array", map[string]any{KeyTargets: map[string]any{}}, []string{"crossbuild:targets: must be a JSON array"}},
		{"targets invalid JSON string", map[string]any{KeyTargets: "[{"}, []string{"crossbuild:targets: is not valid JSON"}},
		{"entry not an object", map[string]any{KeyTargets: []any{"222222222222"}}, []string{"crossbuild:targets[0]: must be a JSON object"}},
		{"unknown entry field", map[string]any{KeyTargets: []any{entry(map[string]any{"project": "x"})}}, []string{`crossbuild:targets[0]: unknown field "project"`}},
		{"malformed target account", map[string]any{KeyTargets: []any{entry(map[string]any{"accounts": []any{"2222"}})}}, []string{`crossbuild:targets[0].accounts[0]: "2222" is not a 12-digit AWS account id`}},
		{"target account number", map[string]any{KeyTargets: []any{entry(map[string]any{"accounts": []any{float64(222222222222)}})}}, []string{"crossbuild:targets[0].accounts[0]: must be a string"}},
		{"no accounts", map[string]any{KeyTargets: []any{entry(map[string]any{"accounts": nil})}}, []string{"crossbuild:targets[0].accounts: is required"}},
		{"empty regions", map[string]any{KeyTargets: []any{entry(map[string]any{"regions": []any{}})}}, []string{"crossbuild:targets[0].regions: is empty"}},
		{"bad project", map[string]any{KeyTargets: []any{entry(map[string]any{"projects": []any{"-x"}})}}, []string{`crossbuild:targets[0].projects[0]: "-x" is not a CodeBuild project name`}},
		{"no project", map[string]any{KeyTargets: []any{entry(map[string]any{"projects": nil})}}, []string{"crossbuild:targets[0]: names no project"}},
		{"duplicate account in entry", map[string]any{KeyTargets: []any{entry(map[string]any{"accounts": []any{"222222222222", "222222222222"}})}}, []string{`crossbuild:targets[0].accounts[1]: duplicate value "222222222222"`}},
		{"duplicate target across entries", map[string]any{KeyTargets: []any{entry(nil), entry(map[string]any{"projects": []any{"p2"}})}}, []string{"crossbuild:targets[1]: duplicate target: account 222222222222 in eu-west-1 is already configured by crossbuild:targets[0]"}},
		{"other partition", map[string]any{KeyTargets: []any{entry(map[string]any{"regions": []any{"cn-north-1"}})}}, []string{`crossbuild:targets[0].regions: "cn-north-1" is in partition aws-cn`}},
		{"bad sample project", map[string]any{KeyTargets: []any{entry(map[string]any{"sampleProject": true})}}, []string{"crossbuild:targets[0].sampleProject: must be a string"}},
		{"bad organization", map[string]any{KeyOrganizationID: "r-123"}, []string{`crossbuild:organizationId: "r-123" is not an AWS Organization id`}},
		{"bad role name", map[string]any{KeyTargetRoleName: "a/b"}, []string{"crossbuild:targetRoleName:"}},
		{"concurrency fraction", map[string]any{KeyMaxConcurrency: 2.5}, []string{"crossbuild:maxConcurrency: must be an integer"}},
		{"concurrency too high", map[string]any{KeyMaxConcurrency: float64(10001)}, []string{"crossbuild:maxConcurrency: must be between 0 and 10000"}},
		{"poll cap too long", map[string]any{KeyMaxPollInterval: float64(3601)}, []string{"crossbuild:maxPollIntervalSeconds: must be between 5 and 3600"}},
		{"poll interval too short", map[string]any{KeyPollIntervalSeconds: "1"}, []string{"crossbuild:pollIntervalSeconds: must be between 5 and 3600"}},
		{"heartbeat not below timeout", map[string]any{KeyHeartbeatSeconds: float64(600), KeyTimeoutSeconds: float64(600)}, []string{"crossbuild:heartbeatSeconds: must be less than crossbuild:timeoutSeconds"}},
		{"ttl shorter than timeout", map[string]any{KeyRecordTTLHours: float64(1)}, []string{"crossbuild:recordTtlHours: must exceed crossbuild:timeoutSeconds"}},
		{"env mapping not an object", map[string]any{KeyEnvMapping: []any{}}, []string{"crossbuild:envMapping: must be a JSON object"}},
		{"env mapping bad name", map[string]any{KeyEnvMapping: map[string]any{"SampleValue1": "1X"}}, []string{`crossbuild:envMapping.SampleValue1: "1X" is not an environment variable name`}},
		{"constant env bad key", map[string]any{KeyConstantEnv: map[string]any{"A-B": "v"}}, []string{"crossbuild:constantEnv.A-B: is not an environment variable name"}},
		{"constant env number", map[string]any{KeyConstantEnv: map[string]any{"A": float64(1)}}, []string{"crossbuild:constantEnv.A: must be a string"}},
		{"allowed names not a list", map[string]any{KeyEnvNamesAllowed: map[string]any{}}, []string{"crossbuild:envNamesAllowed: must be a JSON array"}},
		{"allowed name not a string", map[string]any{KeyEnvNamesAllowed: []any{float64(1)}}, []string{"crossbuild:envNamesAllowed[0]: must be a string"}},
		{"allowed name malformed", map[string]any{KeyEnvNamesAllowed: []any{"A-B"}}, []string{`crossbuild:envNamesAllowed: allowed name "A-B" is not a variable name`}},
		{"allowed name claims the correlation prefix", map[string]any{KeyEnvNamesAllowed: []any{"CROSSBUILD_X"}}, []string{"crossbuild:envNamesAllowed: allowed name \"CROSSBUILD_X\" starts with CROSSBUILD_"}},
		{"mapping onto a denied name", map[string]any{KeyEnvMapping: map[string]any{"Opts": "NODE_OPTIONS"}}, []string{`crossbuild:envMapping: mapping of "Opts": variable name "NODE_OPTIONS" is refused`}},
		{"mapping outside the allow-list", map[string]any{KeyEnvNamesAllowed: []any{"DEPLOY_*"}}, []string{`crossbuild:envMapping: mapping of "SampleValue1": variable name "SAMPLE_VAR1" is not in this deployment's allowed names DEPLOY_*`}},
		{"bad log level", map[string]any{KeyLogLevel: "TRACE"}, []string{`crossbuild:logLevel: "TRACE" is not one of`}},
		{"bad alarm topic", map[string]any{KeyAlarmTopicARN: "topic"}, []string{`crossbuild:alarmTopicArn: "topic" is not an SNS topic ARN`}},
		{"reconciler never runs", map[string]any{KeyReconcileEveryMinutes: float64(0)}, []string{"crossbuild:reconcileEveryMinutes: must be between 1 and 1440, got 0"}},
		{"reconciler runs less than daily", map[string]any{KeyReconcileEveryMinutes: float64(1441)}, []string{"crossbuild:reconcileEveryMinutes: must be between 1 and 1440, got 1441"}},
		{"reconciler rate in seconds", map[string]any{KeyReconcileEveryMinutes: 0.5}, []string{"crossbuild:reconcileEveryMinutes: must be an integer"}},
		{"reconciler threshold zero", map[string]any{KeyReconcileAfterMinutes: "0"}, []string{"crossbuild:reconcileAfterMinutes: must be between 1 and 10080, got 0"}},
		{"reconciler threshold over a week", map[string]any{KeyReconcileAfterMinutes: float64(10081)}, []string{"crossbuild:reconcileAfterMinutes: must be between 1 and 10080, got 10081"}},
		{"reconciler threshold beyond the record's life", map[string]any{KeyReconcileAfterMinutes: float64(120), KeyRecordTTLHours: float64(2), KeyTimeoutSeconds: float64(3600), KeyHeartbeatSeconds: float64(600)},
			[]string{"crossbuild:reconcileAfterMinutes: must be less than crossbuild:recordTtlHours (2 hours)"}},
		{"no project besides a bad account", map[string]any{KeyTargets: []any{entry(map[string]any{"accounts": []any{"1"}, "projects": nil})}}, []string{"crossbuild:targets[0].accounts[0]", "crossbuild:targets[0]: names no project"}},
		{"several problems at once", map[string]any{KeySourceAccount: "1", KeyTargets: []any{}}, []string{"crossbuild:sourceAccount:", "crossbuild:targets: is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := base()
			for k, v := range tt.set {
				if v == nil {
					delete(ctx, k)
				} else {
					ctx[k] = v
				}
			}
			cfg, err := Load(getter(ctx))
			if err == nil {
				t.Fatalf("Load succeeded with %+v, want an error", cfg)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestReconcilerLimits: the reconciler's settings at their bounds, from cdk.json numbers or
// -c strings.
func TestReconcilerLimits(t *testing.T) {
	for _, tc := range []struct {
		every, after any
		want         [2]int
	}{
		{nil, nil, [2]int{DefaultReconcileEvery, DefaultReconcileAfter}},
		{float64(MinReconcileEvery), float64(MinReconcileAfter), [2]int{1, 1}},
		{float64(MaxReconcileEvery), float64(MaxReconcileAfter), [2]int{1440, 10080}},
		{"15", "30", [2]int{15, 30}},
	} {
		ctx := base()
		if tc.every != nil {
			ctx[KeyReconcileEveryMinutes] = tc.every
		}
		if tc.after != nil {
			ctx[KeyReconcileAfterMinutes] = tc.after
		}
		cfg, err := Load(getter(ctx))
		if err != nil {
			t.Fatalf("every %v after %v: %v", tc.every, tc.after, err)
		}
		if got := [2]int{cfg.ReconcileEveryMinutes, cfg.ReconcileAfterMinutes}; got != tc.want {
			t.Errorf("every %v after %v: got %v, want %v", tc.every, tc.after, got, tc.want)
		}
	}
	// Just below the record's life is allowed.
	ctx := base()
	ctx[KeyRecordTTLHours], ctx[KeyTimeoutSeconds], ctx[KeyHeartbeatSeconds] = float64(2), float64(3600), float64(600)
	ctx[KeyReconcileAfterMinutes] = float64(119)
	if _, err := Load(getter(ctx)); err != nil {
		t.Fatalf("threshold just under the TTL: %v", err)
	}
}

func TestLoadTooManyAccounts(t *testing.T) {
	accounts := make([]any, MaxTargetAccounts+1)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("%012d", 200000000000+i)
	}
	ctx := base()
	ctx[KeyTargets] = []any{map[string]any{"accounts": accounts, "regions": []any{"eu-west-1"}, "projects": []any{"p1"}}}
	_, err := Load(getter(ctx))
	if err == nil || !strings.Contains(err.Error(), "crossbuild:targets: names 101 accounts") {
		t.Fatalf("Load error = %v, want the account limit", err)
	}
	ctx[KeyTargets] = []any{map[string]any{"accounts": accounts[:MaxTargetAccounts], "regions": []any{"eu-west-1"}, "projects": []any{"p1"}}}
	if _, err := Load(getter(ctx)); err != nil {
		t.Fatalf("Load with %d accounts: %v", MaxTargetAccounts, err)
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   any
		want int
		ok   bool
	}{
		{float64(20), 20, true},
		{" 20 ", 20, true},
		{20, 20, true},
		{20.5, 0, false},
		{"x", 0, false},
		{true, 0, false},
		{1e300, 0, false},
	}
	for _, tt := range tests {
		got, ok := parseInt(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseInt(%v) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestRoleRegions: the stack that holds an account's target role is the one named in
// crossbuild:roleRegions (or the account's only Region), whatever the order of the
// accounts, Regions and entries in the context.
func TestRoleRegions(t *testing.T) {
	owners := func(t *testing.T, ctx map[string]any) map[string]string {
		t.Helper()
		cfg, err := Load(getter(ctx))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		out := map[string]string{}
		for _, tg := range cfg.Targets {
			if tg.OwnsRole {
				if prev, dup := out[tg.Account]; dup {
					t.Fatalf("account %s has its role in %s and %s", tg.Account, prev, tg.Region)
				}
				out[tg.Account] = tg.Region
			}
		}
		if !reflect.DeepEqual(out, cfg.RoleRegions) {
			t.Errorf("owners %v, RoleRegions %v", out, cfg.RoleRegions)
		}
		return out
	}
	entries := func(order int) []any {
		a := []any{"222222222222", "333333333333"}
		r := []any{"eu-west-1", "us-east-1", "ap-southeast-2"}
		if order == 1 {
			a = []any{"333333333333", "222222222222"}
			r = []any{"ap-southeast-2", "us-east-1", "eu-west-1"}
		}
		e := []any{
			map[string]any{"accounts": a, "regions": r, "projects": []any{"p1"}},
			map[string]any{"accounts": []any{"444444444444"}, "regions": []any{"eu-central-1"}, "projects": []any{"p2"}},
		}
		if order == 1 {
			e[0], e[1] = e[1], e[0]
		}
		return e
	}
	roles := map[string]any{"222222222222": "us-east-1", "333333333333": "ap-southeast-2"}
	want := map[string]string{"222222222222": "us-east-1", "333333333333": "ap-southeast-2", "444444444444": "eu-central-1"}
	for order := range 2 {
		ctx := base()
		ctx[KeyTargets], ctx[KeyRoleRegions] = entries(order), roles
		if got := owners(t, ctx); !reflect.DeepEqual(got, want) {
			t.Errorf("order %d: owners = %v, want %v", order, got, want)
		}
	}
	// From -c, as a JSON string.
	ctx := base()
	ctx[KeyTargets], ctx[KeyRoleRegions] = entries(1), `{"222222222222":"us-east-1","333333333333":"ap-southeast-2"}`
	if got := owners(t, ctx); !reflect.DeepEqual(got, want) {
		t.Errorf("from a string: owners = %v, want %v", got, want)
	}

	for _, tt := range []struct {
		name  string
		roles any
		want  []string
	}{
		{"missing for a multi-Region account", map[string]any{"222222222222": "us-east-1"},
			[]string{`crossbuild:roleRegions: account 333333333333 has targets in several Regions (ap-southeast-2, eu-west-1, us-east-1): name the one`}},
		{"none at all", nil, []string{"account 222222222222 has targets in several Regions", "account 333333333333 has targets in several Regions"}},
		{"not a target Region of the account", map[string]any{"222222222222": "eu-central-1", "333333333333": "us-east-1"},
			[]string{`crossbuild:roleRegions.222222222222: "eu-central-1" is not one of the account's target Regions (ap-southeast-2, eu-west-1, us-east-1)`}},
		{"unknown account", map[string]any{"222222222222": "us-east-1", "333333333333": "us-east-1", "555555555555": "us-east-1"},
			[]string{"crossbuild:roleRegions.555555555555: account 555555555555 has no target"}},
		{"malformed account", map[string]any{"222222222222": "us-east-1", "333333333333": "us-east-1", "5555": "us-east-1"},
			[]string{`crossbuild:roleRegions.5555: "5555" is not a 12-digit AWS account id`}},
		{"not a string", map[string]any{"222222222222": []any{"us-east-1"}, "333333333333": "us-east-1"},
			[]string{"crossbuild:roleRegions.222222222222: must be a Region name, got an array"}},
		{"not an object", []any{}, []string{"crossbuild:roleRegions: must be a JSON object"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := base()
			ctx[KeyTargets] = entries(0)
			if tt.roles != nil {
				ctx[KeyRoleRegions] = tt.roles
			}
			_, err := Load(getter(ctx))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestEventPatternLimit: a configuration whose callback pattern is exactly at the quota
// loads; one character more is refused with a PatternTooLargeError naming the numbers,
// unless the raised quota is configured.
func TestEventPatternLimit(t *testing.T) {
	// Six long project names and one whose length is tuned to reach the limit.
	withProject := func(n int) map[string]any {
		projects := []any{"p" + strings.Repeat("x", n-1)}
		for i := range 6 {
			projects = append(projects, fmt.Sprintf("f%d%s", i, strings.Repeat("y", 248)))
		}
		ctx := base()
		ctx[KeyTargets] = []any{
			map[string]any{"accounts": []any{"222222222222"}, "regions": []any{"eu-west-1"}, "projects": projects},
			map[string]any{"accounts": []any{"333333333333"}, "regions": []any{"us-east-1"}, "projects": []any{"sample-codebuild-project"}},
		}
		return ctx
	}
	probe, err := Load(getter(withProject(10)))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	n := 10 + DefaultMaxEventPatternChars - PatternChars(probe.CallbackPattern())
	if n < 2 || n > 255 {
		t.Fatalf("the fixture cannot reach the limit: the tuned name needs %d characters", n)
	}

	cfg, err := Load(getter(withProject(n)))
	if err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if got := PatternChars(cfg.CallbackPattern()); got != DefaultMaxEventPatternChars {
		t.Fatalf("pattern = %d characters, want exactly %d", got, DefaultMaxEventPatternChars)
	}

	_, err = Load(getter(withProject(n + 1)))
	var tooLarge *PatternTooLargeError
	if !errors.As(err, &tooLarge) {
		t.Fatalf("one character over: err = %v, want a PatternTooLargeError", err)
	}
	want := PatternTooLargeError{Key: KeyTargets, Rule: "the callback rule of crossbuild-source",
		Chars: DefaultMaxEventPatternChars + 1, Limit: DefaultMaxEventPatternChars, Accounts: 2, Regions: 2, Projects: 8}
	if *tooLarge != want {
		t.Errorf("error = %+v, want %+v", *tooLarge, want)
	}
	for _, w := range []string{"2049 characters", "over the limit of 2048", "Event pattern size", KeyMaxEventPatternChars} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q: %v", w, err)
		}
	}

	// A raised quota admits it; the setting itself is bounded.
	ctx := withProject(n + 1)
	ctx[KeyMaxEventPatternChars] = "4096"
	if _, err := Load(getter(ctx)); err != nil {
		t.Errorf("with a raised quota: %v", err)
	}
	ctx[KeyMaxEventPatternChars] = float64(1024)
	if _, err := Load(getter(ctx)); err == nil || !strings.Contains(err.Error(), "crossbuild:maxEventPatternChars: must be between 2048 and 4096") {
		t.Errorf("below the default quota: %v", err)
	}
}
