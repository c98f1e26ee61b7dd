package asl

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxIntrinsicDepth is how deeply Step Functions lets intrinsic calls nest.
const maxIntrinsicDepth = 10

// maxIntrinsicInput bounds the strings the encoding and hashing functions
// accept, as Step Functions does.
const maxIntrinsicInput = 10000

// maxArrayRange bounds the arrays States.ArrayRange builds.
const maxArrayRange = 1000

// intrinsic is a parsed intrinsic function call such as
// States.Format('{}-{}', $.a, States.UUID()).
type intrinsic struct {
	name string
	args []iarg
	fn   *intrinsicFunc
}

// iarg is one argument of an intrinsic call.
type iarg struct {
	literal   any    // string, json.Number, bool or nil when path and call are nil
	rawString string // a string literal's text with its escapes intact
	isString  bool
	path      *path
	call      *intrinsic
}

// intrinsicEnv is what evaluating an intrinsic call needs from the engine.
type intrinsicEnv struct {
	data, ctx any
	rand      func() float64
	uuid      func() string
}

type intrinsicFunc struct {
	minArgs, maxArgs int // maxArgs < 0: unbounded
	eval             func(env *intrinsicEnv, call *intrinsic, args []any) (any, error)
}

var intrinsicFuncs map[string]*intrinsicFunc

func init() {
	intrinsicFuncs = map[string]*intrinsicFunc{
		"States.Format":         {1, -1, evalFormat},
		"States.StringToJson":   {1, 1, evalStringToJSON},
		"States.JsonToString":   {1, 1, evalJSONToString},
		"States.Array":          {0, -1, evalArray},
		"States.ArrayPartition": {2, 2, evalArrayPartition},
		"States.ArrayContains":  {2, 2, evalArrayContains},
		"States.ArrayRange":     {3, 3, evalArrayRange},
		"States.ArrayGetItem":   {2, 2, evalArrayGetItem},
		"States.ArrayLength":    {1, 1, evalArrayLength},
		"States.ArrayUnique":    {1, 1, evalArrayUnique},
		"States.Base64Encode":   {1, 1, evalBase64Encode},
		"States.Base64Decode":   {1, 1, evalBase64Decode},
		"States.Hash":           {2, 2, evalHash},
		"States.JsonMerge":      {3, 3, evalJSONMerge},
		"States.MathRandom":     {2, 3, evalMathRandom},
		"States.MathAdd":        {2, 2, evalMathAdd},
		"States.StringSplit":    {2, 2, evalStringSplit},
		"States.UUID":           {0, 0, evalUUID},
	}
}

// looksLikeIntrinsic reports whether a "<field>.$" value is meant as an
// intrinsic call rather than a path.
func looksLikeIntrinsic(s string) bool {
	return strings.HasPrefix(strings.TrimSpace(s), "States.")
}

// parseIntrinsic parses a complete intrinsic call expression.
func parseIntrinsic(src string) (*intrinsic, error) {
	p := &intrinsicParser{src: src}
	p.skipSpace()
	call, err := p.call(1)
	if err != nil {
		return nil, fmt.Errorf("invalid intrinsic function %q: %w", src, err)
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("invalid intrinsic function %q: unexpected %q at offset %d", src, p.src[p.pos:], p.pos)
	}
	return call, nil
}

type intrinsicParser struct {
	src string
	pos int
}

func (p *intrinsicParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n' || p.src[p.pos] == '\r') {
		p.pos++
	}
}

func (p *intrinsicParser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *intrinsicParser) call(depth int) (*intrinsic, error) {
	if depth > maxIntrinsicDepth {
		return nil, fmt.Errorf("intrinsic functions nest more than %d deep", maxIntrinsicDepth)
	}
	start := p.pos
	for p.pos < len(p.src) && (isIdentByte(p.src[p.pos]) || p.src[p.pos] == '.') {
		p.pos++
	}
	name := p.src[start:p.pos]
	fn, ok := intrinsicFuncs[name]
	if !ok {
		return nil, fmt.Errorf("unknown function %q at offset %d", name, start)
	}
	p.skipSpace()
	if p.peek() != '(' {
		return nil, fmt.Errorf("expected '(' after %s at offset %d", name, p.pos)
	}
	p.pos++
	call := &intrinsic{name: name, fn: fn}
	p.skipSpace()
	if p.peek() == ')' {
		p.pos++
	} else {
		for {
			p.skipSpace()
			arg, err := p.arg(depth)
			if err != nil {
				return nil, err
			}
			call.args = append(call.args, arg)
			p.skipSpace()
			c := p.peek()
			p.pos++
			if c == ')' {
				break
			}
			if c != ',' {
				return nil, fmt.Errorf("expected ',' or ')' in the arguments of %s at offset %d", name, p.pos-1)
			}
		}
	}
	if len(call.args) < fn.minArgs || (fn.maxArgs >= 0 && len(call.args) > fn.maxArgs) {
		return nil, fmt.Errorf("%s takes %s, got %d", name, arityText(fn), len(call.args))
	}
	return call, nil
}

func arityText(fn *intrinsicFunc) string {
	switch {
	case fn.maxArgs < 0:
		return fmt.Sprintf("at least %d arguments", fn.minArgs)
	case fn.minArgs == fn.maxArgs:
		return fmt.Sprintf("%d arguments", fn.minArgs)
	default:
		return fmt.Sprintf("%d to %d arguments", fn.minArgs, fn.maxArgs)
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func (p *intrinsicParser) arg(depth int) (iarg, error) {
	c := p.peek()
	switch {
	case c == '\'':
		return p.stringLit()
	case c == '$':
		return p.pathArg()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case strings.HasPrefix(p.src[p.pos:], "States."):
		call, err := p.call(depth + 1)
		if err != nil {
			return iarg{}, err
		}
		return iarg{call: call}, nil
	}
	for _, kw := range []struct {
		word string
		val  any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if strings.HasPrefix(p.src[p.pos:], kw.word) {
			end := p.pos + len(kw.word)
			if end == len(p.src) || !isIdentByte(p.src[end]) {
				p.pos = end
				return iarg{literal: kw.val}, nil
			}
		}
	}
	if p.pos >= len(p.src) {
		return iarg{}, fmt.Errorf("unexpected end of input, expected an argument")
	}
	return iarg{}, fmt.Errorf("unexpected %q at offset %d, expected an argument", p.src[p.pos:p.pos+1], p.pos)
}

// stringLit reads a single-quoted literal. \' \{ \} and \\ are escapes; the
// raw text is kept because States.Format tells escaped braces from
// placeholders.
func (p *intrinsicParser) stringLit() (iarg, error) {
	start := p.pos
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch c {
		case '\\':
			if p.pos+1 >= len(p.src) {
				return iarg{}, fmt.Errorf("unterminated escape in the string at offset %d", start)
			}
			n := p.src[p.pos+1]
			switch n {
			case '\'', '{', '}', '\\':
				b.WriteByte(n)
			default:
				b.WriteByte(c)
				b.WriteByte(n)
			}
			p.pos += 2
		case '\'':
			raw := p.src[start+1 : p.pos]
			p.pos++
			return iarg{literal: b.String(), rawString: raw, isString: true}, nil
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return iarg{}, fmt.Errorf("unterminated string starting at offset %d", start)
}

func (p *intrinsicParser) number() (iarg, error) {
	start := p.pos
	if p.peek() == '-' {
		p.pos++
	}
	for p.pos < len(p.src) && strings.IndexByte("0123456789.eE+-", p.src[p.pos]) >= 0 {
		p.pos++
	}
	text := p.src[start:p.pos]
	if _, err := strconv.ParseFloat(text, 64); err != nil || !json.Valid([]byte(text)) {
		return iarg{}, fmt.Errorf("invalid number %q at offset %d", text, start)
	}
	return iarg{literal: json.Number(text)}, nil
}

// pathArg reads a JSONPath argument: everything up to the ',' or ')' that
// ends it, skipping over brackets and quoted names inside it.
func (p *intrinsicParser) pathArg() (iarg, error) {
	start := p.pos
	depth := 0
	var quote byte
scan:
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case quote != 0:
			if c == '\\' {
				p.pos++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '[' || c == '(':
			depth++
		case c == ']':
			depth--
		case c == ')' && depth > 0:
			depth--
		case (c == ',' || c == ')') && depth == 0:
			break scan
		}
		p.pos++
	}
	p.pos = min(p.pos, len(p.src)) // an escape at the very end steps past it
	text := strings.TrimSpace(p.src[start:p.pos])
	pth, err := parsePath(text)
	if err != nil {
		return iarg{}, err
	}
	return iarg{path: pth}, nil
}

// eval evaluates the call against the env's data and context object.
func (c *intrinsic) eval(env *intrinsicEnv) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch {
		case a.call != nil:
			v, err := a.call.eval(env)
			if err != nil {
				return nil, err
			}
			args[i] = v
		case a.path != nil:
			v, err := a.path.eval(env.data, env.ctx)
			if err != nil {
				return nil, fmt.Errorf("the JSONPath %s given to %s could not be found in the input", a.path.raw, c.name)
			}
			args[i] = v
		default:
			args[i] = a.literal
		}
	}
	return c.fn.eval(env, c, args)
}

func (c *intrinsic) argErrorf(format string, args ...any) error {
	return fmt.Errorf("invalid arguments in %s: %s", c.name, fmt.Sprintf(format, args...))
}

func evalFormat(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	tmpl, ok := args[0].(string)
	if !ok {
		return nil, c.argErrorf("the template must be a string, got %s", jsonType(args[0]))
	}
	if c.args[0].isString {
		tmpl = c.args[0].rawString
	}
	var b strings.Builder
	next := 1
	for i := 0; i < len(tmpl); i++ {
		ch := tmpl[i]
		switch {
		case ch == '\\' && i+1 < len(tmpl):
			b.WriteByte(tmpl[i+1])
			i++
		case ch == '{' && i+1 < len(tmpl) && tmpl[i+1] == '}':
			if next >= len(args) {
				return nil, c.argErrorf("the template has more placeholders than the %d values given", len(args)-1)
			}
			b.WriteString(formatArg(args[next]))
			next++
			i++
		default:
			b.WriteByte(ch)
		}
	}
	if next != len(args) {
		return nil, c.argErrorf("the template has %d placeholders but %d values were given", next-1, len(args)-1)
	}
	return b.String(), nil
}

// formatArg renders a value for States.Format: strings as they are, other
// scalars as JSON, arrays and objects in the Java collection style Step
// Functions prints.
func formatArg(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = formatArg(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + formatArg(t[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return mustEncode(v)
	}
}

func evalStringToJSON(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, c.argErrorf("expected a string, got %s", jsonType(args[0]))
	}
	v, err := decodeValue([]byte(s))
	if err != nil {
		return nil, c.argErrorf("the string is not JSON: %v", err)
	}
	return v, nil
}

func evalJSONToString(_ *intrinsicEnv, _ *intrinsic, args []any) (any, error) {
	return mustEncode(args[0]), nil
}

func evalArray(_ *intrinsicEnv, _ *intrinsic, args []any) (any, error) {
	out := make([]any, len(args))
	copy(out, args)
	return out, nil
}

func arrayArg(c *intrinsic, v any) ([]any, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, c.argErrorf("expected an array, got %s", jsonType(v))
	}
	return arr, nil
}

func intArg(c *intrinsic, v any, what string) (int64, error) {
	i, ok := asInt(v)
	if !ok {
		return 0, c.argErrorf("%s must be an integer, got %s", what, mustEncode(v))
	}
	return i, nil
}

func evalArrayPartition(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	arr, err := arrayArg(c, args[0])
	if err != nil {
		return nil, err
	}
	size, err := intArg(c, args[1], "the chunk size")
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, c.argErrorf("the chunk size must be positive, got %d", size)
	}
	out := []any{}
	for i := 0; i < len(arr); i += int(size) {
		end := min(i+int(size), len(arr))
		chunk := make([]any, end-i)
		copy(chunk, arr[i:end])
		out = append(out, chunk)
	}
	return out, nil
}

func evalArrayContains(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	arr, err := arrayArg(c, args[0])
	if err != nil {
		return nil, err
	}
	for _, e := range arr {
		if equalValues(e, args[1]) {
			return true, nil
		}
	}
	return false, nil
}

func evalArrayRange(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	start, err := intArg(c, args[0], "the start")
	if err != nil {
		return nil, err
	}
	end, err := intArg(c, args[1], "the end")
	if err != nil {
		return nil, err
	}
	stepN, err := intArg(c, args[2], "the step")
	if err != nil {
		return nil, err
	}
	if stepN == 0 {
		return nil, c.argErrorf("the step must not be 0")
	}
	out := []any{}
	for i := start; (stepN > 0 && i <= end) || (stepN < 0 && i >= end); i += stepN {
		if len(out) == maxArrayRange {
			return nil, c.argErrorf("the range has more than %d items", maxArrayRange)
		}
		out = append(out, intValue(i))
	}
	return out, nil
}

func evalArrayGetItem(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	arr, err := arrayArg(c, args[0])
	if err != nil {
		return nil, err
	}
	idx, err := intArg(c, args[1], "the index")
	if err != nil {
		return nil, err
	}
	if idx < 0 || idx >= int64(len(arr)) {
		return nil, c.argErrorf("index %d is out of bounds for an array of %d items", idx, len(arr))
	}
	return arr[idx], nil
}

func evalArrayLength(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	arr, err := arrayArg(c, args[0])
	if err != nil {
		return nil, err
	}
	return intValue(int64(len(arr))), nil
}

func evalArrayUnique(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	arr, err := arrayArg(c, args[0])
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(arr))
	out := []any{}
	for _, e := range arr {
		key := canonicalKey(e)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, e)
	}
	return out, nil
}

// canonicalKey renders v so that equal JSON values get equal keys: object
// keys are sorted by the encoder and numbers are normalised.
func canonicalKey(v any) string {
	switch t := v.(type) {
	case json.Number:
		if f, ok := asFloat(t); ok {
			return "n:" + strconv.FormatFloat(f, 'g', -1, 64)
		}
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = canonicalKey(e)
		}
		return "a:[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = strconv.Quote(k) + ":" + canonicalKey(t[k])
		}
		return "o:{" + strings.Join(parts, ",") + "}"
	}
	return "v:" + mustEncode(v)
}

func boundedString(c *intrinsic, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", c.argErrorf("expected a string, got %s", jsonType(v))
	}
	if utf8.RuneCountInString(s) > maxIntrinsicInput {
		return "", c.argErrorf("the input is longer than %d characters", maxIntrinsicInput)
	}
	return s, nil
}

func evalBase64Encode(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	s, err := boundedString(c, args[0])
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func evalBase64Decode(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	s, err := boundedString(c, args[0])
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, c.argErrorf("the input is not base64: %v", err)
	}
	if !utf8.Valid(b) {
		return nil, c.argErrorf("the decoded data is not UTF-8 text")
	}
	return string(b), nil
}

func evalHash(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	data, ok := args[0].(string)
	if !ok {
		data = mustEncode(args[0])
	}
	if utf8.RuneCountInString(data) > maxIntrinsicInput {
		return nil, c.argErrorf("the input is longer than %d characters", maxIntrinsicInput)
	}
	algo, ok := args[1].(string)
	if !ok {
		return nil, c.argErrorf("the algorithm must be a string, got %s", jsonType(args[1]))
	}
	var h hash.Hash
	switch algo {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return nil, c.argErrorf("unknown algorithm %q: use MD5, SHA-1, SHA-256, SHA-384 or SHA-512", algo)
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func evalJSONMerge(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	a, ok1 := args[0].(map[string]any)
	b, ok2 := args[1].(map[string]any)
	if !ok1 || !ok2 {
		return nil, c.argErrorf("both values must be objects, got %s and %s", jsonType(args[0]), jsonType(args[1]))
	}
	deep, ok := args[2].(bool)
	if !ok {
		return nil, c.argErrorf("the merge mode must be a boolean, got %s", jsonType(args[2]))
	}
	if deep {
		return nil, c.argErrorf("only shallow merging is supported: the third argument must be false")
	}
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = deepCopy(v)
	}
	for k, v := range b {
		out[k] = deepCopy(v)
	}
	return out, nil
}

// evalMathRandom returns an integer in [start, end]. A seed makes the value
// reproducible; otherwise the engine's random source is used.
func evalMathRandom(env *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	start, err := intArg(c, args[0], "the start")
	if err != nil {
		return nil, err
	}
	end, err := intArg(c, args[1], "the end")
	if err != nil {
		return nil, err
	}
	if end < start {
		return nil, c.argErrorf("the end %d is below the start %d", end, start)
	}
	if end-start >= 1<<53 || end-start < 0 {
		return nil, c.argErrorf("the range from %d to %d is too wide", start, end)
	}
	r := env.rand
	if len(args) == 3 {
		seed, err := intArg(c, args[2], "the seed")
		if err != nil {
			return nil, err
		}
		src := rand.New(rand.NewPCG(uint64(seed), uint64(seed)))
		r = src.Float64
	}
	span := float64(end-start) + 1
	off := int64(r() * span)
	if off >= int64(span) {
		off = int64(span) - 1
	}
	return intValue(start + off), nil
}

func evalMathAdd(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	a, err := intArg(c, args[0], "the first value")
	if err != nil {
		return nil, err
	}
	b, err := intArg(c, args[1], "the second value")
	if err != nil {
		return nil, err
	}
	return intValue(a + b), nil
}

func evalStringSplit(_ *intrinsicEnv, c *intrinsic, args []any) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, c.argErrorf("the value to split must be a string, got %s", jsonType(args[0]))
	}
	delims, ok := args[1].(string)
	if !ok {
		return nil, c.argErrorf("the delimiters must be a string, got %s", jsonType(args[1]))
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) })
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func evalUUID(env *intrinsicEnv, _ *intrinsic, _ []any) (any, error) {
	return env.uuid(), nil
}
