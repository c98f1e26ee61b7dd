package stacks

import (
	"testing"

	"github.com/crossbuild/crossbuild/infra/config"
)

// TestOperatorOutputs: the source stack names everything the crossbuild command reads, each
// output referring to the resource itself rather than to a name built beside it.
func TestOperatorOutputs(t *testing.T) {
	src := accountsApp.stacks[config.SourceStackName]
	d := accountsApp.d.Source
	tpl := accountsApp.source()
	for _, tt := range []struct {
		output string
		value  map[string]any
	}{
		{config.StateMachineOutput, map[string]any{"Ref": logicalID(src, d.StateMachine)}},
		{config.TokenTableOutput, map[string]any{"Ref": logicalID(src, d.Table)}},
		{config.EventBusOutput, map[string]any{"Fn::GetAtt": []any{logicalID(src, d.Bus), "Arn"}}},
		{config.DeadLetterQueueOutput, map[string]any{"Ref": logicalID(src, d.DeadLetters)}},
	} {
		t.Run(tt.output, func(t *testing.T) {
			check(t, func() { tpl.HasOutput(str(tt.output), &map[string]any{"Value": tt.value}) })
		})
	}
}
