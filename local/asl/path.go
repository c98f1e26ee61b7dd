package asl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/theory/jsonpath"
	"github.com/theory/jsonpath/spec"
)

// path is a compiled JSONPath expression. Queries run through the RFC 9535
// implementation in github.com/theory/jsonpath; this type only adds what the
// Amazon States Language layers on top: "$$" context paths, the distinction
// between singular (reference) paths and paths that select a list, and
// writing through a reference path for ResultPath.
type path struct {
	raw      string
	context  bool // starts with "$$": evaluated against the context object
	query    *jsonpath.Path
	singular bool
	steps    []step // the name/index selectors of a singular path
}

// step is one selector of a singular path.
type step struct {
	name    string
	index   int
	isIndex bool
}

// errPathNotFound reports a singular path that selects nothing.
var errPathNotFound = errors.New("path not found")

// parsePath compiles a Path as ASL uses it in "<field>.$" values and the
// *Path fields: "$..." against the data or "$$..." against the context object.
func parsePath(raw string) (*path, error) {
	s := strings.TrimSpace(raw)
	p := &path{raw: raw}
	if strings.HasPrefix(s, "$$") {
		p.context = true
		s = s[1:]
	}
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("%q is not a JSONPath: it must start with '$'", raw)
	}
	q, err := jsonpath.Parse(dotNamesToBrackets(s))
	if err != nil {
		return nil, fmt.Errorf("%q is not a valid JSONPath: %w", raw, err)
	}
	p.query = q
	if q.Query().Singular() != nil {
		p.singular = true
		for _, seg := range q.Query().Segments() {
			switch sel := seg.Selectors()[0].(type) {
			case spec.Name:
				p.steps = append(p.steps, step{name: string(sel)})
			case spec.Index:
				p.steps = append(p.steps, step{index: int(sel), isIndex: true})
			}
		}
	}
	return p, nil
}

// parseReferencePath compiles a Reference Path: a path that can only
// designate a single node of the data (not the context object).
func parseReferencePath(raw string) (*path, error) {
	p, err := parsePath(raw)
	if err != nil {
		return nil, err
	}
	if p.context {
		return nil, fmt.Errorf("%q must reference the state's data, not the context object", raw)
	}
	if !p.singular {
		return nil, fmt.Errorf("%q is not a reference path: it must designate a single node (no wildcards, filters, slices or '..')", raw)
	}
	return p, nil
}

// root picks the document the path applies to.
func (p *path) root(data, ctx any) any {
	if p.context {
		return ctx
	}
	return data
}

// lookup returns the node a singular path designates.
func (p *path) lookup(data, ctx any) (any, error) {
	nodes := p.query.Select(p.root(data, ctx))
	if len(nodes) == 0 {
		return nil, errPathNotFound
	}
	return nodes[0], nil
}

// eval applies the path with Parameters semantics: a singular path yields
// its node (or errPathNotFound); any other path yields the array of the
// nodes it selects, possibly empty.
func (p *path) eval(data, ctx any) (any, error) {
	if p.singular {
		return p.lookup(data, ctx)
	}
	nodes := p.query.Select(p.root(data, ctx))
	out := make([]any, len(nodes))
	copy(out, nodes)
	return out, nil
}

func (p *path) String() string { return p.raw }

// set returns a copy of target with value written at the node p designates,
// creating missing objects along the way, as ResultPath requires.
func (p *path) set(target, value any) (any, error) {
	if len(p.steps) == 0 {
		return value, nil
	}
	root := deepCopy(target)
	if root == nil {
		root = map[string]any{}
	}
	cur := root
	for i, st := range p.steps {
		last := i == len(p.steps)-1
		if st.isIndex {
			arr, ok := cur.([]any)
			if !ok {
				return nil, fmt.Errorf("unable to apply step [%d]: the node is %s, not an array", st.index, jsonType(cur))
			}
			idx := st.index
			if idx < 0 {
				idx += len(arr)
			}
			if idx < 0 || idx >= len(arr) {
				return nil, fmt.Errorf("unable to apply step [%d]: index out of range for an array of %d", st.index, len(arr))
			}
			if last {
				arr[idx] = value
				return root, nil
			}
			cur = arr[idx]
			continue
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("unable to apply step %q: the node is %s, not an object", st.name, jsonType(cur))
		}
		if last {
			obj[st.name] = value
			return root, nil
		}
		next, ok := obj[st.name]
		if !ok || next == nil {
			next = map[string]any{}
			obj[st.name] = next
		}
		cur = next
	}
	return root, nil
}

// dotNamesToBrackets rewrites dot-notation member names that RFC 9535
// shorthand does not allow but Step Functions paths commonly use, such as
// "$.detail.build-id", into bracket notation the library accepts. Everything
// inside brackets and quotes is left alone.
func dotNamesToBrackets(s string) string {
	var b strings.Builder
	depth := 0
	var quote byte
	for i := 0; i < len(s); {
		c := s[i]
		if quote != 0 {
			b.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				b.WriteByte(s[i+1])
				i += 2
				continue
			}
			if c == quote {
				quote = 0
			}
			i++
			continue
		}
		switch {
		case c == '\'' || c == '"':
			if depth > 0 {
				quote = c
			}
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == '.' && depth == 0:
			dots := "."
			j := i + 1
			if j < len(s) && s[j] == '.' {
				dots = ".."
				j++
			}
			k := j
			for k < len(s) && s[k] != '.' && s[k] != '[' {
				k++
			}
			name := s[j:k]
			if name != "" && name != "*" && !isShorthandName(name) && !strings.ContainsAny(name, " ()") {
				if dots == ".." {
					b.WriteString("..")
				}
				b.WriteString("['")
				b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(name))
				b.WriteString("']")
				i = k
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

// isShorthandName reports whether RFC 9535 accepts name after a dot.
func isShorthandName(name string) bool {
	for i, r := range name {
		alpha := r == '_' || r >= 0x80 || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		digit := r >= '0' && r <= '9'
		if !alpha && !(digit && i > 0) {
			return false
		}
	}
	return name != ""
}
