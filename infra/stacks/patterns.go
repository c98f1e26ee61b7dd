package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/jsii-runtime-go"
)

// eventPattern turns a pattern in its JSON form (infra/config builds and measures them)
// into the L2 struct, which renders the same JSON into the template.
func eventPattern(m map[string]any) *awsevents.EventPattern {
	p := &awsevents.EventPattern{}
	for k, v := range m {
		switch k {
		case "source":
			p.Source = jsii.Strings(v.([]string)...)
		case "detail-type":
			p.DetailType = jsii.Strings(v.([]string)...)
		case "account":
			p.Account = jsii.Strings(v.([]string)...)
		case "region":
			p.Region = jsii.Strings(v.([]string)...)
		case "detail":
			detail := v.(map[string]any)
			p.Detail = &detail
		default:
			// A programming error: synthesis reports it (infra/main.go recovers panics).
			panic(fmt.Sprintf("event pattern field %q has no EventPattern counterpart", k))
		}
	}
	return p
}
