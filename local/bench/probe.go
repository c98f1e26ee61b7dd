package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crossbuild/crossbuild/local/eventbridge"
)

// Probe stands between the functions and the stand-ins to time and count what the
// benchmark measures without reading logs: when a build's terminal event reached the
// callback, when Step Functions accepted the SendTaskSuccess that closed its task, and
// how many DynamoDB writes and reads were made. It also drops CodeBuild's events while
// told to (the fallback mode).
type Probe struct {
	dropping atomic.Bool
	writes   atomic.Int64
	reads    atomic.Int64
	events   atomic.Int64 // CodeBuild events delivered to a function

	mu       sync.Mutex
	terminal map[string]time.Time // build ARN -> first terminal event's delivery start
	accepted map[string]time.Time // build ARN -> SendTaskSuccess accepted
}

// NewProbe returns an empty probe.
func NewProbe() *Probe {
	return &Probe{terminal: map[string]time.Time{}, accepted: map[string]time.Time{}}
}

// Counts is a snapshot of the probe's counters.
type Counts struct{ Writes, Reads, Events int64 }

// Counts returns the counters so far.
func (p *Probe) Counts() Counts {
	return Counts{Writes: p.writes.Load(), Reads: p.reads.Load(), Events: p.events.Load()}
}

// Overhead returns, for a build, the time from the start of the callback invocation that
// carried its terminal event to Step Functions accepting the task's completion.
func (p *Probe) Overhead(buildARN string) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start, ok1 := p.terminal[buildARN]
	done, ok2 := p.accepted[buildARN]
	if !ok1 || !ok2 || done.Before(start) {
		return 0, false
	}
	return done.Sub(start), true
}

// Drop makes the probe drop every CodeBuild event until Drop(false).
func (p *Probe) Drop(on bool) { p.dropping.Store(on) }

// buildEvent is the part of a CodeBuild event the probe reads.
type buildEvent struct {
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
	Detail     struct {
		BuildID     string `json:"build-id"`
		BuildStatus string `json:"build-status"`
	} `json:"detail"`
}

func (p *Probe) dropEvent(raw json.RawMessage) bool {
	if !p.dropping.Load() {
		return false
	}
	var e buildEvent
	return json.Unmarshal(raw, &e) == nil && e.Source == "aws.codebuild"
}

// invoker records the delivery of CodeBuild events to functions.
type invoker struct {
	next eventbridge.LambdaInvoker
	p    *Probe
}

func (i invoker) InvokeAsync(ctx context.Context, fn string, payload []byte) error {
	var e buildEvent
	if json.Unmarshal(payload, &e) == nil && e.Source == "aws.codebuild" {
		i.p.events.Add(1)
		if e.DetailType == "CodeBuild Build State Change" && e.Detail.BuildStatus != "IN_PROGRESS" {
			i.p.mu.Lock()
			if _, seen := i.p.terminal[e.Detail.BuildID]; !seen {
				i.p.terminal[e.Detail.BuildID] = time.Now()
			}
			i.p.mu.Unlock()
		}
	}
	return i.next.InvokeAsync(ctx, fn, payload)
}

// statusWriter keeps the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// intercept counts DynamoDB requests and times accepted SendTaskSuccess calls.
func (p *Probe) intercept(service string, h http.Handler) http.Handler {
	switch service {
	case "dynamodb":
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			op := r.Header.Get("X-Amz-Target")
			switch {
			case strings.HasSuffix(op, ".PutItem"), strings.HasSuffix(op, ".UpdateItem"), strings.HasSuffix(op, ".DeleteItem"),
				strings.HasSuffix(op, ".BatchWriteItem"), strings.HasSuffix(op, ".TransactWriteItems"):
				p.writes.Add(1)
			case strings.HasSuffix(op, ".GetItem"), strings.HasSuffix(op, ".Query"), strings.HasSuffix(op, ".BatchGetItem"):
				p.reads.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	case "states":
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".SendTaskSuccess") {
				h.ServeHTTP(w, r)
				return
			}
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
			h.ServeHTTP(sw, r)
			if sw.code != http.StatusOK {
				return
			}
			now := time.Now()
			var in struct{ Output string }
			var out struct{ BuildArn string }
			if json.Unmarshal(body, &in) == nil && json.Unmarshal([]byte(in.Output), &out) == nil && out.BuildArn != "" {
				p.mu.Lock()
				p.accepted[out.BuildArn] = now
				p.mu.Unlock()
			}
		})
	}
	return h
}
