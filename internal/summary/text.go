package summary

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// ellipsis marks a cut string.
const ellipsis = "…"

// jsonCost is the number of bytes r takes in a JSON string as encoding/json writes it with
// HTML escaping on, as the Lambda runtime marshals a handler's response.
func jsonCost(r rune) int {
	switch {
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029' || r == utf8.RuneError:
		return 6
	}
	return utf8.RuneLen(r)
}

// byteCost is a rune's UTF-8 length: Step Functions counts a cause's characters, which are
// never more than its bytes.
func byteCost(r rune) int { return utf8.RuneLen(r) }

// cut returns s, or its longest prefix that costs at most max with the ellipsis added.
// It never splits a rune.
func cut(s string, max int, cost func(rune) int) string {
	total := 0
	for _, r := range s {
		total += cost(r)
	}
	if total <= max {
		return s
	}
	budget := max - len(ellipsis)
	if budget <= 0 {
		return ""
	}
	used, end := 0, 0
	for i, r := range s {
		c := cost(r)
		if used+c > budget {
			end = i
			break
		}
		used += c
		end = i + utf8.RuneLen(r)
	}
	return s[:end] + ellipsis
}

// text renders a JSON value as a bounded string: a string as itself, anything else as its
// compact JSON. null and absence give nil.
func text(raw json.RawMessage, max int) *string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		s = cut(s, max, jsonCost)
		return &s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return nil
	}
	s = cut(b.String(), max, jsonCost)
	return &s
}
