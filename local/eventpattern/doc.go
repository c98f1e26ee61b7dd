// Package eventpattern compiles Amazon EventBridge event patterns and tells
// whether events match them. It backs the local stand-in for EventBridge
// rules (demo and end-to-end tests); production code never imports it.
//
// # Usage
//
//	p, err := eventpattern.Compile(ruleJSON) // validates the whole pattern
//	ok, err := p.Match(eventJSON)            // or p.MatchValue(decoded)
//
// Like EventBridge, Compile refuses malformed patterns; its [*PatternError]
// names the JSON path of the offending part (for example
// detail.build-status[1]). Operators this package does not implement are
// refused with an [*UnsupportedOperatorError] instead of silently matching
// nothing.
// Neither Compile nor Match panics on any input: malformed JSON, wrong types,
// huge numbers and nesting deeper than [MaxDepth] come back as errors.
//
// # Supported syntax
//
//   - Field values are arrays; the field matches when any element matches
//     (OR). A bare value such as {"source": "aws.codebuild"} is rejected, as
//     EventBridge does. Empty arrays and empty objects are rejected.
//   - Fields of an object are ANDed; nested objects follow the event's shape.
//   - "$or": [pattern, pattern, ...] at any object level, at least two
//     alternatives, ANDed with its sibling fields. "$or" is always this
//     operator, never a field name.
//   - Exact values: strings, numbers, true, false, null.
//   - {"prefix": "s"}, {"prefix": {"equals-ignore-case": "s"}}
//   - {"suffix": "s"}, {"suffix": {"equals-ignore-case": "s"}}
//   - {"equals-ignore-case": "s"}
//   - {"wildcard": "a*b"}: * matches any run of characters; \* is a literal
//     star and \\ a literal backslash. Consecutive unescaped stars, any other
//     escape and a trailing backslash are rejected.
//   - {"anything-but": v} where v is a string, a number, a non-empty list of
//     only strings or only numbers, or an object {"prefix": s},
//     {"suffix": s}, {"equals-ignore-case": s or [s...]} or
//     {"wildcard": s or [s...]}. Prefix and suffix also accept a list here.
//   - {"exists": true|false}
//   - {"numeric": [op, n]} with op one of = < <= > >=, or a range
//     [">" or ">=", low, "<" or "<=", high] with low < high.
//   - {"cidr": "10.0.0.0/24"} and IPv6 prefixes.
//
// # Matching semantics
//
// Where the EventBridge documentation is silent or ambiguous, this package
// follows the behaviour of AWS's own matching engine and chooses as follows.
//
//   - A pattern field looks at the "leaf values" at its path in the event:
//     scalars (strings, numbers, booleans, null) found there, with arrays
//     flattened, nested arrays included. A field absent from the event, a
//     field holding an object, and an empty array all have no leaf values, so
//     only {"exists": false} matches them. This mirrors EventBridge's rule
//     that exists matching works on leaf nodes only: {"exists": true} does not
//     match a field whose value is an object, {"exists": false} does.
//   - null is a value: it matches [null], {"exists": true} and anything-but,
//     and never matches "" (or the reverse).
//   - When a nested pattern object meets an array of objects in the event,
//     the nested pattern must match within a single element (AWS's
//     "array-consistent" matching). When it meets no object at all (field
//     absent, a scalar, or an array without objects) it is matched against an
//     empty object, so only exists:false conditions can hold.
//   - Numbers are compared as numbers, never as text. Exact values compare
//     exact decimal values (300, 3e2 and 300.0 are equal, 1 and "1" are
//     not); numeric comparisons use float64, and event numbers beyond the
//     float64 range compare as infinities. The ±5e9 range and six-decimal
//     precision of AWS's numeric matcher are not imposed.
//   - anything-but matches a leaf value that the excluded values do not
//     describe. Its string forms only describe strings and its numeric form
//     only numbers, so a value of another JSON type passes (as in AWS's
//     engine). It never matches a field without leaf values.
//   - prefix, suffix, equals-ignore-case, wildcard and cidr only match
//     strings; numeric only matches numbers. Without equals-ignore-case all
//     string comparisons are case-sensitive. Ignoring case uses Unicode
//     simple case folding.
//   - cidr host bits are ignored (10.0.0.7/24 means 10.0.0.0/24); IPv4-mapped
//     IPv6 addresses in events match IPv4 prefixes. Exact string values are
//     compared as text even when they look like IP addresses.
//   - Duplicate keys are rejected in patterns; in events the last one wins.
//   - Inside "$or" alternatives an operator name cannot be used as a field
//     name, as EventBridge requires.
//
// Not emulated: EventBridge's limits on pattern size and rule complexity.
package eventpattern
