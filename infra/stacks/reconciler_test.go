package stacks

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/infra/statemachine"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// TestOpenIndexMatchesStore: the index the stack creates is the one the store queries.
func TestOpenIndexMatchesStore(t *testing.T) {
	if OpenIndexName != tokenstore.OpenIndex || OpenIndexPartitionKey != tokenstore.OpenShardAttribute ||
		OpenIndexSortKey != tokenstore.OpenSinceAttribute || IndexName != tokenstore.DefaultIndex {
		t.Fatalf("stack index %s(%s, %s), store index %s(%s, %s)", OpenIndexName, OpenIndexPartitionKey, OpenIndexSortKey,
			tokenstore.OpenIndex, tokenstore.OpenShardAttribute, tokenstore.OpenSinceAttribute)
	}
	if TablePartitionKey != tokenstore.KeyAttribute || TTLAttribute != tokenstore.TTLAttribute {
		t.Fatalf("stack table key %s, TTL %s; store key %s, TTL %s", TablePartitionKey, TTLAttribute,
			tokenstore.KeyAttribute, tokenstore.TTLAttribute)
	}
}

// TestReconcilerSchedule: a rule on the default bus runs the reconciler at the configured
// rate (the default in the organization app, 1 minute in the accounts app), with a short
// retry policy and the dead-letter queue; the function gets the configured threshold.
func TestReconcilerSchedule(t *testing.T) {
	for _, tc := range []struct {
		app       *testApp
		rate      string
		maxAge    float64
		threshold string
	}{
		{accountsApp, "rate(1 minute)", 60, "900"},
		{orgApp, "rate(5 minutes)", 300, "600"},
	} {
		t.Run(tc.app.label, func(t *testing.T) {
			tpl := tc.app.json[config.SourceStackName]
			src := tc.app.stacks[config.SourceStackName]
			fnID := logicalID(src, tc.app.d.Source.Functions["reconciler"])
			rule := ruleTo(t, tpl, fnID)
			if rule["ScheduleExpression"] != tc.rate {
				t.Errorf("schedule = %v, want %s", rule["ScheduleExpression"], tc.rate)
			}
			if _, ok := rule["EventPattern"]; ok {
				t.Errorf("a scheduled rule with a pattern: %v", rule["EventPattern"])
			}
			if bus, ok := rule["EventBusName"]; ok {
				t.Errorf("rule is on %v, want the default bus", bus)
			}
			target := rule["Targets"].([]any)[0].(map[string]any)
			dlqID := logicalID(src, tc.app.d.Source.DeadLetters)
			if render(t, target["DeadLetterConfig"].(map[string]any)["Arn"]) != dlqID+".Arn" {
				t.Errorf("dead letters go to %v", target["DeadLetterConfig"])
			}
			retry := target["RetryPolicy"].(map[string]any)
			if retry["MaximumRetryAttempts"].(float64) != 2 || retry["MaximumEventAgeInSeconds"].(float64) != tc.maxAge {
				t.Errorf("retry policy = %v", retry)
			}
			env := functionEnv(t, tpl, "crossbuild-reconciler")
			want := map[string]any{
				"RECONCILE_AFTER_SECONDS": tc.threshold,
				"STATE_MACHINE_ARN":       "arn:aws:states:eu-west-1:111111111111:stateMachine:" + config.StateMachineName,
				"ALLOWED_ROLE_ARNS":       "arn:aws:iam::*:role/crossbuild-target-role",
				"CLAIM_LEASE_SECONDS":     "60",
				"EXTERNAL_ID":             externalID,
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s = %v, want %v", k, env[k], v)
				}
			}
			check(t, func() {
				tc.app.source().HasResourceProperties(str("AWS::Lambda::Function"), &map[string]any{
					"FunctionName":     "crossbuild-reconciler",
					"Timeout":          180,
					"DeadLetterConfig": map[string]any{"TargetArn": map[string]any{"Fn::GetAtt": []any{dlqID, "Arn"}}},
				})
			})
		})
	}
}

// TestReconcilerPermissions: the reconciler may query the open index (not the table, not
// the execution index), read and update records, assume the configured target roles,
// complete crossbuild tasks, describe crossbuild executions and hand failed invocations to
// the dead-letter queue: nothing more.
func TestReconcilerPermissions(t *testing.T) {
	a := accountsApp
	tableID, _ := only(t, a.json[config.SourceStackName], "AWS::DynamoDB::Table")
	targetRoles := []string{"arn:aws:iam::222222222222:role/crossbuild-target-role", "arn:aws:iam::333333333333:role/crossbuild-target-role"}
	stateMachineARN := "arn:aws:states:eu-west-1:111111111111:stateMachine:" + config.StateMachineName
	tasks := []string{stateMachineARN, stateMachineARN + "/" + statemachine.MapRunLabel}
	dlqID := logicalID(a.stacks[config.SourceStackName], a.d.Source.DeadLetters)
	want := map[string][]string{
		"sts:AssumeRole":           targetRoles,
		"dynamodb:Query":           {tableID + ".Arn/index/byOpen"},
		"dynamodb:GetItem":         {tableID + ".Arn"},
		"dynamodb:UpdateItem":      {tableID + ".Arn"},
		"states:SendTaskSuccess":   tasks,
		"states:SendTaskFailure":   tasks,
		"states:DescribeExecution": {"arn:aws:states:eu-west-1:111111111111:execution:" + config.StateMachineName + ":*"},
		"sqs:SendMessage":          {dlqID + ".Arn"}, // failed asynchronous invocations
	}
	got := map[string][]string{}
	for _, st := range roleStatements(t, a, config.ReconcilerRoleName) {
		for _, act := range st.actions {
			if strings.HasPrefix(act, "xray:") || strings.HasPrefix(act, "logs:") {
				continue
			}
			got[act] = append(got[act], st.resources...)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reconciler permissions =\n %v\nwant\n %v", got, want)
	}
}

// TestReconcilerAlarms: the reconciler's errors and every recovered completion raise an
// alarm, sent to the configured topic.
func TestReconcilerAlarms(t *testing.T) {
	tpl := accountsApp.source()
	check(t, func() {
		tpl.HasResourceProperties(str("AWS::CloudWatch::Alarm"), &map[string]any{
			"AlarmName": "crossbuild-records-reconciled", "Namespace": "crossbuild", "MetricName": "RecordsReconciled",
			"Dimensions": []any{map[string]any{"Name": "Function", "Value": "reconciler"}},
			"Statistic":  "Sum", "Period": 300, "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
			"TreatMissingData": "notBreaching", "AlarmActions": []any{topicARN},
		})
	})
	check(t, func() {
		tpl.HasResourceProperties(str("AWS::CloudWatch::Alarm"), &map[string]any{
			"AlarmName": "crossbuild-reconciler-errors", "Namespace": "AWS/Lambda", "MetricName": "Errors",
			"Dimensions": []any{map[string]any{"Name": "FunctionName", "Value": assertions.Match_AnyValue()}},
		})
	})
}
