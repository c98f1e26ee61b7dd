// Package tracingtest collects the X-Ray documents an exporter sends. Only tests import it.
package tracingtest

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Datagrams is an exporter's destination that keeps each datagram's document (the part
// after the daemon protocol's header line), one per write.
type Datagrams struct{ Docs []map[string]any }

func (d *Datagrams) Write(b []byte) (int, error) {
	_, doc, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return 0, fmt.Errorf("datagram without a header line: %.80q", b)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return 0, err
	}
	d.Docs = append(d.Docs, m)
	return len(b), nil
}
