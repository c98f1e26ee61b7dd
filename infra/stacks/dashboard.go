package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/crossbuild/crossbuild/internal/metrics"
)

// DashboardName is the source stack's CloudWatch dashboard. Dashboards are global to an
// account, so the name carries the Region.
func DashboardName(region string) string { return "crossbuild-" + region }

// Dashboard widget titles, which docs/operations.md describes.
const (
	WidgetExecutions     = "Executions"
	WidgetCompletions    = "Completions by path"
	WidgetLag            = "Completion lag: build end to task closed (seconds)"
	WidgetBuilds         = "Builds started and stopped"
	WidgetEvents         = "Events the callback did not complete with"
	WidgetDeadLetters    = "Dead letters"
	WidgetFunctionErrors = "Function errors"
)

// completionPaths are the values of the Path dimension of the completion metrics.
var completionPaths = []string{metrics.PathEvent, metrics.PathFallback, metrics.PathPoll, metrics.PathReconciler}

// addDashboard draws how executions end, how their targets are completed and how late, the
// builds and events, the dead letters and the functions' errors.
func (s *Source) addDashboard() {
	period := awscdk.Duration_Minutes(jsii.Number(5))
	opts := func(stat, label string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String(stat), Label: jsii.String(label)}
	}
	own := func(name, stat, label string, dims map[string]*string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(metrics.Namespace), MetricName: jsii.String(name), DimensionsMap: &dims,
			Period: period, Statistic: jsii.String(stat), Label: jsii.String(label),
		})
	}
	fn := func(name string) map[string]*string { return map[string]*string{"Function": jsii.String(name)} }
	graph := func(title string, left, right []awscloudwatch.IMetric, stacked bool) awscloudwatch.IWidget {
		props := &awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &left, Width: jsii.Number(12), Height: jsii.Number(6), Stacked: jsii.Bool(stacked),
		}
		if len(right) > 0 {
			props.Right = &right
		}
		return awscloudwatch.NewGraphWidget(props)
	}

	sm := s.StateMachine
	executions := []awscloudwatch.IMetric{
		sm.MetricStarted(opts("Sum", "started")),
		sm.MetricSucceeded(opts("Sum", "succeeded")),
		sm.MetricFailed(opts("Sum", "failed")),
		sm.MetricAborted(opts("Sum", "aborted")),
		sm.MetricTimedOut(opts("Sum", "timed out")),
	}
	var completions, lag []awscloudwatch.IMetric
	for _, p := range completionPaths {
		path := map[string]*string{"Path": jsii.String(p)}
		completions = append(completions, own(metrics.Completions, "Sum", p, path))
		lag = append(lag, own(metrics.CompletionLag, "p50", p+" p50", path), own(metrics.CompletionLag, "p99", p+" p99", path))
	}
	builds := []awscloudwatch.IMetric{
		own(metrics.BuildStarted, "Sum", "started", fn("starter")),
		own(metrics.BuildStopped, "Sum", "stopped by the canceller", fn("canceller")),
		own(metrics.BuildStopped, "Sum", "stopped by the reconciler", fn("reconciler")),
	}
	events := []awscloudwatch.IMetric{
		own(metrics.EventIgnored, "Sum", "ignored", fn("callback")),
		own(metrics.EventRejected, "Sum", "rejected", fn("callback")),
		own(metrics.EventParked, "Sum", "parked", fn("callback")),
		own(metrics.EventForeignBuild, "Sum", "foreign build", fn("callback")),
		own(metrics.TaskAlreadyClosed, "Sum", "task already closed", fn("callback")),
	}
	dlq := s.DeadLetters
	depth := []awscloudwatch.IMetric{dlq.MetricApproximateNumberOfMessagesVisible(opts("Maximum", "messages"))}
	age := []awscloudwatch.IMetric{dlq.MetricApproximateAgeOfOldestMessage(opts("Maximum", "oldest (seconds)"))}
	var errs []awscloudwatch.IMetric
	for _, name := range Functions {
		errs = append(errs, s.Functions[name].MetricErrors(opts("Sum", name)))
	}

	awscloudwatch.NewDashboard(s.Stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(DashboardName(*s.Stack.Region())),
		Widgets: &[]*[]awscloudwatch.IWidget{
			{graph(WidgetExecutions, executions, nil, false), graph(WidgetCompletions, completions, nil, true)},
			{graph(WidgetLag, lag, nil, false), graph(WidgetBuilds, builds, nil, false)},
			{graph(WidgetEvents, events, nil, true), graph(WidgetDeadLetters, depth, age, false)},
			{graph(WidgetFunctionErrors, errs, nil, false)},
		},
	})
}
