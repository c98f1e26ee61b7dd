package asl

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// template is a compiled Payload Template: the value of Parameters,
// ResultSelector or ItemSelector. Fields whose names end in ".$" take their
// value from a path or an intrinsic function at run time.
type template struct {
	root       tnode
	usesToken  bool // references $$.Task.Token somewhere
	usesMapCtx bool // references $$.Map somewhere
}

type tnode interface{}

type tLiteral struct{ value any }

type tArray struct{ items []tnode }

type tObject struct{ fields []tField }

type tField struct {
	key    string // output key, without ".$"
	source string // the key as written
	node   tnode  // static value
	path   *path
	call   *intrinsic
}

// compileTemplate compiles the decoded JSON value of a payload template.
func compileTemplate(v any, field string) (*template, error) {
	t := &template{}
	root, err := t.compile(v, field)
	if err != nil {
		return nil, err
	}
	t.root = root
	return t, nil
}

func (t *template) compile(v any, where string) (tnode, error) {
	switch val := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(val))
		for k := range val {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		obj := &tObject{}
		seen := map[string]string{}
		for _, k := range keys {
			f := tField{key: k, source: k}
			if strings.HasSuffix(k, ".$") {
				f.key = strings.TrimSuffix(k, ".$")
				s, ok := val[k].(string)
				if !ok {
					return nil, fmt.Errorf("%s.%s: the value of a field ending in '.$' must be a string holding a path or an intrinsic function", where, k)
				}
				if looksLikeIntrinsic(s) {
					call, err := parseIntrinsic(s)
					if err != nil {
						return nil, fmt.Errorf("%s.%s: %w", where, k, err)
					}
					f.call = call
					t.noteIntrinsic(call)
				} else {
					p, err := parsePath(s)
					if err != nil {
						return nil, fmt.Errorf("%s.%s: the value must be a valid JSONPath or intrinsic function: %w", where, k, err)
					}
					f.path = p
					t.notePath(p)
				}
			} else {
				node, err := t.compile(val[k], where+"."+k)
				if err != nil {
					return nil, err
				}
				f.node = node
			}
			if prev, dup := seen[f.key]; dup {
				return nil, fmt.Errorf("%s: fields %q and %q both produce %q", where, prev, k, f.key)
			}
			seen[f.key] = k
			obj.fields = append(obj.fields, f)
		}
		return obj, nil
	case []any:
		arr := &tArray{items: make([]tnode, len(val))}
		for i, e := range val {
			node, err := t.compile(e, fmt.Sprintf("%s[%d]", where, i))
			if err != nil {
				return nil, err
			}
			arr.items[i] = node
		}
		return arr, nil
	default:
		return &tLiteral{value: v}, nil
	}
}

func (t *template) notePath(p *path) {
	if !p.context {
		return
	}
	s := strings.ReplaceAll(p.query.String(), " ", "")
	if strings.HasPrefix(s, `$["Task"]["Token"]`) {
		t.usesToken = true
	}
	if strings.HasPrefix(s, `$["Map"]`) {
		t.usesMapCtx = true
	}
}

func (t *template) noteIntrinsic(c *intrinsic) {
	for _, a := range c.args {
		if a.path != nil {
			t.notePath(a.path)
		}
		if a.call != nil {
			t.noteIntrinsic(a.call)
		}
	}
}

// errTemplatePath is returned when a path in a template selects nothing.
type templatePathError struct {
	path  string
	field string
}

func (e *templatePathError) Error() string {
	return fmt.Sprintf("The JSONPath '%s' specified for the field '%s' could not be found in the input", e.path, e.field)
}

// eval builds the payload for the given data and context object.
func (t *template) eval(env *intrinsicEnv) (any, error) {
	return evalNode(t.root, env)
}

func evalNode(n tnode, env *intrinsicEnv) (any, error) {
	switch node := n.(type) {
	case *tLiteral:
		return deepCopy(node.value), nil
	case *tArray:
		out := make([]any, len(node.items))
		for i, item := range node.items {
			v, err := evalNode(item, env)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *tObject:
		out := make(map[string]any, len(node.fields))
		for _, f := range node.fields {
			switch {
			case f.path != nil:
				v, err := f.path.eval(env.data, env.ctx)
				if errors.Is(err, errPathNotFound) {
					return nil, &templatePathError{path: f.path.raw, field: f.source}
				}
				if err != nil {
					return nil, err
				}
				out[f.key] = deepCopy(v)
			case f.call != nil:
				v, err := f.call.eval(env)
				if err != nil {
					return nil, err
				}
				out[f.key] = v
			default:
				v, err := evalNode(f.node, env)
				if err != nil {
					return nil, err
				}
				out[f.key] = v
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown template node %T", n)
}
