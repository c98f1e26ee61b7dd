package stacks

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/crossbuild/crossbuild/infra/config"
)

// TestTargetRole: one role per account (IAM is global), in the stack of the account's
// configured role Region (here not its first one), trusting only the source functions'
// roles with the ExternalId, and allowed only the CodeBuild actions on the configured
// projects of every Region.
func TestTargetRole(t *testing.T) {
	a := accountsApp
	tests := []struct {
		stack    string
		owns     bool
		projects []string
	}{
		{"crossbuild-target-222222222222-eu-west-1", false, nil},
		{"crossbuild-target-222222222222-us-east-1", true, []string{
			"arn:aws:codebuild:eu-west-1:222222222222:project/sample-codebuild-project",
			"arn:aws:codebuild:us-east-1:222222222222:project/sample-codebuild-project",
		}},
		{"crossbuild-target-333333333333-us-east-1", true, []string{
			"arn:aws:codebuild:us-east-1:333333333333:project/nightly",
			"arn:aws:codebuild:us-east-1:333333333333:project/sample-codebuild-project",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.stack, func(t *testing.T) {
			tpl := a.json[tt.stack]
			trust := trustStatements(t, tpl)[a.cfg.TargetRoleName]
			if !tt.owns {
				if trust != nil {
					t.Fatal("a second stack of the same account defines the target role")
				}
				return
			}
			if len(trust) != 1 {
				t.Fatalf("trust statements = %v", trust)
			}
			st := trust[0]
			if !slices.Equal(st.actions, []string{"sts:AssumeRole"}) || !slices.Equal(st.principals, []string{"AWS:arn:aws:iam::111111111111:root"}) {
				t.Errorf("trust = %v from %v", st.actions, st.principals)
			}
			if got := st.conditions["StringEquals"].(map[string]any)["sts:ExternalId"]; got != externalID {
				t.Errorf("sts:ExternalId = %v", got)
			}
			wantPrincipals := []string{"arn:aws:iam::111111111111:role/" + config.StarterRoleName,
				"arn:aws:iam::111111111111:role/" + config.PollerRoleName, "arn:aws:iam::111111111111:role/" + config.CancellerRoleName,
				"arn:aws:iam::111111111111:role/" + config.ReconcilerRoleName}
			if got := strList(st.conditions["ArnEquals"].(map[string]any)["aws:PrincipalArn"]); !slices.Equal(got, wantPrincipals) {
				t.Errorf("aws:PrincipalArn = %v, want %v", got, wantPrincipals)
			}
			var perms []statement
			for _, s := range statements(t, tpl) {
				if s.policy == st.policy {
					perms = append(perms, s)
				}
			}
			if len(perms) != 1 {
				t.Fatalf("role statements = %v", perms)
			}
			if want := []string{"codebuild:StartBuild", "codebuild:BatchGetBuilds", "codebuild:StopBuild", "codebuild:ListBuildsForProject"}; !sameSet(perms[0].actions, want) {
				t.Errorf("actions = %v, want %v", perms[0].actions, want)
			}
			if !sameSet(perms[0].resources, tt.projects) {
				t.Errorf("resources = %v, want %v", perms[0].resources, tt.projects)
			}
		})
	}
	// The principals the target roles trust are the source stack's role names.
	for _, name := range []string{config.StarterRoleName, config.PollerRoleName, config.CancellerRoleName, config.ReconcilerRoleName} {
		check(t, func() {
			a.source().HasResourceProperties(str("AWS::IAM::Role"), &map[string]any{"RoleName": name})
		})
	}
}

func TestSampleProject(t *testing.T) {
	check(t, func() {
		tpl := accountsApp.templates["crossbuild-target-222222222222-eu-west-1"]
		tpl.HasResourceProperties(str("AWS::CodeBuild::Project"), &map[string]any{
			"Name": "sample-codebuild-project",
			"Source": obj(map[string]any{
				"Type":      "NO_SOURCE",
				"BuildSpec": assertions.Match_StringLikeRegexp(str(`env \| tee env_vars\.txt`)),
			}),
			"TimeoutInMinutes": 10,
			"EncryptionKey":    "alias/aws/s3",
			"Environment":      obj(map[string]any{"PrivilegedMode": false}),
		})
		// Targets naming projects without sampleProject get no project.
		accountsApp.templates["crossbuild-target-333333333333-us-east-1"].ResourceCountIs(str("AWS::CodeBuild::Project"), jsii.Number(0))
	})
}

// TestForwardRule: every target stack forwards its projects' state and phase changes,
// unchanged, to the source bus built from the context, through a role limited to it.
func TestForwardRule(t *testing.T) {
	busARN := "arn:aws:events:eu-west-1:111111111111:event-bus/crossbuild"
	for _, a := range []*testApp{accountsApp, orgApp} {
		for _, target := range a.d.Targets {
			t.Run(a.label+"/"+target.Config.StackName(), func(t *testing.T) {
				testForwardRule(t, a.json[target.Config.StackName()], target, busARN)
			})
		}
	}
}

func testForwardRule(t *testing.T, tpl map[string]any, target *Target, busARN string) {
	_, rule := only(t, tpl, "AWS::Events::Rule")
	pattern := rule["EventPattern"].(map[string]any)
	if !slices.Equal(strList(pattern["source"]), []string{"aws.codebuild"}) ||
		!slices.Equal(strList(pattern["detail-type"]), []string{DetailStateChange, DetailPhaseChange}) ||
		!slices.Equal(strList(pattern["detail"].(map[string]any)["project-name"]), target.Config.Projects) {
		t.Errorf("pattern = %v", pattern)
	}
	if _, onCustomBus := rule["EventBusName"]; onCustomBus {
		t.Error("the forwarding rule must be on the default bus")
	}
	targets := rule["Targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("targets = %v", targets)
	}
	tg := targets[0].(map[string]any)
	if tg["Arn"] != busARN {
		t.Errorf("target = %v, want %s", tg["Arn"], busARN)
	}
	for _, k := range []string{"InputTransformer", "Input", "InputPath"} {
		if _, ok := tg[k]; ok {
			t.Errorf("cross-account bus target has %s", k)
		}
	}
	if tg["RetryPolicy"] == nil || tg["DeadLetterConfig"] == nil || tg["RoleArn"] == nil {
		t.Errorf("target lacks retry policy, DLQ or role: %v", tg)
	}
	roleID := render(t, tg["RoleArn"])
	roleID = roleID[:len(roleID)-len(".Arn")]
	var puts bool
	for _, st := range statements(t, tpl) {
		if !slices.Contains(st.actions, "events:PutEvents") {
			continue
		}
		puts = true
		if !slices.Equal(st.actions, []string{"events:PutEvents"}) || !slices.Equal(st.resources, []string{busARN}) {
			t.Errorf("forward role statement = %v on %v", st.actions, st.resources)
		}
	}
	if !puts {
		t.Error("no events:PutEvents statement")
	}
	for _, st := range trustStatements(t, tpl)[roleID] {
		if !slices.Equal(st.principals, []string{"Service:events.amazonaws.com"}) {
			t.Errorf("forward role trusts %v", st.principals)
		}
	}
}

// TestForwardDescriptionFits: a forwarding rule's description stays within EventBridge's
// 512 characters however many projects the account has.
func TestForwardDescriptionFits(t *testing.T) {
	few := forwardDescription([]string{"app", "web"})
	if !strings.Contains(few, "app, web") {
		t.Errorf("a short list is named: %q", few)
	}
	var many []string
	for i := range 60 {
		many = append(many, fmt.Sprintf("project-with-a-long-name-%02d", i))
	}
	d := forwardDescription(many)
	if len(d) > maxRuleDescription || !strings.Contains(d, "60 configured projects") {
		t.Errorf("%d characters: %q", len(d), d)
	}
	exact := []string{strings.Repeat("p", maxRuleDescription-len(forwardDescription([]string{""})))}
	if got := forwardDescription(exact); len(got) != maxRuleDescription || !strings.Contains(got, exact[0]) {
		t.Errorf("a list that fits exactly is named (%d characters)", len(got))
	}
}
