// Package xray is a stand-in for the X-Ray daemon a Lambda sandbox offers on UDP: it
// receives the segment documents functions send, keeps them, and writes them as JSON lines,
// so a local run can show what an operator would find in X-Ray.
package xray

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
)

// header is the line that precedes every document in a datagram.
var header = []byte(`{"format": "json", "version": 1}`)

// maxDatagram is the largest document the daemon accepts.
const maxDatagram = 64 * 1024

// Segment is the part of a segment document the runtime reads; Raw keeps all of it.
type Segment struct {
	TraceID     string         `json:"trace_id"`
	ID          string         `json:"id"`
	ParentID    string         `json:"parent_id"`
	Name        string         `json:"name"`
	Type        string         `json:"type"`
	StartTime   float64        `json:"start_time"`
	EndTime     float64        `json:"end_time"`
	Namespace   string         `json:"namespace"`
	Error       bool           `json:"error"`
	Fault       bool           `json:"fault"`
	Annotations map[string]any `json:"annotations"`
	Raw         json.RawMessage
}

// Daemon receives segment documents on a UDP port of 127.0.0.1.
type Daemon struct {
	conn *net.UDPConn
	out  io.Writer

	mu       sync.Mutex
	segments []Segment
	rejected int
	done     chan struct{}
}

// Start listens on a free UDP port of 127.0.0.1; documents are also written to out (one
// JSON line each) when it is not nil.
func Start(out io.Writer) (*Daemon, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("x-ray daemon: %w", err)
	}
	d := &Daemon{conn: conn, out: out, done: make(chan struct{})}
	go d.serve()
	return d, nil
}

// Address is what AWS_XRAY_DAEMON_ADDRESS should say.
func (d *Daemon) Address() string { return d.conn.LocalAddr().String() }

func (d *Daemon) serve() {
	defer close(d.done)
	buf := make([]byte, maxDatagram+1)
	for {
		n, _, err := d.conn.ReadFromUDP(buf)
		if err != nil {
			return // closed
		}
		d.receive(buf[:n])
	}
}

// receive parses one datagram: the header line, a newline, one JSON document.
func (d *Daemon) receive(dgram []byte) {
	head, doc, ok := bytes.Cut(dgram, []byte("\n"))
	var seg Segment
	if !ok || !bytes.Equal(bytes.TrimSpace(head), header) || len(dgram) > maxDatagram || json.Unmarshal(doc, &seg) != nil || seg.TraceID == "" {
		d.mu.Lock()
		d.rejected++
		d.mu.Unlock()
		return
	}
	seg.Raw = append(json.RawMessage(nil), doc...)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.segments = append(d.segments, seg)
	if d.out != nil {
		_, _ = d.out.Write(append(append([]byte(nil), doc...), '\n'))
	}
}

// Segments returns what was received so far, in arrival order.
func (d *Daemon) Segments() []Segment {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Segment(nil), d.segments...)
}

// Rejected counts datagrams that were not segment documents.
func (d *Daemon) Rejected() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rejected
}

// Find returns the segments whose annotation key equals value, as the X-Ray filter
// expression annotation.<key> = "<value>" would.
func (d *Daemon) Find(key string, value any) []Segment {
	var out []Segment
	for _, s := range d.Segments() {
		if v, ok := s.Annotations[key]; ok && v == value {
			out = append(out, s)
		}
	}
	return out
}

// Traces groups segments by trace id, trace ids sorted.
func (d *Daemon) Traces() map[string][]Segment {
	out := map[string][]Segment{}
	for _, s := range d.Segments() {
		out[s.TraceID] = append(out[s.TraceID], s)
	}
	for _, segs := range out {
		sort.Slice(segs, func(i, j int) bool { return segs[i].StartTime < segs[j].StartTime })
	}
	return out
}

// Close stops listening.
func (d *Daemon) Close() error {
	err := d.conn.Close()
	<-d.done
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
