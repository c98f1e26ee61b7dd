package cfn

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// intrinsicFunc resolves one intrinsic function: name is the function ("Fn::Join"), arg
// its unresolved argument and path where it stands in the template, for errors.
type intrinsicFunc func(s *Stack, name string, arg any, path string) (any, error)

// intrinsics are the intrinsic functions the local runtime resolves. It is filled in init
// because the functions resolve their arguments, which may call intrinsics again.
var intrinsics map[string]intrinsicFunc

func init() {
	intrinsics = map[string]intrinsicFunc{
		"Ref":        ref,
		"Fn::GetAtt": getAtt,
		"Fn::Join":   join,
		"Fn::Sub":    func(s *Stack, _ string, arg any, path string) (any, error) { return s.sub(arg, path) },
		"Fn::Select": selectItem,
		"Fn::Split":  split,
		"Fn::Base64": base64Of,
		"Fn::If":     ifThenElse,
		"Condition":  namedCondition,
		"Fn::Equals": conditionFunc,
		"Fn::Not":    conditionFunc,
		"Fn::And":    conditionFunc,
		"Fn::Or":     conditionFunc,
	}
}

func ref(s *Stack, _ string, arg any, path string) (any, error) {
	name, ok := arg.(string)
	if !ok {
		return nil, s.errorf(path, "Ref takes a name")
	}
	return s.ref(name, path)
}

// getAtt takes "Resource.Attribute" or [resource, attribute].
func getAtt(s *Stack, _ string, arg any, path string) (any, error) {
	var parts []string
	switch a := arg.(type) {
	case string:
		id, attr, ok := strings.Cut(a, ".")
		if !ok {
			return nil, s.errorf(path, "GetAtt %q needs Resource.Attribute", a)
		}
		parts = []string{id, attr}
	case []any:
		for _, p := range a {
			ps, err := s.resolve(p, path)
			if err != nil {
				return nil, err
			}
			str, ok := ps.(string)
			if !ok {
				return nil, s.errorf(path, "GetAtt arguments must be strings")
			}
			parts = append(parts, str)
		}
	}
	if len(parts) != 2 {
		return nil, s.errorf(path, "GetAtt needs a resource and an attribute")
	}
	return s.GetAtt(parts[0], parts[1])
}

func join(s *Stack, _ string, arg any, path string) (any, error) {
	a, ok := arg.([]any)
	if !ok || len(a) != 2 {
		return nil, s.errorf(path, "Join takes [delimiter, list]")
	}
	sep, ok := a[0].(string)
	if !ok {
		return nil, s.errorf(path, "Join delimiter must be a string")
	}
	items, err := s.resolveList(a[1], path, "Join needs a list")
	if err != nil {
		return nil, err
	}
	strs := make([]string, 0, len(items))
	for _, it := range items {
		str, err := scalar(it)
		if err != nil {
			return nil, s.errorf(path, "%v", err)
		}
		strs = append(strs, str)
	}
	return strings.Join(strs, sep), nil
}

func selectItem(s *Stack, _ string, arg any, path string) (any, error) {
	a, ok := arg.([]any)
	if !ok || len(a) != 2 {
		return nil, s.errorf(path, "Select takes [index, list]")
	}
	idxS, err := s.resolveScalar(a[0], path)
	if err != nil {
		return nil, err
	}
	var idx int
	if _, err := fmt.Sscanf(idxS, "%d", &idx); err != nil {
		return nil, s.errorf(path, "Select index %q is not a number", idxS)
	}
	list, err := s.resolve(a[1], path)
	if err != nil {
		return nil, err
	}
	items, ok := list.([]any)
	if !ok || idx < 0 || idx >= len(items) {
		return nil, s.errorf(path, "Select index %d out of range", idx)
	}
	return items[idx], nil
}

func split(s *Stack, _ string, arg any, path string) (any, error) {
	a, ok := arg.([]any)
	if !ok || len(a) != 2 {
		return nil, s.errorf(path, "Split takes [delimiter, string]")
	}
	sep, _ := a[0].(string)
	v, err := s.resolve(a[1], path)
	if err != nil {
		return nil, err
	}
	str, err := scalar(v)
	if err != nil || sep == "" {
		return nil, s.errorf(path, "Split needs a delimiter and a string")
	}
	var out []any
	for _, p := range strings.Split(str, sep) {
		out = append(out, p)
	}
	return out, nil
}

func base64Of(s *Stack, _ string, arg any, path string) (any, error) {
	str, err := s.resolveScalar(arg, path)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(str)), nil
}

func ifThenElse(s *Stack, _ string, arg any, path string) (any, error) {
	a, ok := arg.([]any)
	if !ok || len(a) != 3 {
		return nil, s.errorf(path, "If takes [condition, then, else]")
	}
	cond, _ := a[0].(string)
	ok, err := s.condition(cond, path)
	if err != nil {
		return nil, err
	}
	if ok {
		return s.resolve(a[1], path)
	}
	return s.resolve(a[2], path)
}

func namedCondition(s *Stack, _ string, arg any, path string) (any, error) {
	cond, _ := arg.(string)
	return s.condition(cond, path)
}

// conditionFunc evaluates Fn::Equals, Fn::Not, Fn::And and Fn::Or where a value is
// expected, as a condition of its own.
func conditionFunc(s *Stack, name string, arg any, path string) (any, error) {
	return s.evalCondition(map[string]any{name: arg}, path)
}

// resolveList resolves v and requires a list, failing with msg otherwise.
func (s *Stack) resolveList(v any, path, msg string) ([]any, error) {
	list, err := s.resolve(v, path)
	if err != nil {
		return nil, err
	}
	items, ok := list.([]any)
	if !ok {
		return nil, s.errorf(path, "%s", msg)
	}
	return items, nil
}

// resolveScalar resolves v into a string, number or boolean, as text.
func (s *Stack) resolveScalar(v any, path string) (string, error) {
	r, err := s.resolve(v, path)
	if err != nil {
		return "", err
	}
	str, err := scalar(r)
	if err != nil {
		return "", s.errorf(path, "%v", err)
	}
	return str, nil
}
