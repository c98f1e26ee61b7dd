package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/crossbuild/crossbuild/local/asl"
)

// behaviour is a Lambda handler described as data, so the Go handlers here
// and the Node handlers in testdata/runner.cjs do the same thing. Exactly one
// field is set.
type behaviour struct {
	// Echo returns the payload.
	Echo bool `json:"echo,omitempty"`
	// Return returns a fixed JSON value.
	Return json.RawMessage `json:"return,omitempty"`
	// Merge returns the payload object with these fields added or replaced.
	Merge map[string]json.RawMessage `json:"merge,omitempty"`
	// Fail raises a function error of this type and message.
	Fail *struct {
		Error string `json:"error"`
		Cause string `json:"cause"`
	} `json:"fail,omitempty"`
	// Sequence: call n behaves as step n; the last step repeats.
	Sequence []behaviour `json:"sequence,omitempty"`
	// Switch dispatches on a field of the payload.
	Switch *struct {
		// Field is a dotted path of object keys, e.g. "target.codeBuildProject".
		Field string `json:"field"`
		// Cases are keyed by the field's value: a string as it is, anything
		// else as JSON text.
		Cases   map[string]behaviour `json:"cases"`
		Default *behaviour           `json:"default"`
	} `json:"switch,omitempty"`
}

// payloadFunc is a compiled behaviour: a decoded payload in, a value out.
type payloadFunc func(payload any) (any, error)

// lambdaFunctions builds in-process handlers for the local executor, one per
// function name; each call to it starts fresh sequence counters.
func lambdaFunctions(specs map[string]behaviour) (asl.LambdaFunctions, error) {
	fns := asl.LambdaFunctions{}
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		f, err := compile(specs[name], "handlers."+name)
		if err != nil {
			return nil, err
		}
		fns[name] = func(_ context.Context, event json.RawMessage) (json.RawMessage, error) {
			payload, err := decode(event)
			if err != nil {
				return nil, fmt.Errorf("decode the payload of %s: %w", name, err)
			}
			out, err := f(payload)
			if err != nil {
				return nil, err
			}
			return encode(out)
		}
	}
	return fns, nil
}

func compile(b behaviour, where string) (payloadFunc, error) {
	kinds := 0
	for _, set := range []bool{b.Echo, b.Return != nil, b.Merge != nil, b.Fail != nil, b.Sequence != nil, b.Switch != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, fmt.Errorf("%s: exactly one behaviour kind expected, got %d", where, kinds)
	}
	switch {
	case b.Echo:
		return func(p any) (any, error) { return p, nil }, nil
	case b.Return != nil:
		v, err := decode(b.Return)
		if err != nil {
			return nil, fmt.Errorf("%s.return: %w", where, err)
		}
		return func(any) (any, error) { return v, nil }, nil
	case b.Merge != nil:
		fields := map[string]any{}
		for k, raw := range b.Merge {
			v, err := decode(raw)
			if err != nil {
				return nil, fmt.Errorf("%s.merge.%s: %w", where, k, err)
			}
			fields[k] = v
		}
		return func(p any) (any, error) {
			obj, ok := p.(map[string]any)
			if !ok {
				return nil, &asl.FunctionError{Type: "InvalidPayload", Message: "merge needs an object payload"}
			}
			out := maps.Clone(obj)
			maps.Copy(out, fields)
			return out, nil
		}, nil
	case b.Fail != nil:
		fe := &asl.FunctionError{Type: b.Fail.Error, Message: b.Fail.Cause}
		return func(any) (any, error) { return nil, fe }, nil
	case b.Sequence != nil:
		if len(b.Sequence) == 0 {
			return nil, fmt.Errorf("%s: empty sequence", where)
		}
		steps := make([]payloadFunc, len(b.Sequence))
		for i, s := range b.Sequence {
			f, err := compile(s, fmt.Sprintf("%s.sequence[%d]", where, i))
			if err != nil {
				return nil, err
			}
			steps[i] = f
		}
		// Each sequence counts its own calls (Map iterations run concurrently).
		var mu sync.Mutex
		calls := 0
		return func(p any) (any, error) {
			mu.Lock()
			step := steps[min(calls, len(steps)-1)]
			calls++
			mu.Unlock()
			return step(p)
		}, nil
	default:
		sw := b.Switch
		cases := map[string]payloadFunc{}
		for k, s := range sw.Cases {
			f, err := compile(s, where+".switch."+k)
			if err != nil {
				return nil, err
			}
			cases[k] = f
		}
		var fallback payloadFunc
		if sw.Default != nil {
			f, err := compile(*sw.Default, where+".switch.default")
			if err != nil {
				return nil, err
			}
			fallback = f
		}
		return func(p any) (any, error) {
			key, found := switchKey(p, sw.Field)
			if f, ok := cases[key]; found && ok {
				return f(p)
			}
			if fallback != nil {
				return fallback(p)
			}
			return nil, &asl.FunctionError{Type: "NoMatchingCase", Message: fmt.Sprintf("no case for %s=%s", sw.Field, key)}
		}, nil
	}
}

// switchKey looks up a dotted field and renders its value as a case key.
func switchKey(p any, field string) (string, bool) {
	v := p
	for part := range strings.SplitSeq(field, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = obj[part]; !ok {
			return "", false
		}
	}
	if s, ok := v.(string); ok {
		return s, true
	}
	data, err := encode(v)
	if err != nil {
		return "", false
	}
	return string(data), true
}

// decode keeps numbers as written, as the executor does.
func decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func encode(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
