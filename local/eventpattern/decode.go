package eventpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// member is one key/value pair of a pattern object, kept in document order so
// that validation reports the first problem a reader would see.
type member struct {
	key   string
	value any
}

// object is a pattern object as decoded by decodePattern.
type object []member

// jsonDecoder reads one JSON value token by token, bounding the nesting depth
// and keeping numbers as json.Number so that no precision is lost.
type jsonDecoder struct {
	dec *json.Decoder
	// ordered decodes objects as object (rejecting duplicate keys) rather
	// than map[string]any (where the last duplicate wins).
	ordered bool
}

// decodeError is a decoding failure at a path of the document; callers turn
// it into a PatternError or an EventError.
type decodeError struct {
	path   string
	reason string
	err    error
}

func newJSONDecoder(data []byte, ordered bool) *jsonDecoder {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &jsonDecoder{dec: dec, ordered: ordered}
}

// decodeDocument decodes exactly one JSON value from data.
func decodeDocument(data []byte, ordered bool) (any, *decodeError) {
	d := newJSONDecoder(data, ordered)
	v, derr := d.value("", 0)
	if derr != nil {
		return nil, derr
	}
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &decodeError{reason: "unexpected data after the JSON value"}
	}
	return v, nil
}

func (d *jsonDecoder) value(path string, depth int) (any, *decodeError) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, syntaxError(err, d.dec.InputOffset())
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= MaxDepth {
			return nil, &decodeError{path: path, reason: fmt.Sprintf("nesting deeper than %d levels", MaxDepth), err: ErrTooDeep}
		}
		if t == '[' {
			return d.array(path, depth+1)
		}
		return d.object(path, depth+1)
	default:
		return tok, nil // string, json.Number, bool or nil
	}
}

func (d *jsonDecoder) array(path string, depth int) (any, *decodeError) {
	items := []any{}
	for d.dec.More() {
		v, derr := d.value(indexPath(path, len(items)), depth)
		if derr != nil {
			return nil, derr
		}
		items = append(items, v)
	}
	if _, err := d.dec.Token(); err != nil { // closing ']'
		return nil, syntaxError(err, d.dec.InputOffset())
	}
	return items, nil
}

func (d *jsonDecoder) object(path string, depth int) (any, *decodeError) {
	var ordered object
	var fields map[string]any
	var seen map[string]struct{}
	if d.ordered {
		seen = map[string]struct{}{}
	} else {
		fields = map[string]any{}
	}
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return nil, syntaxError(err, d.dec.InputOffset())
		}
		key, ok := tok.(string)
		if !ok { // json.Decoder only yields string keys; keep the guard anyway
			return nil, &decodeError{path: path, reason: "object key is not a string"}
		}
		keyPath := childPath(path, key)
		v, derr := d.value(keyPath, depth)
		if derr != nil {
			return nil, derr
		}
		if d.ordered {
			if _, dup := seen[key]; dup {
				return nil, &decodeError{path: keyPath, reason: "duplicate key"}
			}
			seen[key] = struct{}{}
			ordered = append(ordered, member{key: key, value: v})
		} else {
			fields[key] = v
		}
	}
	if _, err := d.dec.Token(); err != nil { // closing '}'
		return nil, syntaxError(err, d.dec.InputOffset())
	}
	if d.ordered {
		if ordered == nil {
			ordered = object{}
		}
		return ordered, nil
	}
	return fields, nil
}

func syntaxError(err error, offset int64) *decodeError {
	if errors.Is(err, io.EOF) {
		return &decodeError{reason: "invalid JSON: unexpected end of input", err: err}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		offset = se.Offset
	}
	return &decodeError{reason: fmt.Sprintf("invalid JSON at offset %d: %v", offset, err), err: err}
}
