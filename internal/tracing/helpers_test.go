package tracing

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// udpSink stands in for the X-Ray daemon: a UDP socket on 127.0.0.1 that hands back what
// it received.
type udpSink struct {
	t    *testing.T
	conn *net.UDPConn
}

func newUDPSink(t *testing.T) *udpSink {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &udpSink{t: t, conn: conn}
}

func (s *udpSink) Addr() string { return s.conn.LocalAddr().String() }

// receive reads exactly n datagrams, failing the test after 5 s without one.
func (s *udpSink) receive(n int) []datagram {
	s.t.Helper()
	out := make([]datagram, 0, n)
	buf := make([]byte, 128*1024)
	for range n {
		if err := s.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			s.t.Fatalf("set deadline: %v", err)
		}
		m, _, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			s.t.Fatalf("received %d of %d datagrams: %v", len(out), n, err)
		}
		out = append(out, parseDatagram(s.t, buf[:m]))
	}
	return out
}

// expectNone fails when a datagram arrives within wait.
func (s *udpSink) expectNone(wait time.Duration) {
	s.t.Helper()
	if err := s.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		s.t.Fatalf("set deadline: %v", err)
	}
	buf := make([]byte, 128*1024)
	m, _, err := s.conn.ReadFromUDP(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return
	}
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	s.t.Fatalf("unexpected datagram: %s", buf[:m])
}

// datagram is one received document, decoded generically so tests read the wire keys.
type datagram struct {
	raw []byte
	doc map[string]any
}

const wantHeader = `{"format": "json", "version": 1}`

func parseDatagram(t *testing.T, b []byte) datagram {
	t.Helper()
	header, body, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		t.Fatalf("datagram without header line: %s", b)
	}
	if string(header) != wantHeader {
		t.Fatalf("header line = %q, want %q", header, wantHeader)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("document is not JSON: %v: %s", err, body)
	}
	return datagram{raw: append([]byte(nil), b...), doc: doc}
}

// splitPath splits a dotted path; `\.` is a dot inside a key (metadata keys have dots).
func splitPath(path string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		switch {
		case path[i] == '\\' && i+1 < len(path) && path[i+1] == '.':
			cur.WriteByte('.')
			i++
		case path[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(path[i])
		}
	}
	return append(parts, cur.String())
}

// get follows a dotted path of object keys; ok is false when any step is missing.
func (d datagram) get(path string) (any, bool) {
	var cur any = d.doc
	for _, k := range splitPath(path) {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func (d datagram) str(t *testing.T, path string) string {
	t.Helper()
	v, ok := d.get(path)
	if !ok {
		t.Fatalf("%s missing in %s", path, d.raw)
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%s = %#v, want a string", path, v)
	}
	return s
}

func (d datagram) num(t *testing.T, path string) float64 {
	t.Helper()
	v, ok := d.get(path)
	if !ok {
		t.Fatalf("%s missing in %s", path, d.raw)
	}
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%s = %#v, want a number", path, v)
	}
	return f
}

// flag reads an X-Ray boolean flag; absent means false, as X-Ray reads it.
func (d datagram) flag(t *testing.T, path string) bool {
	t.Helper()
	v, ok := d.get(path)
	if !ok {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		t.Fatalf("%s = %#v, want a bool", path, v)
	}
	return b
}

func (d datagram) has(path string) bool {
	_, ok := d.get(path)
	return ok
}

func readFixture(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
}

type headerCase struct {
	Name        string `json:"name"`
	Header      string `json:"header"`
	Valid       bool   `json:"valid"`
	Root        string `json:"root"`
	OTelTraceID string `json:"otelTraceId"`
	Parent      string `json:"parent"`
	Sampled     bool   `json:"sampled"`
}

func headerCases(t *testing.T) []headerCase {
	t.Helper()
	var cases []headerCase
	readFixture(t, "trace_headers.json", &cases)
	if len(cases) == 0 {
		t.Fatal("no header cases")
	}
	return cases
}

const (
	testRoot   = "1-5759e988-bd862e3fe1be46a994272793"
	testParent = "53995c3f42cd8ad8"
	testHeader = "Root=" + testRoot + ";Parent=" + testParent + ";Sampled=1"
)
