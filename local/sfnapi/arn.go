package sfnapi

import (
	"strings"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/crossbuild/crossbuild/internal/partition"
)

func stateMachineArn(c caller, name string) string {
	return "arn:" + partition.Of(c.region) + ":states:" + c.region + ":" + c.account + ":stateMachine:" + name
}

// executionArn derives an execution ARN from its state machine's ARN.
func executionArn(machineArn, name string) string {
	return strings.Replace(machineArn, ":stateMachine:", ":execution:", 1) + ":" + name
}

// arnParts splits arn:partition:states:region:account:resourceType:name[:name2] into
// its colon-separated fields.
func arnParts(s string) ([]string, bool) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "states" {
		return nil, false
	}
	resource := strings.Split(a.Resource, ":")
	if len(resource) < 2 {
		return nil, false
	}
	return append([]string{"arn", a.Partition, a.Service, a.Region, a.AccountID}, resource...), true
}

func validStateMachineArn(arn string) bool {
	parts, ok := arnParts(arn)
	return ok && len(parts) == 7 && parts[5] == "stateMachine" && parts[6] != ""
}

// machineOfExecution returns the state machine ARN an execution ARN belongs to.
func machineOfExecution(arn string) (string, bool) {
	parts, ok := arnParts(arn)
	if !ok || len(parts) != 8 || parts[5] != "execution" || parts[6] == "" || parts[7] == "" {
		return "", false
	}
	return strings.Join(append(parts[:5:5], "stateMachine", parts[6]), ":"), true
}

// validMapRunArn accepts arn:partition:states:region:account:mapRun:
// <state machine>/<label>:<id>.
func validMapRunArn(arn string) bool {
	parts, ok := arnParts(arn)
	return ok && len(parts) == 8 && parts[5] == "mapRun" && strings.Contains(parts[6], "/") && parts[7] != ""
}

// validName applies the service's rules for state machine and execution
// names: 1 to 80 characters, no whitespace, brackets, wildcards, control
// characters or the characters " # % \ ^ | ~ ` $ & , ; : /.
func validName(name string) bool {
	if name == "" || len([]rune(name)) > 80 {
		return false
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || (r >= 0x7f && r <= 0x9f) {
			return false
		}
		if strings.ContainsRune(`<>{}[]?*"#%\^|~`+"`"+`$&,;:/`, r) {
			return false
		}
	}
	return true
}
