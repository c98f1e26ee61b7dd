package eventpattern

import "strings"

// wildcardPattern is a compiled wildcard: literal segments separated by
// unescaped stars. A pattern without stars has a single segment.
type wildcardPattern struct {
	segments []string
}

// parseWildcard splits a wildcard on unescaped stars, resolving \* and \\.
// It returns a reason when the wildcard is one EventBridge rejects.
func parseWildcard(s string) (wildcardPattern, string) {
	var segments []string
	var cur strings.Builder
	prevStar := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*':
			if prevStar {
				return wildcardPattern{}, "consecutive wildcard characters (**) are not allowed"
			}
			segments = append(segments, cur.String())
			cur.Reset()
			prevStar = true
			continue
		case '\\':
			if i+1 >= len(s) {
				return wildcardPattern{}, `trailing backslash: escape a backslash as \\`
			}
			next := s[i+1]
			if next != '*' && next != '\\' {
				return wildcardPattern{}, `backslash may only escape * or \`
			}
			cur.WriteByte(next)
			i++
		default:
			cur.WriteByte(c)
		}
		prevStar = false
	}
	segments = append(segments, cur.String())
	return wildcardPattern{segments: segments}, ""
}

// match reports whether s matches. Stars match any run of bytes; because
// segments are whole UTF-8 strings they can only align on rune boundaries.
// Greedy leftmost placement of middle segments is exact for star-only globs.
func (w wildcardPattern) match(s string) bool {
	segs := w.segments
	if len(segs) == 1 {
		return s == segs[0]
	}
	first, last := segs[0], segs[len(segs)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	rest := s[len(first) : len(s)-len(last)]
	for _, seg := range segs[1 : len(segs)-1] {
		i := strings.Index(rest, seg)
		if i < 0 {
			return false
		}
		rest = rest[i+len(seg):]
	}
	return true
}
