package eventbridge

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// event is one event on one bus. raw and doc are never modified once built,
// so deliveries share them.
type event struct {
	raw        json.RawMessage
	doc        map[string]any
	id         string
	source     string
	detailType string
	bus        busKey    // the bus it is on
	arrived    time.Time // when it reached that bus; event ages count from here
	forwarded  bool      // it reached the bus through a bus target
}

// onBus is the event as it arrives on another bus through a bus target: the
// envelope is unchanged (account, region and id stay the producer's).
func (e *event) onBus(k busKey, now time.Time) *event {
	next := *e
	next.bus, next.arrived, next.forwarded = k, now, true
	return &next
}

// envelope is the event structure EventBridge delivers, in AWS's field order.
type envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

const timeLayout = "2006-01-02T15:04:05Z"

// newEvent assembles the envelope of a PutEvents entry. detail must be a
// valid JSON object.
func newEvent(env envelope, k busKey, now time.Time) (*event, error) {
	raw, err := marshalNoEscape(env)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return decodeEvent(raw, k, now)
}

// decodeEvent builds an event from a complete envelope.
func decodeEvent(raw []byte, k busKey, now time.Time) (*event, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if doc == nil {
		return nil, errors.New("decode event: not a JSON object")
	}
	str := func(key string) string { s, _ := doc[key].(string); return s }
	return &event{raw: raw, doc: doc, id: str("id"), source: str("source"), detailType: str("detail-type"), bus: k, arrived: now}, nil
}

// serviceEvent completes an event emitted by an AWS service stand-in: fields
// it leaves out get EventBridge's values, fields it sets are kept.
func serviceEvent(in []byte, account, region string, now time.Time) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(in, &fields); err != nil || fields == nil {
		return nil, errors.New("event must be a JSON object")
	}
	var missing []string
	for _, key := range []string{"source", "detail-type"} {
		var s string
		if err := json.Unmarshal(fields[key], &s); err != nil || s == "" {
			missing = append(missing, key)
		}
	}
	if d := bytes.TrimSpace(fields["detail"]); len(d) == 0 || d[0] != '{' {
		missing = append(missing, "detail (an object)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("event lacks %v", missing)
	}
	for key, want := range map[string]string{"account": account, "region": region} {
		if v, ok := fields[key]; ok {
			var s string
			if err := json.Unmarshal(v, &s); err != nil || s != want {
				return nil, fmt.Errorf("event %s is %s, published in %s", key, v, want)
			}
		}
	}
	defaults := map[string]any{
		"version": "0", "id": newID(), "account": account, "region": region,
		"time": now.UTC().Format(timeLayout), "resources": []string{},
	}
	filled := false
	for key, v := range defaults {
		if _, ok := fields[key]; ok {
			continue
		}
		b, _ := json.Marshal(v) // strings and a string slice always encode
		fields[key] = b
		filled = true
	}
	if !filled {
		return compact(in), nil
	}
	return marshalOrdered(fields), nil
}

// envelopeOrder is the order AWS writes envelope fields in; other fields
// follow, sorted.
var envelopeOrder = []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}

func marshalOrdered(fields map[string]json.RawMessage) []byte {
	var keys []string
	rank := map[string]int{}
	for i, k := range envelopeOrder {
		rank[k] = i + 1
	}
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := rank[keys[i]], rank[keys[j]]
		switch {
		case ri != 0 && rj != 0:
			return ri < rj
		case ri != 0 || rj != 0:
			return ri != 0
		default:
			return keys[i] < keys[j]
		}
	})
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := marshalNoEscape(k)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(compact(fields[k]))
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// marshalNoEscape encodes like json.Marshal but leaves <, > and & alone, so
// that details reach targets byte for byte as they were put.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// compact removes insignificant space from valid JSON; invalid input is
// returned unchanged.
func compact(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return append([]byte(nil), b...)
	}
	return buf.Bytes()
}

// newID returns a random UUID (version 4), the shape of EventBridge event ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
