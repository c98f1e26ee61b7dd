package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/crossbuild/crossbuild/infra/config"
)

// addOperatorOutputs publishes what the crossbuild command needs to find besides the
// bucket: names CloudFormation generates (the table, the queue) and ARNs, so that the
// command reads one stack instead of guessing.
func (s *Source) addOperatorOutputs() {
	outputs := []struct {
		key, description string
		value            *string
	}{
		{config.StateMachineOutput, "crossbuild state machine: StartExecution here (crossbuild run)", s.StateMachine.StateMachineArn()},
		{config.TokenTableOutput, "crossbuild token table: one record per started build (crossbuild watch reads it)", s.Table.TableName()},
		{config.EventBusOutput, "crossbuild source bus: target accounts forward CodeBuild events here; its archive replays them (crossbuild replay)", s.Bus.EventBusArn()},
		{config.DeadLetterQueueOutput, "dead letters of the callback, canceller and reconciler (crossbuild redrive-dlq)", s.DeadLetters.QueueUrl()},
	}
	for _, o := range outputs {
		awscdk.NewCfnOutput(s.Stack, jsii.String(o.key), &awscdk.CfnOutputProps{Value: o.value, Description: jsii.String(o.description)})
	}
}
