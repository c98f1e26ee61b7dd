package stacks

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/infra/internal/cfn"
	"github.com/crossbuild/crossbuild/infra/statemachine"
	"github.com/crossbuild/crossbuild/internal/testfixtures"
	"github.com/crossbuild/crossbuild/local/eventpattern"
)

// refs renders references as "<logicalId>" or "<logicalId>.<attribute>", and the
// partition as "aws", so rendered ARNs can be compared as strings.
func refs(id, attr string) string {
	switch {
	case id == "AWS::Partition":
		return "aws"
	case attr == "":
		return id
	default:
		return id + "." + attr
	}
}

func render(t *testing.T, v any) string {
	t.Helper()
	s, err := cfn.Render(v, refs)
	if err != nil {
		t.Fatalf("render %v: %v", v, err)
	}
	return s
}

// renderAll renders a string-or-list CloudFormation value (Resource, Principal.AWS, ...).
func renderAll(t *testing.T, v any) []string {
	t.Helper()
	if list, ok := v.([]any); ok {
		var out []string
		for _, x := range list {
			out = append(out, render(t, x))
		}
		return out
	}
	return []string{render(t, v)}
}

func strList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, s := range x {
			out = append(out, s.(string))
		}
		return out
	}
	return nil
}

func TestMissingAssetsFailSynthesis(t *testing.T) {
	check(t, func() {
		app := awscdk.NewApp(nil)
		empty := t.TempDir()
		_, err := NewSourceStack(app, accountsApp.cfg, empty)
		if err == nil {
			t.Fatal("NewSourceStack succeeded without Lambda assets")
		}
		for _, fn := range Functions {
			if want := filepath.Join(empty, fn, "bootstrap"); !strings.Contains(err.Error(), want) {
				t.Errorf("error does not name %s: %v", want, err)
			}
		}
		if !strings.Contains(err.Error(), "make build") {
			t.Errorf("error does not say how to build the assets: %v", err)
		}
	})
}

func TestStackNamesAndEnvironments(t *testing.T) {
	want := map[string][2]string{
		"crossbuild-source":                        {srcAccount, srcRegion},
		"crossbuild-target-222222222222-eu-west-1": {acctA, "eu-west-1"},
		"crossbuild-target-222222222222-us-east-1": {acctA, "us-east-1"},
		"crossbuild-target-333333333333-us-east-1": {acctB, "us-east-1"},
	}
	if len(accountsApp.stacks) != len(want) {
		t.Fatalf("stacks = %v, want %v", keys(accountsApp.stacks), want)
	}
	for name, env := range want {
		s, ok := accountsApp.stacks[name]
		if !ok {
			t.Fatalf("stack %s missing", name)
		}
		if *s.Account() != env[0] || *s.Region() != env[1] {
			t.Errorf("%s env = %s/%s, want %s/%s", name, *s.Account(), *s.Region(), env[0], env[1])
		}
	}
}

func TestFunctions(t *testing.T) {
	tpl := accountsApp.source()
	for _, fn := range Functions {
		check(t, func() {
			tpl.HasResourceProperties(str("AWS::Lambda::Function"), &map[string]any{
				"FunctionName":  "crossbuild-" + fn,
				"Runtime":       "provided.al2023",
				"Architectures": []any{"arm64"},
				"Handler":       "bootstrap",
				"TracingConfig": map[string]any{"Mode": "Active"},
				"LoggingConfig": obj(map[string]any{
					"LogFormat":           "JSON",
					"ApplicationLogLevel": "INFO",
					"LogGroup":            obj(map[string]any{"Ref": assertions.Match_AnyValue()}),
				}),
				"Timeout":    assertions.Match_AnyValue(),
				"MemorySize": assertions.Match_AnyValue(),
				"Role":       obj(map[string]any{"Fn::GetAtt": arrayWith(assertions.Match_StringLikeRegexp(str("^" + strings.ToUpper(fn[:1]) + fn[1:] + "Role")))}),
			})
		})
	}
	// The functions' log groups and the state machine's, all with a retention.
	check(t, func() {
		tpl.ResourcePropertiesCountIs(str("AWS::Logs::LogGroup"), &map[string]any{"RetentionInDays": 30}, jsii.Number(float64(len(Functions)+1)))
	})
}

// referenceVariables reads the Configuration table of docs/reference.md: each variable the
// stack must set (rows not "set by Lambda") → the functions it is for.
func referenceVariables(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "reference.md"))
	if err != nil {
		t.Fatalf("open docs/reference.md: %v", err)
	}
	defer f.Close()
	name := regexp.MustCompile("`([A-Z][A-Z0-9_]+)`")
	out := map[string][]string{}
	inConfig := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			inConfig = strings.TrimSpace(line) == "## Configuration"
			continue
		}
		cols := strings.Split(line, "|")
		if !inConfig || len(cols) < 5 || strings.TrimSpace(cols[3]) == "set by Lambda" {
			continue
		}
		var fns []string
		for _, f := range strings.Split(cols[2], ",") {
			fns = append(fns, strings.TrimSpace(f))
		}
		if len(fns) == 1 && fns[0] == "all" {
			fns = Functions
		}
		for _, m := range name.FindAllStringSubmatch(cols[1], -1) {
			out[m[1]] = fns
		}
	}
	if len(out) == 0 {
		t.Fatal("no variables found in the Configuration table of docs/reference.md")
	}
	return out
}

// TestEnvironmentMatchesReference: every function gets exactly the variables the
// Configuration table of docs/reference.md lists for it, except those Lambda sets itself.
func TestEnvironmentMatchesReference(t *testing.T) {
	vars := referenceVariables(t)
	tpl := accountsApp.json[config.SourceStackName]
	tableID, _ := only(t, tpl, "AWS::DynamoDB::Table")
	for _, fn := range Functions {
		var want []string
		for v, fns := range vars {
			if slices.Contains(fns, fn) {
				want = append(want, v)
			}
		}
		slices.Sort(want)
		env := functionEnv(t, tpl, "crossbuild-"+fn)
		if got := keys(env); !slices.Equal(got, want) {
			t.Errorf("%s environment = %v, want %v", fn, got, want)
		}
		if _, uses := env["TABLE_NAME"]; uses {
			if ref, _ := env["TABLE_NAME"].(map[string]any); ref["Ref"] != tableID {
				t.Errorf("%s TABLE_NAME = %v, want Ref %s", fn, env["TABLE_NAME"], tableID)
			}
		}
		if _, uses := env["ALLOWED_ACCOUNTS"]; uses {
			if env["ALLOWED_ACCOUNTS"] != acctA+","+acctB || env["ALLOWED_REGIONS"] != "eu-west-1,us-east-1" {
				t.Errorf("%s allow-list = %v / %v", fn, env["ALLOWED_ACCOUNTS"], env["ALLOWED_REGIONS"])
			}
		}
		if _, uses := env["CROSSBUILD_BUCKET"]; uses {
			bucketID, _ := only(t, tpl, "AWS::S3::Bucket")
			if ref, _ := env["CROSSBUILD_BUCKET"].(map[string]any); ref["Ref"] != bucketID {
				t.Errorf("%s CROSSBUILD_BUCKET = %v, want Ref %s", fn, env["CROSSBUILD_BUCKET"], bucketID)
			}
		}
	}
	starter := functionEnv(t, tpl, "crossbuild-starter")
	wantStarter := map[string]any{
		"EXTERNAL_ID":                   externalID,
		"ALLOWED_ROLE_ARNS":             "arn:aws:iam::*:role/crossbuild-target-role",
		"ENV_MAPPING":                   `{"SampleValue1":"SAMPLE_VAR1","SampleValue2":"SAMPLE_VAR2"}`,
		"CONSTANT_ENV":                  `{"HARDCODED_VAR1":"I am hardcoded"}`,
		"DEFAULT_POLL_INTERVAL_SECONDS": "30",
		"RECORD_TTL_HOURS":              "840",
	}
	for k, v := range wantStarter {
		if starter[k] != v {
			t.Errorf("starter %s = %v, want %v", k, starter[k], v)
		}
	}
}

func functionEnv(t *testing.T, tpl map[string]any, name string) map[string]any {
	t.Helper()
	for _, r := range resources(tpl, "AWS::Lambda::Function") {
		p := r["Properties"].(map[string]any)
		if p["FunctionName"] == name {
			return p["Environment"].(map[string]any)["Variables"].(map[string]any)
		}
	}
	t.Fatalf("function %s not found", name)
	return nil
}

func TestTokenTable(t *testing.T) {
	check(t, func() {
		accountsApp.source().HasResourceProperties(str("AWS::DynamoDB::Table"), &map[string]any{
			"KeySchema":                        []any{map[string]any{"AttributeName": "buildArn", "KeyType": "HASH"}},
			"BillingMode":                      "PAY_PER_REQUEST",
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"SSESpecification":                 map[string]any{"SSEEnabled": true},
			"TimeToLiveSpecification":          map[string]any{"AttributeName": "expiresAt", "Enabled": true},
			"AttributeDefinitions": arrayWith(
				map[string]any{"AttributeName": "executionArn", "AttributeType": "S"},
				map[string]any{"AttributeName": "mapIndex", "AttributeType": "N"},
				map[string]any{"AttributeName": "openShard", "AttributeType": "S"},
				map[string]any{"AttributeName": "openSince", "AttributeType": "N"},
			),
			"GlobalSecondaryIndexes": []any{map[string]any{
				"IndexName": "byExecution",
				"KeySchema": []any{
					map[string]any{"AttributeName": "executionArn", "KeyType": "HASH"},
					map[string]any{"AttributeName": "mapIndex", "KeyType": "RANGE"},
				},
				"Projection": map[string]any{"ProjectionType": "ALL"},
			}, map[string]any{
				"IndexName": "byOpen",
				"KeySchema": []any{
					map[string]any{"AttributeName": "openShard", "KeyType": "HASH"},
					map[string]any{"AttributeName": "openSince", "KeyType": "RANGE"},
				},
				"Projection": map[string]any{"ProjectionType": "ALL"},
			}},
		})
	})
}

// definitionOf renders the state machine's DefinitionString (an Fn::Join around the
// function ARNs) with placeholder ARNs and decodes it.
func definitionOf(t *testing.T, a *testApp) (def map[string]any, functionARNs map[string]string) {
	t.Helper()
	_, sm := only(t, a.json[config.SourceStackName], "AWS::StepFunctions::StateMachine")
	resolve := cfn.Placeholders("aws", srcRegion, srcAccount)
	text, err := cfn.Render(sm["DefinitionString"], resolve)
	if err != nil {
		t.Fatalf("render definition: %v", err)
	}
	if err := json.Unmarshal([]byte(text), &def); err != nil {
		t.Fatalf("decode definition: %v\n%s", err, text)
	}
	src := a.stacks[config.SourceStackName]
	functionARNs = map[string]string{}
	for name, fn := range a.d.Source.Functions {
		functionARNs[name] = resolve(logicalID(src, fn), "Arn")
	}
	return def, functionARNs
}

func TestStateMachine(t *testing.T) {
	check(t, func() {
		accountsApp.source().HasResourceProperties(str("AWS::StepFunctions::StateMachine"), &map[string]any{
			"StateMachineName":     config.StateMachineName,
			"StateMachineType":     "STANDARD",
			"TracingConfiguration": map[string]any{"Enabled": true},
			"LoggingConfiguration": obj(map[string]any{"Level": "ALL", "IncludeExecutionData": false}),
		})
	})
	def, arns := definitionOf(t, accountsApp)
	plannerARN, starterARN, pollerARN, summariserARN := arns["planner"], arns["starter"], arns["poller"], arns["summariser"]
	top := def["States"].(map[string]any)
	m := top[statemachine.StateRunTargets].(map[string]any)
	it := m["ItemProcessor"].(map[string]any)["States"].(map[string]any)

	wait := it[statemachine.StateStartAndWait].(map[string]any)
	params := wait["Parameters"].(map[string]any)
	if wait["Resource"] != "arn:aws:states:::lambda:invoke.waitForTaskToken" || params["FunctionName"] != starterARN {
		t.Errorf("event wait = %v / %v, want waitForTaskToken on %s", wait["Resource"], params["FunctionName"], starterARN)
	}
	if tok := params["Payload"].(map[string]any)["taskToken.$"]; tok != "$$.Task.Token" {
		t.Errorf("taskToken.$ = %v", tok)
	}
	if wait["HeartbeatSecondsPath"] != "$.settings.heartbeatSeconds" || wait["TimeoutSecondsPath"] != "$.settings.timeoutSeconds" {
		t.Errorf("heartbeat/timeout = %v / %v", wait["HeartbeatSecondsPath"], wait["TimeoutSecondsPath"])
	}
	fallback := wait["Catch"].([]any)[0].(map[string]any)
	if !slices.Equal(strList(fallback["ErrorEquals"]), []string{"States.HeartbeatTimeout", "States.Timeout"}) || fallback["Next"] != statemachine.StateFallBack {
		t.Errorf("fallback catch = %v", fallback)
	}
	var retried []string
	for _, r := range wait["Retry"].([]any) {
		retried = append(retried, strList(r.(map[string]any)["ErrorEquals"])...)
	}
	for _, e := range []string{"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException", "BuildQuotaExceeded", "TransientError"} {
		if !slices.Contains(retried, e) {
			t.Errorf("event wait does not retry %s", e)
		}
	}
	for _, e := range []string{"InvalidTarget", "TargetNotAllowed", "StartBuildFailed", "AssumeRoleFailed"} {
		if slices.Contains(retried, e) {
			t.Errorf("event wait retries %s", e)
		}
	}
	if fn := it[statemachine.StatePollBuild].(map[string]any)["Parameters"].(map[string]any)["FunctionName"]; fn != pollerARN {
		t.Errorf("poller FunctionName = %v, want %s", fn, pollerARN)
	}
	if fn := it[statemachine.StateStartForPolling].(map[string]any)["Parameters"].(map[string]any)["FunctionName"]; fn != starterARN {
		t.Errorf("polling start FunctionName = %v, want %s", fn, starterARN)
	}

	if fn := top[statemachine.StatePlanRun].(map[string]any)["Parameters"].(map[string]any)["FunctionName"]; fn != plannerARN {
		t.Errorf("planner FunctionName = %v, want %s", fn, plannerARN)
	}
	if fn := top[statemachine.StateSummarise].(map[string]any)["Parameters"].(map[string]any)["FunctionName"]; fn != summariserARN {
		t.Errorf("summariser FunctionName = %v, want %s", fn, summariserARN)
	}

	// The context's defaults reach the planner, which resolves every target's settings.
	planner := functionEnv(t, accountsApp.json[config.SourceStackName], "crossbuild-planner")
	for k, v := range map[string]string{
		"DEFAULT_MAX_CONCURRENCY": "7", "DEFAULT_HEARTBEAT_SECONDS": "900", "DEFAULT_TIMEOUT_SECONDS": "7200", "DEFAULT_POLL_INTERVAL_SECONDS": "30",
	} {
		if planner[k] != v {
			t.Errorf("planner %s = %v, want %s", k, planner[k], v)
		}
	}
	if poller := functionEnv(t, accountsApp.json[config.SourceStackName], "crossbuild-poller"); poller["MAX_POLL_INTERVAL_SECONDS"] != "900" {
		t.Errorf("poller MAX_POLL_INTERVAL_SECONDS = %v", poller["MAX_POLL_INTERVAL_SECONDS"])
	}
}

// TestStateMachineInvokesOnlyItsFunctions: the state machine's role may invoke the
// planner, the starter, the poller, the summariser and the canceller (a failed target's
// build is stopped from the state machine), nothing else.
func TestStateMachineInvokesOnlyItsFunctions(t *testing.T) {
	src := accountsApp.stacks[config.SourceStackName]
	var want []string
	for _, fn := range []string{"planner", "starter", "poller", "summariser", "canceller"} {
		want = append(want, logicalID(src, accountsApp.d.Source.Functions[fn])+".Arn")
	}
	var found bool
	for _, st := range statements(t, accountsApp.json[config.SourceStackName]) {
		if slices.Contains(st.actions, "lambda:InvokeFunction") {
			found = true
			if !sameSet(st.resources, want) {
				t.Errorf("lambda:InvokeFunction on %v, want %v", st.resources, want)
			}
		}
	}
	if !found {
		t.Error("no lambda:InvokeFunction statement")
	}
}

// statement is one IAM policy statement of a template, with its resources rendered.
type statement struct {
	policy     string // logical id of the policy or role
	metadata   map[string]any
	actions    []string
	resources  []string
	principals []string
	conditions map[string]any
}

// statements returns the identity-policy statements of a template: AWS::IAM::Policy
// documents and roles' inline policies.
func statements(t *testing.T, tpl map[string]any) []statement {
	t.Helper()
	var out []statement
	add := func(id string, meta map[string]any, doc any) {
		for _, raw := range doc.(map[string]any)["Statement"].([]any) {
			st := raw.(map[string]any)
			out = append(out, statement{policy: id, metadata: meta, actions: strList(st["Action"]), resources: renderAll(t, st["Resource"])})
		}
	}
	for id, r := range resources(tpl, "AWS::IAM::Policy") {
		meta, _ := r["Metadata"].(map[string]any)
		add(id, meta, r["Properties"].(map[string]any)["PolicyDocument"])
	}
	for id, r := range resources(tpl, "AWS::IAM::Role") {
		meta, _ := r["Metadata"].(map[string]any)
		policies, _ := r["Properties"].(map[string]any)["Policies"].([]any)
		for _, p := range policies {
			add(id, meta, p.(map[string]any)["PolicyDocument"])
		}
	}
	return out
}

// trustStatements returns the roles' trust statements by role name (or logical id).
func trustStatements(t *testing.T, tpl map[string]any) map[string][]statement {
	t.Helper()
	out := map[string][]statement{}
	for id, r := range resources(tpl, "AWS::IAM::Role") {
		p := r["Properties"].(map[string]any)
		name, _ := p["RoleName"].(string)
		if name == "" {
			name = id
		}
		for _, raw := range p["AssumeRolePolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := raw.(map[string]any)
			var principals []string
			switch pr := st["Principal"].(type) {
			case string:
				principals = []string{pr}
			case map[string]any:
				for kind, v := range pr {
					for _, s := range renderAll(t, v) {
						principals = append(principals, kind+":"+s)
					}
				}
			}
			cond, _ := st["Condition"].(map[string]any)
			out[name] = append(out[name], statement{policy: id, actions: strList(st["Action"]), principals: principals, conditions: cond})
		}
	}
	return out
}

// wildcardActions are the only actions allowed on Resource "*", each with a suppression
// reason in nag.go: none of them supports resource-level permissions.
var wildcardActions = []string{
	"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
	"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
	"logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}

// TestNoUnexplainedWildcards: in every stack, no action is a wildcard, no sts:AssumeRole
// applies to "*", and "*" resources carry only the actions above, on policies holding an
// IAM5 suppression that names exactly Resource::*.
func TestNoUnexplainedWildcards(t *testing.T) {
	for _, a := range []*testApp{accountsApp, orgApp} {
		for name, tpl := range a.json {
			for _, st := range statements(t, tpl) {
				for _, act := range st.actions {
					if strings.Contains(act, "*") {
						t.Errorf("%s/%s: wildcard action %s", name, st.policy, act)
					}
				}
				if !slices.Contains(st.resources, "*") {
					continue
				}
				if slices.Contains(st.actions, "sts:AssumeRole") {
					t.Errorf("%s/%s: sts:AssumeRole on *", name, st.policy)
				}
				for _, act := range st.actions {
					if !slices.Contains(wildcardActions, act) {
						t.Errorf("%s/%s: %s on * (not in the explained list)", name, st.policy, act)
					}
				}
				if !hasSuppression(st.metadata, "AwsSolutions-IAM5", "Resource::*") {
					t.Errorf("%s/%s: Resource::* without an IAM5 suppression narrowed to it", name, st.policy)
				}
			}
		}
	}
}

func hasSuppression(meta map[string]any, id, appliesTo string) bool {
	nag, _ := meta["cdk_nag"].(map[string]any)
	rules, _ := nag["rules_to_suppress"].([]any)
	for _, r := range rules {
		rule := r.(map[string]any)
		if rule["id"] == id && slices.Contains(strList(rule["applies_to"]), appliesTo) {
			return true
		}
	}
	return false
}

// roleStatements returns the statements attached to a named role of the source stack.
func roleStatements(t *testing.T, a *testApp, roleName string) []statement {
	t.Helper()
	tpl := a.json[config.SourceStackName]
	var roleID string
	for id, r := range resources(tpl, "AWS::IAM::Role") {
		if r["Properties"].(map[string]any)["RoleName"] == roleName {
			roleID = id
		}
	}
	if roleID == "" {
		t.Fatalf("role %s not found", roleName)
	}
	return roleStatementsByID(t, a, roleID)
}

// roleStatementsByID returns the identity-policy statements attached to the role with
// the given logical id.
func roleStatementsByID(t *testing.T, a *testApp, roleID string) []statement {
	t.Helper()
	tpl := a.json[config.SourceStackName]
	var out []statement
	for id, r := range resources(tpl, "AWS::IAM::Policy") {
		for _, role := range r["Properties"].(map[string]any)["Roles"].([]any) {
			if role.(map[string]any)["Ref"] == roleID {
				for _, st := range statements(t, map[string]any{"Resources": map[string]any{id: r}}) {
					out = append(out, st)
				}
			}
		}
	}
	return out
}

func TestFunctionPermissions(t *testing.T) {
	a := accountsApp
	tableID, _ := only(t, a.json[config.SourceStackName], "AWS::DynamoDB::Table")
	table := []string{tableID + ".Arn"}
	tableAndIndex := []string{tableID + ".Arn", tableID + ".Arn/index/byExecution"}
	targetRoles := []string{"arn:aws:iam::222222222222:role/crossbuild-target-role", "arn:aws:iam::333333333333:role/crossbuild-target-role"}
	stateMachineARN := "arn:aws:states:eu-west-1:111111111111:stateMachine:" + config.StateMachineName

	tests := []struct {
		role     string
		assumes  bool
		sendTask []string
		dynamodb []string
		tableOn  []string
	}{
		{config.StarterRoleName, true, []string{"states:SendTaskSuccess", "states:SendTaskFailure"},
			[]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, table},
		{config.PollerRoleName, true, nil,
			[]string{"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"}, tableAndIndex},
		{config.CallbackRoleName, false, []string{"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"},
			[]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, table},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			var assumes, sends, table bool
			for _, st := range roleStatements(t, a, tt.role) {
				for _, act := range st.actions {
					switch {
					case act == "sts:AssumeRole":
						assumes = true
						if !slices.Equal(st.resources, targetRoles) {
							t.Errorf("sts:AssumeRole on %v, want exactly %v", st.resources, targetRoles)
						}
					case strings.HasPrefix(act, "states:"):
						sends = true
						// The tasks run in child executions, named <state machine>/<label>.
						if want := []string{stateMachineARN, stateMachineARN + "/" + statemachine.MapRunLabel}; !slices.Equal(st.resources, want) {
							t.Errorf("%s on %v, want only %v", act, st.resources, want)
						}
					case strings.HasPrefix(act, "dynamodb:"):
						table = true
						if !slices.Equal(st.resources, tt.tableOn) {
							t.Errorf("%s on %v, want %v", act, st.resources, tt.tableOn)
						}
					}
				}
				if strings.HasPrefix(firstOr(st.actions), "states:") && !sameSet(st.actions, tt.sendTask) {
					t.Errorf("states actions = %v, want %v", st.actions, tt.sendTask)
				}
				if strings.HasPrefix(firstOr(st.actions), "dynamodb:") && !sameSet(st.actions, tt.dynamodb) {
					t.Errorf("dynamodb actions = %v, want %v", st.actions, tt.dynamodb)
				}
			}
			if assumes != tt.assumes || sends != (tt.sendTask != nil) || !table {
				t.Errorf("assumes=%v sends=%v table=%v, want %v %v true", assumes, sends, table, tt.assumes, tt.sendTask != nil)
			}
		})
	}
	// The state machine the ARN above names is the one in the stack.
	check(t, func() {
		a.source().HasResourceProperties(str("AWS::StepFunctions::StateMachine"), &map[string]any{"StateMachineName": config.StateMachineName})
	})
}

// sameSet compares actions or resources as IAM does, in any order (the recommended flag
// @aws-cdk/aws-iam:minimizePolicies sorts them).
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func firstOr(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

func TestEventBusPolicy(t *testing.T) {
	tests := []struct {
		name           string
		app            *testApp
		wantPrincipals []string
		wantOrg        string
	}{
		{"accounts", accountsApp, []string{"AWS:arn:aws:iam::222222222222:root", "AWS:arn:aws:iam::333333333333:root"}, ""},
		{"organization", orgApp, []string{"AWS:*"}, orgID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl := tt.app.json[config.SourceStackName]
			busID, bus := only(t, tpl, "AWS::Events::EventBus")
			if bus["Name"] != config.EventBusName {
				t.Errorf("bus name = %v", bus["Name"])
			}
			_, pol := only(t, tpl, "AWS::Events::EventBusPolicy")
			st := pol["Statement"].(map[string]any)
			var principals []string
			switch pr := st["Principal"].(type) {
			case string:
				principals = []string{"AWS:" + pr}
			case map[string]any:
				for _, s := range renderAll(t, pr["AWS"]) {
					principals = append(principals, "AWS:"+s)
				}
			}
			slices.Sort(principals)
			if !slices.Equal(principals, tt.wantPrincipals) {
				t.Errorf("principals = %v, want %v", principals, tt.wantPrincipals)
			}
			if st["Effect"] != "Allow" || st["Action"] != "events:PutEvents" || render(t, st["Resource"]) != busID+".Arn" {
				t.Errorf("statement = %v", st)
			}
			eq := st["Condition"].(map[string]any)["StringEquals"].(map[string]any)
			if !slices.Equal(strList(eq["events:source"]), []string{"aws.codebuild"}) {
				t.Errorf("events:source condition = %v", eq["events:source"])
			}
			if got, _ := eq["aws:PrincipalOrgID"].(string); got != tt.wantOrg {
				t.Errorf("aws:PrincipalOrgID = %q, want %q", got, tt.wantOrg)
			}
		})
	}
}

func TestArchive(t *testing.T) {
	tpl := accountsApp.json[config.SourceStackName]
	busID, _ := only(t, tpl, "AWS::Events::EventBus")
	check(t, func() {
		accountsApp.source().HasResourceProperties(str("AWS::Events::Archive"), &map[string]any{
			"SourceArn":     map[string]any{"Fn::GetAtt": []any{busID, "Arn"}},
			"RetentionDays": 30,
		})
	})
	// The archive keeps the terminal events of crossbuild's builds only: every CodeBuild
	// event carries the build's PLAINTEXT variables (docs/security.md).
	_, archive := only(t, tpl, "AWS::Events::Archive")
	raw, err := json.Marshal(archive["EventPattern"])
	if err != nil {
		t.Fatal(err)
	}
	pattern, err := eventpattern.Compile(raw)
	if err != nil {
		t.Fatalf("archive pattern %s: %v", raw, err)
	}
	for _, tc := range []struct {
		fixture string
		kept    bool
	}{
		{"state-succeeded", true}, {"state-failed", true}, {"state-fault", true},
		{"state-stopped", true}, {"state-timed-out", true},
		{"state-in-progress", false}, {"phase-build-completed", false},
		{"phase-provisioning-completed", false}, {"state-succeeded-foreign", false},
	} {
		event, err := testfixtures.Raw(tc.fixture)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := pattern.Match(event)
		if err != nil || ok != tc.kept {
			t.Errorf("archive keeps %s: %v (%v), want %v", tc.fixture, ok, err, tc.kept)
		}
	}
}

func TestCallbackRule(t *testing.T) {
	a := accountsApp
	tpl := a.json[config.SourceStackName]
	src := a.stacks[config.SourceStackName]
	busID, _ := only(t, tpl, "AWS::Events::EventBus")
	rule := ruleTo(t, tpl, logicalID(src, a.d.Source.Functions["callback"]))
	if ref, _ := rule["EventBusName"].(map[string]any); ref["Ref"] != busID {
		t.Errorf("rule is on %v, want the crossbuild bus", rule["EventBusName"])
	}
	pattern := rule["EventPattern"].(map[string]any)
	if !slices.Equal(strList(pattern["source"]), []string{"aws.codebuild"}) ||
		!slices.Equal(strList(pattern["detail-type"]), []string{DetailStateChange, DetailPhaseChange}) {
		t.Errorf("pattern = %v", pattern)
	}
	detail := pattern["detail"].(map[string]any)
	if got := strList(detail["project-name"]); !slices.Equal(got, a.cfg.ProjectNames()) {
		t.Errorf("project-name = %v, want %v", got, a.cfg.ProjectNames())
	}
	statuses := strList(detail["$or"].([]any)[0].(map[string]any)["build-status"])
	for _, s := range []string{"SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT", "IN_PROGRESS"} {
		if !slices.Contains(statuses, s) {
			t.Errorf("build-status lacks %s: %v", s, statuses)
		}
	}
	if !reflect.DeepEqual(detail["$or"].([]any)[1], map[string]any{"completed-phase": []any{map[string]any{"exists": true}}}) {
		t.Errorf("phase changes are not matched: %v", detail["$or"])
	}
	if got := strList(pattern["account"]); !slices.Equal(got, []string{acctA, acctB}) {
		t.Errorf("account = %v", got)
	}

	targets := rule["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("targets = %v", targets)
	}
	target := targets[0].(map[string]any)
	dlqID := logicalID(src, a.d.Source.DeadLetters)
	callbackID := logicalID(src, a.d.Source.Functions["callback"])
	if render(t, target["Arn"]) != callbackID+".Arn" || render(t, target["DeadLetterConfig"].(map[string]any)["Arn"]) != dlqID+".Arn" {
		t.Errorf("target = %v", target)
	}
	retry := target["RetryPolicy"].(map[string]any)
	if retry["MaximumRetryAttempts"].(float64) < 1 || retry["MaximumEventAgeInSeconds"].(float64) < 60 {
		t.Errorf("retry policy = %v", retry)
	}
	// Failed asynchronous invocations of the callback land in the same queue.
	check(t, func() {
		a.source().HasResourceProperties(str("AWS::Lambda::Function"), &map[string]any{
			"FunctionName":     "crossbuild-callback",
			"DeadLetterConfig": map[string]any{"TargetArn": map[string]any{"Fn::GetAtt": []any{dlqID, "Arn"}}},
		})
	})
}

// ruleTo returns the properties of the one rule whose targets include the function with
// logical id fnID.
func ruleTo(t *testing.T, tpl map[string]any, fnID string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, r := range resources(tpl, "AWS::Events::Rule") {
		props := r["Properties"].(map[string]any)
		for _, tg := range props["Targets"].([]any) {
			if render(t, tg.(map[string]any)["Arn"]) == fnID+".Arn" {
				found = append(found, props)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d rules target %s, want 1", len(found), fnID)
	}
	return found[0]
}

// TestCancellerRule: the ends of crossbuild executions that did not succeed, from the
// source account's default bus (where Step Functions sends them), go to the canceller with
// retries and the dead-letter queue; nothing else does.
func TestCancellerRule(t *testing.T) {
	a := accountsApp
	tpl := a.json[config.SourceStackName]
	src := a.stacks[config.SourceStackName]
	cancellerID := logicalID(src, a.d.Source.Functions["canceller"])
	rule := ruleTo(t, tpl, cancellerID)
	if bus, ok := rule["EventBusName"]; ok {
		t.Errorf("rule is on %v, want the default bus", bus)
	}
	stateMachineARN := "arn:aws:states:eu-west-1:111111111111:stateMachine:" + config.StateMachineName
	want := map[string]any{
		"source":      []any{"aws.states"},
		"detail-type": []any{"Step Functions Execution Status Change"},
		"detail": map[string]any{
			"stateMachineArn": []any{stateMachineARN},
			"status":          []any{"ABORTED", "TIMED_OUT", "FAILED"},
		},
	}
	if !reflect.DeepEqual(rule["EventPattern"], want) {
		t.Errorf("pattern = %v, want %v", rule["EventPattern"], want)
	}
	target := rule["Targets"].([]any)[0].(map[string]any)
	dlqID := logicalID(src, a.d.Source.DeadLetters)
	if render(t, target["DeadLetterConfig"].(map[string]any)["Arn"]) != dlqID+".Arn" {
		t.Errorf("dead letters go to %v", target["DeadLetterConfig"])
	}
	retry := target["RetryPolicy"].(map[string]any)
	if retry["MaximumRetryAttempts"].(float64) != 185 || retry["MaximumEventAgeInSeconds"].(float64) != 86400 {
		t.Errorf("retry policy = %v", retry)
	}
	check(t, func() {
		a.source().HasResourceProperties(str("AWS::Lambda::Function"), &map[string]any{
			"FunctionName":     "crossbuild-canceller",
			"DeadLetterConfig": map[string]any{"TargetArn": map[string]any{"Fn::GetAtt": []any{dlqID, "Arn"}}},
			"Environment": map[string]any{"Variables": obj(map[string]any{
				"STATE_MACHINE_ARN": stateMachineARN, "ALLOWED_ROLE_ARNS": "arn:aws:iam::*:role/crossbuild-target-role",
			})},
		})
	})
}

// TestCancellerPermissions: the canceller may list an execution's records on the index,
// update records on the table, assume the configured target roles and hand failed
// invocations to the dead-letter queue: nothing more.
func TestCancellerPermissions(t *testing.T) {
	a := accountsApp
	tableID, _ := only(t, a.json[config.SourceStackName], "AWS::DynamoDB::Table")
	targetRoles := []string{"arn:aws:iam::222222222222:role/crossbuild-target-role", "arn:aws:iam::333333333333:role/crossbuild-target-role"}
	dlqID := logicalID(a.stacks[config.SourceStackName], a.d.Source.DeadLetters)
	want := map[string][]string{
		"sts:AssumeRole":      targetRoles,
		"dynamodb:Query":      {tableID + ".Arn/index/byExecution"},
		"dynamodb:UpdateItem": {tableID + ".Arn"},
		"sqs:SendMessage":     {dlqID + ".Arn"}, // failed asynchronous invocations
	}
	got := map[string][]string{}
	for _, st := range roleStatements(t, a, config.CancellerRoleName) {
		for _, act := range st.actions {
			if strings.HasPrefix(act, "xray:") || strings.HasPrefix(act, "logs:") {
				continue
			}
			got[act] = append(got[act], st.resources...)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("canceller permissions = %v, want %v", got, want)
	}
}

// TestDeadLetterQueues: every queue of every stack is encrypted and refuses plain HTTP.
func TestDeadLetterQueues(t *testing.T) {
	for name, tpl := range accountsApp.json {
		queues := resources(tpl, "AWS::SQS::Queue")
		if len(queues) == 0 {
			t.Errorf("%s has no dead-letter queue", name)
		}
		for id, q := range queues {
			if q["Properties"].(map[string]any)["SqsManagedSseEnabled"] != true {
				t.Errorf("%s/%s is not encrypted", name, id)
			}
			var tls bool
			for _, p := range resources(tpl, "AWS::SQS::QueuePolicy") {
				props := p["Properties"].(map[string]any)
				if render(t, props["Queues"].([]any)[0]) != id {
					continue
				}
				for _, raw := range props["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					st := raw.(map[string]any)
					if st["Effect"] == "Deny" && reflect.DeepEqual(st["Condition"], map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}) {
						tls = true
					}
				}
			}
			if !tls {
				t.Errorf("%s/%s does not enforce SSL", name, id)
			}
		}
	}
}

func TestAlarms(t *testing.T) {
	tpl := accountsApp.source()
	for _, m := range []struct{ namespace, metric string }{
		{"AWS/States", "ExecutionsFailed"},
		{"AWS/States", "ExecutionsTimedOut"},
		{"AWS/SQS", "ApproximateNumberOfMessagesVisible"},
	} {
		check(t, func() {
			tpl.HasResourceProperties(str("AWS::CloudWatch::Alarm"), &map[string]any{
				"Namespace": m.namespace, "MetricName": m.metric, "Threshold": 1,
				"AlarmActions": []any{topicARN},
			})
		})
	}
	check(t, func() {
		tpl.ResourcePropertiesCountIs(str("AWS::CloudWatch::Alarm"), &map[string]any{
			"Namespace": "AWS/Lambda", "MetricName": "Errors", "AlarmActions": []any{topicARN},
		}, jsii.Number(float64(len(Functions))))
	})
	// Without a topic the alarms have no actions.
	check(t, func() {
		orgApp.source().AllResourcesProperties(str("AWS::CloudWatch::Alarm"), &map[string]any{"AlarmActions": assertions.Match_Absent()})
	})
}

func keys[V any](m map[string]V) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}

// TestRunsBucket: the bucket of items and results is private, encrypted, TLS only, and
// forgets runs after the retention period.
func TestRunsBucket(t *testing.T) {
	tpl := accountsApp.source()
	check(t, func() {
		tpl.HasResourceProperties(str("AWS::S3::Bucket"), &map[string]any{
			"PublicAccessBlockConfiguration": map[string]any{
				"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
			},
			"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{
				map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}},
			}},
			"LifecycleConfiguration": map[string]any{"Rules": []any{obj(map[string]any{
				"Prefix": RunsPrefix, "ExpirationInDays": runRetentionDays, "Status": "Enabled",
				"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": 1},
			})}},
		})
	})
	check(t, func() {
		tpl.HasResourceProperties(str("AWS::S3::BucketPolicy"), &map[string]any{
			"PolicyDocument": obj(map[string]any{"Statement": arrayWith(obj(map[string]any{
				"Effect": "Deny", "Action": "s3:*",
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			}))}),
		})
	})
	check(t, func() {
		tpl.HasResource(str("AWS::S3::Bucket"), &map[string]any{"DeletionPolicy": "Retain"})
	})
	// Users find the bucket for targetsS3Uri in the stack's outputs.
	bucketID, _ := only(t, accountsApp.json[config.SourceStackName], "AWS::S3::Bucket")
	check(t, func() {
		tpl.HasOutput(str(RunsBucketOutput), &map[string]any{"Value": map[string]any{"Ref": bucketID}})
	})
}

// TestDistributedMapPermissions: the state machine may start its own child executions,
// describe and stop them, and read and write objects under runs/ only; the planner and the
// summariser get what they use and nothing more.
func TestDistributedMapPermissions(t *testing.T) {
	src := accountsApp.stacks[config.SourceStackName]
	bucket := logicalID(src, accountsApp.d.Source.Bucket)
	smARN := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", srcRegion, srcAccount, config.StateMachineName)
	smRole := logicalID(src, accountsApp.d.Source.StateMachine.Role())
	planner := logicalID(src, accountsApp.d.Source.Functions["planner"].Role())
	summariser := logicalID(src, accountsApp.d.Source.Functions["summariser"].Role())

	type grant struct {
		Actions, Resources []string
	}
	want := map[string][]grant{
		smRole: {
			{[]string{"states:StartExecution"}, []string{smARN}},
			{[]string{"states:DescribeExecution", "states:StopExecution"}, []string{fmt.Sprintf("arn:aws:states:%s:%s:execution:%s/*", srcRegion, srcAccount, config.StateMachineName)}},
			// Sorted, as @aws-cdk/aws-iam:minimizePolicies renders them.
			{[]string{"s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"}, []string{bucket + ".Arn/runs/*"}},
		},
		planner: {
			{[]string{"s3:GetObject"}, []string{bucket + ".Arn/*"}},
			{[]string{"s3:PutObject"}, []string{bucket + ".Arn/runs/*"}},
		},
		summariser: {
			{[]string{"s3:ListBucket"}, []string{bucket + ".Arn"}},
			{[]string{"s3:GetObject"}, []string{bucket + ".Arn/runs/*"}},
		},
	}
	equal := func(a, b []grant) bool {
		x, _ := json.Marshal(a)
		y, _ := json.Marshal(b)
		return string(x) == string(y)
	}
	got := map[string][]grant{}
	for role := range want {
		for _, st := range roleStatementsByID(t, accountsApp, role) {
			for _, a := range st.actions {
				if strings.HasPrefix(a, "s3:") || a == "states:StartExecution" || a == "states:DescribeExecution" {
					got[role] = append(got[role], grant{st.actions, st.resources})
					break
				}
			}
		}
	}
	for role, grants := range want {
		if !equal(got[role], grants) {
			t.Errorf("%s: S3 and execution grants\n got %v\nwant %v", role, got[role], grants)
		}
	}
}
