package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/internal/metrics"
)

// alarmSpec is one alarm: fires when the metric reaches 1 within a five-minute period.
type alarmSpec struct {
	id, name, description string
	metric                awscloudwatch.Metric
}

func (s *Source) addAlarms(cfg *config.Config) {
	period := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}
	specs := []alarmSpec{
		{"ExecutionsFailedAlarm", "crossbuild-executions-failed",
			"A crossbuild execution failed: TargetsFailed (more targets failed than its failure tolerance allows, the Map Run failed, or a target did not run) " +
				"or InvalidInput (the input broke a rule); the execution's error and cause say which.",
			s.StateMachine.MetricFailed(period)},
		// The state machine sets no TimeoutSeconds, and a target's own timeout only switches it
		// to polling; an execution can time out only at Step Functions' maximum duration of a
		// Standard workflow (one year).
		{"ExecutionsTimedOutAlarm", "crossbuild-executions-timed-out",
			"A crossbuild execution reached Step Functions' one-year maximum duration of a Standard workflow (the state machine sets no timeout of its own, " +
				"and a target's timeoutSeconds only switches it to polling): something kept a target waiting that long; the canceller stops its builds.",
			s.StateMachine.MetricTimedOut(period)},
		{"DeadLettersAlarm", "crossbuild-callback-dead-letters", "Events could not be delivered to or handled by the callback (the affected tasks fall back to polling), the canceller (builds of an ended execution may still run) or the reconciler (a run was lost; the next one follows).",
			s.DeadLetters.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")})},
	}
	specs = append(specs, alarmSpec{
		"RecordsReconciledAlarm", "crossbuild-records-reconciled",
		"The reconciler delivered completions that had been lost (an event that never arrived, a callback that failed): " +
			"those tasks finished late but right. One now and then is what the reconciler is for; a steady count means a broken event path (docs/operations.md, \"The reconciler\").",
		awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String(metrics.Namespace),
			MetricName:    jsii.String(metrics.RecordsReconciled),
			DimensionsMap: &map[string]*string{"Function": jsii.String("reconciler")},
			Period:        awscdk.Duration_Minutes(jsii.Number(5)),
			Statistic:     jsii.String("Sum"),
		}),
	})
	for _, name := range Functions {
		fn := s.Functions[name]
		specs = append(specs, alarmSpec{
			id:          "FunctionErrors" + name,
			name:        "crossbuild-" + name + "-errors",
			description: "The crossbuild " + name + " function returned errors (including the named errors it reports to Step Functions).",
			metric:      fn.MetricErrors(period),
		})
	}
	for _, a := range specs {
		newAlarm(s.Stack, a, cfg.AlarmTopicARN)
	}
}

func newAlarm(scope constructs.Construct, a alarmSpec, topicARN string) awscloudwatch.Alarm {
	alarm := a.metric.CreateAlarm(scope, jsii.String(a.id), &awscloudwatch.CreateAlarmOptions{
		AlarmName:          jsii.String(a.name),
		AlarmDescription:   jsii.String(a.description),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		// No data means nothing ran: not an alarm.
		TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	if topicARN != "" {
		// Set on the L1 resource: the topic is an existing ARN from the context.
		cfn := alarm.Node().DefaultChild().(awscloudwatch.CfnAlarm)
		cfn.SetAlarmActions(jsii.Strings(topicARN))
	}
	return alarm
}
