package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// MaxDatagramBytes bounds one datagram, header included: below both the 64 KiB the daemon
// reads at once and the 65,507-byte UDP payload limit.
const MaxDatagramBytes = 63 * 1024

// ErrExporterShutdown is returned by ExportSpans after Shutdown.
var ErrExporterShutdown = errors.New("x-ray exporter is shut down")

// Exporter is an OpenTelemetry span exporter that sends each span as one X-Ray segment
// document datagram.
type Exporter struct {
	mu      sync.Mutex
	w       io.Writer // every Write is one datagram
	closer  io.Closer // nil when the caller owns w
	stopped bool
	limit   int
}

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// NewExporter returns an exporter that writes each datagram with one call to w.Write.
// The caller keeps ownership of w.
func NewExporter(w io.Writer) *Exporter {
	return &Exporter{w: w, limit: MaxDatagramBytes}
}

// DialExporter returns an exporter sending to the X-Ray daemon at addr, in any form
// ParseDaemonAddress accepts.
func DialExporter(addr string) (*Exporter, error) {
	udp, err := ParseDaemonAddress(addr)
	if err != nil {
		return nil, err
	}
	// A UDP "dial" only binds a local socket; nothing is sent until the first span.
	conn, err := net.Dial("udp", udp)
	if err != nil {
		return nil, fmt.Errorf("dial x-ray daemon %s: %w", udp, err)
	}
	return &Exporter{w: conn, closer: conn, limit: MaxDatagramBytes}, nil
}

// ExportSpans sends every sampled span. A span that cannot be encoded or sent is reported
// in the returned error and does not stop the others.
func (e *Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return ErrExporterShutdown
	}
	var errs []error
	for _, s := range spans {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if !s.SpanContext().IsSampled() {
			continue
		}
		b, err := encodeDatagram(toSegment(s), e.limit)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := e.w.Write(b); err != nil {
			errs = append(errs, fmt.Errorf("send span %q: %w", s.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// send writes one document built outside a span (Emit).
func (e *Exporter) send(seg *segment) error {
	b, err := encodeDatagram(seg, e.limit)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return ErrExporterShutdown
	}
	if _, err := e.w.Write(b); err != nil {
		return fmt.Errorf("send document %s: %w", seg.ID, err)
	}
	return nil
}

// Shutdown closes the socket DialExporter opened. Later exports fail.
func (e *Exporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil
	}
	e.stopped = true
	if e.closer != nil {
		return e.closer.Close()
	}
	return nil
}
