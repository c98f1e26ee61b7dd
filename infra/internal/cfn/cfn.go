// Package cfn renders CloudFormation string expressions of synthesized templates, such as
// the Fn::Join CDK makes of a state machine definition that contains resource ARNs.
package cfn

import (
	"fmt"
	"strings"
)

// Resolver returns the value to put in place of a Ref (attribute "") or an Fn::GetAtt.
type Resolver func(logicalID, attribute string) string

// Render turns a plain string or an Fn::Join of strings, Ref and Fn::GetAtt into a string.
func Render(v any, resolve Resolver) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		if len(x) != 1 {
			return "", fmt.Errorf("expected one intrinsic function, got %d keys", len(x))
		}
		for fn, arg := range x {
			return renderFunction(fn, arg, resolve)
		}
	}
	return "", fmt.Errorf("cannot render %T", v)
}

func renderFunction(fn string, arg any, resolve Resolver) (string, error) {
	switch fn {
	case "Ref":
		id, ok := arg.(string)
		if !ok {
			return "", fmt.Errorf("Ref: expected a logical id, got %T", arg)
		}
		return resolve(id, ""), nil
	case "Fn::GetAtt":
		parts, ok := arg.([]any)
		if !ok || len(parts) != 2 {
			return "", fmt.Errorf("Fn::GetAtt: expected [logicalId, attribute], got %v", arg)
		}
		id, ok1 := parts[0].(string)
		attr, ok2 := parts[1].(string)
		if !ok1 || !ok2 {
			return "", fmt.Errorf("Fn::GetAtt: expected strings, got %v", arg)
		}
		return resolve(id, attr), nil
	case "Fn::Join":
		parts, ok := arg.([]any)
		if !ok || len(parts) != 2 {
			return "", fmt.Errorf("Fn::Join: expected [separator, [values]], got %v", arg)
		}
		sep, ok1 := parts[0].(string)
		values, ok2 := parts[1].([]any)
		if !ok1 || !ok2 {
			return "", fmt.Errorf("Fn::Join: expected a separator and a list, got %v", arg)
		}
		out := make([]string, len(values))
		for i, v := range values {
			s, err := Render(v, resolve)
			if err != nil {
				return "", fmt.Errorf("Fn::Join[%d]: %w", i, err)
			}
			out[i] = s
		}
		return strings.Join(out, sep), nil
	}
	return "", fmt.Errorf("unsupported intrinsic function %s", fn)
}

// Placeholders resolves references to recognisable fake values: a Lambda-style ARN for
// Fn::GetAtt Arn, the logical id itself otherwise.
func Placeholders(partition, region, account string) Resolver {
	return func(id, attr string) string {
		switch attr {
		case "Arn":
			return fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", partition, region, account, id)
		case "":
			return id
		default:
			return id + "." + attr
		}
	}
}
