package cfn

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
)

// noValue marks AWS::NoValue: the key or list element it stands for is removed.
type noValue struct{}

// Properties returns a resource's properties with every intrinsic resolved.
func (s *Stack) Properties(logicalID string) (map[string]any, error) {
	r, ok := s.Template.Resources[logicalID]
	if !ok {
		return nil, fmt.Errorf("stack %s has no resource %s", s.Name, logicalID)
	}
	v, err := s.resolve(r.Properties, logicalID+".Properties")
	if err != nil {
		return nil, err
	}
	if v == nil {
		return map[string]any{}, nil
	}
	m, _ := v.(map[string]any)
	return m, nil
}

// Resolve resolves intrinsics in an arbitrary template value.
func (s *Stack) Resolve(v any, path string) (any, error) { return s.resolve(v, path) }

// PropertiesJSON resolves one property of a resource to JSON (policies, patterns).
func (s *Stack) PropertiesJSON(logicalID, property string) (json.RawMessage, error) {
	props, err := s.Properties(logicalID)
	if err != nil {
		return nil, err
	}
	v, ok := props[property]
	if !ok {
		return nil, nil
	}
	if str, ok := v.(string); ok && json.Valid([]byte(str)) {
		return json.RawMessage(str), nil
	}
	return json.Marshal(v)
}

func (s *Stack) errorf(path, format string, args ...any) error {
	return fmt.Errorf("stack %s: %s: %s", s.Name, path, fmt.Sprintf(format, args...))
}

func (s *Stack) resolve(v any, path string) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 1 {
			for k, arg := range t {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") || k == "Condition" {
					return s.intrinsic(k, arg, path)
				}
			}
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			r, err := s.resolve(x, path+"."+k)
			if err != nil {
				return nil, err
			}
			if _, drop := r.(noValue); drop {
				continue
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(t))
		for i, x := range t {
			r, err := s.resolve(x, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if _, drop := r.(noValue); drop {
				continue
			}
			out = append(out, r)
		}
		return out, nil
	}
	return v, nil
}

// intrinsic resolves one intrinsic function call through intrinsics.
func (s *Stack) intrinsic(name string, arg any, path string) (any, error) {
	path += "." + name
	fn, ok := intrinsics[name]
	if !ok {
		return nil, s.errorf(path, "intrinsic %s is not supported by the local runtime", name)
	}
	return fn(s, name, arg, path)
}

func (s *Stack) condition(name, path string) (bool, error) {
	c, ok := s.Template.Conditions[name]
	if !ok {
		return false, s.errorf(path, "unknown condition %q", name)
	}
	return s.evalCondition(c, path+"("+name+")")
}

func (s *Stack) evalCondition(c any, path string) (bool, error) {
	m, ok := c.(map[string]any)
	if !ok || len(m) != 1 {
		return false, s.errorf(path, "a condition must be one function")
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Fn::Equals":
			if len(args) != 2 {
				return false, s.errorf(path, "Equals takes two values")
			}
			a, err := s.resolve(args[0], path)
			if err != nil {
				return false, err
			}
			b, err := s.resolve(args[1], path)
			if err != nil {
				return false, err
			}
			return reflect.DeepEqual(a, b), nil
		case "Fn::Not":
			if len(args) != 1 {
				return false, s.errorf(path, "Not takes one condition")
			}
			v, err := s.evalCondition(args[0], path)
			return !v, err
		case "Fn::And", "Fn::Or":
			and := fn == "Fn::And"
			for _, a := range args {
				v, err := s.evalCondition(a, path)
				if err != nil {
					return false, err
				}
				if v != and {
					return v, nil
				}
			}
			return and, nil
		case "Condition":
			name, _ := arg.(string)
			return s.condition(name, path)
		}
		return false, s.errorf(path, "condition function %s is not supported", fn)
	}
	return false, nil
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

func (s *Stack) sub(arg any, path string) (any, error) {
	var (
		tpl  string
		vars = map[string]any{}
	)
	switch a := arg.(type) {
	case string:
		tpl = a
	case []any:
		if len(a) != 2 {
			return nil, s.errorf(path, "Sub takes a string or [string, variables]")
		}
		tpl, _ = a[0].(string)
		m, _ := a[1].(map[string]any)
		for k, v := range m {
			r, err := s.resolve(v, path+"."+k)
			if err != nil {
				return nil, err
			}
			vars[k] = r
		}
	default:
		return nil, s.errorf(path, "Sub takes a string or [string, variables]")
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(tpl, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		var (
			v   any
			err error
		)
		if x, ok := vars[name]; ok {
			v = x
		} else if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, err = s.GetAtt(id, attr)
		} else {
			v, err = s.ref(name, path)
		}
		if err == nil {
			var str string
			str, err = scalar(v)
			if err == nil {
				return str
			}
		}
		if firstErr == nil {
			firstErr = err
		}
		return ""
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

func scalar(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case float64, bool, int:
		return fmt.Sprint(t), nil
	case json.Number:
		return t.String(), nil
	}
	return "", fmt.Errorf("expected a string, got %T", v)
}

func (s *Stack) ref(name, path string) (any, error) {
	switch name {
	case "AWS::AccountId":
		return s.Account, nil
	case "AWS::Region":
		return s.Region, nil
	case "AWS::Partition":
		return s.Partition, nil
	case "AWS::URLSuffix":
		if s.Partition == "aws-cn" {
			return "amazonaws.com.cn", nil
		}
		return "amazonaws.com", nil
	case "AWS::StackName":
		return s.Name, nil
	case "AWS::StackId":
		return fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/%s", s.Partition, s.Region, s.Account, s.Name, s.suffix("stack", 32)), nil
	case "AWS::NoValue":
		return noValue{}, nil
	case "AWS::NotificationARNs":
		return []any{}, nil
	}
	if p, ok := s.Template.Parameters[name]; ok {
		if p.Default == nil {
			return nil, s.errorf(path, "parameter %s has no default; the local runtime passes no parameters", name)
		}
		return p.Default, nil
	}
	if _, ok := s.Template.Resources[name]; ok {
		return s.RefOf(name)
	}
	return nil, s.errorf(path, "Ref to unknown name %q", name)
}

// suffix is a stable stand-in for CloudFormation's random name suffix.
func (s *Stack) suffix(logicalID string, n int) string {
	sum := sha256.Sum256([]byte(s.Account + "/" + s.Region + "/" + s.Name + "/" + logicalID))
	return strings.ToUpper(hex.EncodeToString(sum[:]))[:n]
}
