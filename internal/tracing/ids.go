package tracing

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// xrayIDs generates trace ids X-Ray accepts: X-Ray rejects a trace whose first 32 bits are
// not a recent epoch second, which random OpenTelemetry ids are not.
type xrayIDs struct {
	now func() time.Time
}

func (g xrayIDs) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	now := time.Now
	if g.now != nil {
		now = g.now
	}
	var id trace.TraceID
	binary.BigEndian.PutUint32(id[:4], uint32(now().Unix()))
	binary.BigEndian.PutUint64(id[4:12], rand.Uint64())
	binary.BigEndian.PutUint32(id[12:], rand.Uint32())
	return id, newSpanID()
}

func (xrayIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	return newSpanID()
}

func newSpanID() trace.SpanID {
	v := rand.Uint64()
	if v == 0 {
		v = 1 // the all-zero id is invalid
	}
	var id trace.SpanID
	binary.BigEndian.PutUint64(id[:], v)
	return id
}
