// Package xray is a stand-in for the X-Ray daemon a Lambda sandbox offers on UDP: it
// receives the segment documents functions send, keeps them, and writes them as JSON lines,
// so a local run can show what an operator would find in X-Ray. Trace assembles one trace
// the way X-Ray presents it, and Timeline draws it in a terminal.
//
// It refuses what X-Ray refuses: a datagram over 64 KB, a document without a trace id, or
// one whose trace id began more than 30 days ago or more than 5 minutes ahead (the first
// 32 bits of an X-Ray trace id are the epoch second it began).
package xray

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// header is the line that precedes every document in a datagram.
var header = []byte(`{"format": "json", "version": 1}`)

// maxDatagram is the largest document the daemon accepts.
const maxDatagram = 64 * 1024

// The window of trace ids X-Ray takes documents for.
const (
	maxTraceAge  = 30 * 24 * time.Hour
	maxTraceSkew = 5 * time.Minute
)

// Segment is the part of a segment document the runtime reads; Raw keeps all of it.
type Segment struct {
	TraceID     string         `json:"trace_id"`
	ID          string         `json:"id"`
	ParentID    string         `json:"parent_id"`
	Name        string         `json:"name"`
	Type        string         `json:"type"`
	StartTime   float64        `json:"start_time"`
	EndTime     float64        `json:"end_time"`
	InProgress  bool           `json:"in_progress"`
	Origin      string         `json:"origin"`
	Namespace   string         `json:"namespace"`
	Error       bool           `json:"error"`
	Fault       bool           `json:"fault"`
	AWS         AWS            `json:"aws"`
	Annotations map[string]any `json:"annotations"`
	Raw         json.RawMessage
}

// AWS is the aws object of a document.
type AWS struct {
	Operation string `json:"operation"`
	Region    string `json:"region"`
	AccountID string `json:"account_id"`
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
	if !ok || !bytes.Equal(bytes.TrimSpace(head), header) || len(dgram) > maxDatagram || json.Unmarshal(doc, &seg) != nil || !acceptable(seg.TraceID, time.Now()) {
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

// acceptable reports whether X-Ray takes documents for the trace id at now.
func acceptable(traceID string, now time.Time) bool {
	if len(traceID) != 35 || !strings.HasPrefix(traceID, "1-") || traceID[10] != '-' {
		return false
	}
	epoch, err := strconv.ParseUint(traceID[2:10], 16, 32)
	if err != nil {
		return false
	}
	began := time.Unix(int64(epoch), 0)
	return now.Sub(began) <= maxTraceAge && began.Sub(now) <= maxTraceSkew
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
