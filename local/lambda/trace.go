package lambda

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

type traceKey struct{}

// WithTraceHeader returns ctx carrying the caller's X-Ray trace header
// ("Root=1-...;Parent=...;Sampled=1"), which an invocation passes on to the function as
// Lambda does with the X-Amzn-Trace-Id header of an Invoke request.
func WithTraceHeader(ctx context.Context, header string) context.Context {
	return context.WithValue(ctx, traceKey{}, header)
}

func traceHeaderFrom(ctx context.Context) string {
	h, _ := ctx.Value(traceKey{}).(string)
	return h
}

// invocationTraceHeader is the trace header the function sees: the caller's trace (root,
// sampling, lineage) with a new parent standing for the function's own segment, or a new
// trace when the caller sent none.
func invocationTraceHeader(incoming string, active bool, now time.Time) string {
	var root, sampled, lineage string
	for _, part := range strings.Split(incoming, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "Root":
			root = v
		case "Sampled":
			sampled = v
		case "Lineage":
			lineage = v
		}
	}
	if !validRoot(root) {
		root = fmt.Sprintf("1-%08x-%s", now.Unix(), randomHex(12))
		sampled = ""
	}
	if sampled != "0" && sampled != "1" {
		sampled = "0"
		if active {
			sampled = "1"
		}
	}
	h := "Root=" + root + ";Parent=" + randomHex(8) + ";Sampled=" + sampled
	if lineage != "" {
		h += ";Lineage=" + lineage
	}
	return h
}

// validRoot accepts X-Ray trace ids: 1-<8 hex>-<24 hex>.
func validRoot(s string) bool {
	p := strings.Split(s, "-")
	return len(p) == 3 && p[0] == "1" && len(p[1]) == 8 && len(p[2]) == 24 && isHex(p[1]) && isHex(p[2])
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newRequestID returns a random (version 4) UUID, the shape of Lambda request ids.
func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
