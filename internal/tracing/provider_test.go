package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/crossbuild/crossbuild/internal/failure"
)

// lambdaContext returns the context aws-lambda-go hands a handler: the trace header
// under its plain string key, and the invocation's request id.
func lambdaContext(header string) context.Context {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8f5a8f8c-3ad1-4d6e-9a1f-0c6b1f0f2a11"})
	if header == "" {
		return ctx
	}
	return context.WithValue(ctx, traceHeaderContextKey, header) //nolint:staticcheck // the key aws-lambda-go uses
}

// setupSink points Setup at a fresh UDP sink, as Lambda points it at the daemon.
func setupSink(t *testing.T) (*Provider, *udpSink) {
	t.Helper()
	t.Setenv(TraceHeaderEnv, "")
	sink := newUDPSink(t)
	t.Setenv(DaemonAddressEnv, sink.Addr())
	p, err := Setup(context.Background(), "starter")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p, sink
}

// drained proves nothing else was sent: a sampled sentinel invocation must be the next
// datagram. Export is synchronous and loopback keeps order, so a stray datagram from the
// step before would arrive first.
func drained(t *testing.T, p *Provider, sink *udpSink) {
	t.Helper()
	h := Wrap(p, "sentinel", func(context.Context, struct{}) (struct{}, error) { return struct{}{}, nil })
	if _, err := h(lambdaContext(testHeader), struct{}{}); err != nil {
		t.Fatal(err)
	}
	if got := sink.receive(1)[0]; got.str(t, "name") != "sentinel" {
		t.Fatalf("stray datagram before the sentinel: %s", got.raw)
	}
}

func TestWrapFollowsTheTraceHeader(t *testing.T) {
	p, sink := setupSink(t)
	for _, tc := range headerCases(t) {
		for _, from := range []string{"context", "env"} {
			t.Run(tc.Name+" from "+from, func(t *testing.T) {
				ctx := lambdaContext(tc.Header)
				if from == "env" {
					t.Setenv(TraceHeaderEnv, tc.Header)
					ctx = lambdaContext("")
				}
				var seen string
				h := Wrap(p, "starter", func(ctx context.Context, in string) (string, error) {
					seen = TraceID(ctx)
					Annotate(ctx, KeyExecutionARN, in)
					return "ok:" + in, nil
				})
				before := time.Now()
				out, err := h(ctx, "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1")
				after := time.Now()
				if err != nil || out != "ok:arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1" {
					t.Fatalf("handler result changed: %q, %v", out, err)
				}

				if tc.Valid {
					if seen != tc.Root {
						t.Errorf("TraceID = %q, want %q", seen, tc.Root)
					}
				} else {
					// A new trace, with an id X-Ray would accept (epoch seconds first).
					id, err := ParseXRayTraceID(seen)
					if err != nil {
						t.Fatalf("TraceID = %q: %v", seen, err)
					}
					epoch := time.Unix(int64(id[0])<<24|int64(id[1])<<16|int64(id[2])<<8|int64(id[3]), 0)
					if epoch.Before(before.Add(-2*time.Second)) || epoch.After(after.Add(2*time.Second)) {
						t.Errorf("new trace id %s has epoch %v, want about %v", seen, epoch, before)
					}
				}

				if !tc.Valid || !tc.Sampled {
					drained(t, p, sink)
					return
				}
				d := sink.receive(1)[0]
				wantStr(t, d, "type", "subsegment")
				wantStr(t, d, "name", "starter")
				wantStr(t, d, "trace_id", tc.Root)
				wantStr(t, d, "parent_id", tc.Parent)
				wantStr(t, d, "annotations.execution_arn", "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1")
				wantStr(t, d, "metadata.default.faas\\.invocation_id", "8f5a8f8c-3ad1-4d6e-9a1f-0c6b1f0f2a11")
				wantAbsent(t, d, "error", "fault", "cause")
				start, end := d.num(t, "start_time"), d.num(t, "end_time")
				lo, hi := float64(before.UnixMicro())/1e6, float64(after.UnixMicro())/1e6
				if start < lo-1e-6 || end > hi+1e-6 || end < start {
					t.Errorf("start/end %f/%f outside the call %f..%f", start, end, lo, hi)
				}
				if id := d.str(t, "id"); len(id) != 16 || id == tc.Parent {
					t.Errorf("id = %q, want a new 16-hex-digit span id", id)
				}
				drained(t, p, sink)
			})
		}
	}
}

func TestWrapContextHeaderWinsOverEnv(t *testing.T) {
	p, sink := setupSink(t)
	t.Setenv(TraceHeaderEnv, "Root=1-6745a1b0-0123456789abcdef01234567;Parent=1111111111111111;Sampled=1")
	h := Wrap(p, "callback", func(ctx context.Context, _ int) (string, error) { return TraceID(ctx), nil })
	got, _ := h(lambdaContext(testHeader), 0)
	if got != testRoot {
		t.Errorf("TraceID = %s, want the context's %s", got, testRoot)
	}
	d := sink.receive(1)[0]
	wantStr(t, d, "parent_id", testParent)
}

func TestWrapMarksErrors(t *testing.T) {
	p, sink := setupSink(t)
	want := &failure.InvalidTarget{Index: 0, Field: "region", Rule: "must be one of the allowed Regions"}
	h := Wrap(p, "starter", func(context.Context, int) (int, error) { return 0, want })
	_, err := h(lambdaContext(testHeader), 0)
	var it *failure.InvalidTarget
	if !errors.As(err, &it) || it != want {
		t.Fatalf("error changed by Wrap: %v", err)
	}
	d := sink.receive(1)[0]
	wantFlags(t, d, false, true, false)
	ex := exceptions(t, d)
	if ex[0]["type"] != "InvalidTarget" || ex[0]["message"] != want.Error() {
		t.Errorf("exception = %v", ex[0])
	}
}

func TestWrapRecordsAndRepanics(t *testing.T) {
	p, sink := setupSink(t)
	h := Wrap(p, "poller", func(context.Context, int) (int, error) { panic("boom") })
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the handler's panic", r)
			}
		}()
		_, _ = h(lambdaContext(testHeader), 0)
		t.Error("Wrap swallowed the panic")
	}()
	d := sink.receive(1)[0]
	wantFlags(t, d, false, true, false)
	if ex := exceptions(t, d); ex[0]["type"] != "panic" || ex[0]["message"] != "boom" {
		t.Errorf("exception = %v", ex[0])
	}
}

func TestAnnotateAndLink(t *testing.T) {
	p, sink := setupSink(t)
	type buildStatus string
	long := strings.Repeat("a", 1200)
	h := Wrap(p, "callback", func(ctx context.Context, _ int) (int, error) {
		Annotate(ctx, KeyBuildARN, "arn:aws:codebuild:eu-west-1:222222222222:build/sample-codebuild-project:3b1d")
		Annotate(ctx, KeyExecutionARN, "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1")
		Annotate(ctx, KeyAccount, "222222222222")
		Annotate(ctx, KeyProject, "sample-codebuild-project")
		Annotate(ctx, KeyRegion, "eu-west-1")
		Annotate(ctx, "map-index", 3)
		Annotate(ctx, "terminal", true)
		Annotate(ctx, "status", buildStatus("SUCCEEDED"))
		Annotate(ctx, "long", long)
		Annotate(ctx, "", "dropped")
		Link(ctx, "not a trace id")
		Link(ctx, "1-6745a1b0-0123456789abcdef01234567")
		return 0, nil
	})
	if _, err := h(lambdaContext(testHeader), 0); err != nil {
		t.Fatal(err)
	}
	d := sink.receive(1)[0]
	want := map[string]any{
		"build_arn":       "arn:aws:codebuild:eu-west-1:222222222222:build/sample-codebuild-project:3b1d",
		"execution_arn":   "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1",
		"account":         "222222222222",
		"project":         "sample-codebuild-project",
		"region":          "eu-west-1",
		"map_index":       float64(3),
		"terminal":        true,
		"status":          "SUCCEEDED",
		"long":            long[:1000],
		"origin_trace_id": "1-6745a1b0-0123456789abcdef01234567",
	}
	got, _ := d.get("annotations")
	gotMap, _ := got.(map[string]any)
	if len(gotMap) != len(want) {
		t.Errorf("annotations = %v, want exactly %d keys", gotMap, len(want))
	}
	for k, v := range want {
		if gotMap[k] != v {
			t.Errorf("annotations.%s = %#v, want %#v", k, gotMap[k], v)
		}
	}
	links, _ := d.get("metadata.default.links")
	if l, _ := links.([]any); len(l) != 1 || l[0] != "1-6745a1b0-0123456789abcdef01234567" {
		t.Errorf("metadata.default.links = %v", links)
	}
}

func TestStartAndEndMakeChildSubsegments(t *testing.T) {
	p, sink := setupSink(t)
	h := Wrap(p, "callback", func(ctx context.Context, _ int) (int, error) {
		_, ok := Start(ctx, "claim token")
		End(ok, nil)
		_, bad := Start(ctx, "send task success")
		End(bad, &failure.TransientError{Op: "send task success", Err: errors.New("connection reset")})
		return 0, nil
	})
	if _, err := h(lambdaContext(testHeader), 0); err != nil {
		t.Fatal(err)
	}
	got := sink.receive(3)
	inv := got[2]
	wantStr(t, inv, "name", "callback")
	for i, name := range []string{"claim token", "send task success"} {
		wantStr(t, got[i], "name", name)
		wantStr(t, got[i], "type", "subsegment")
		wantStr(t, got[i], "parent_id", inv.str(t, "id"))
		wantStr(t, got[i], "trace_id", testRoot)
	}
	wantFlags(t, got[0], false, false, false)
	wantFlags(t, got[1], false, true, false)
	wantFlags(t, inv, false, false, false)
	if ex := exceptions(t, got[1]); ex[0]["type"] != "TransientError" {
		t.Errorf("exception = %v", ex[0])
	}
}

func TestWithoutDaemonNothingIsTracedButTraceIDWorks(t *testing.T) {
	t.Setenv(DaemonAddressEnv, "")
	t.Setenv(TraceHeaderEnv, "")
	p, err := Setup(context.Background(), "starter")
	if err != nil {
		t.Fatal(err)
	}
	h := Wrap(p, "starter", func(ctx context.Context, _ int) (string, error) {
		Annotate(ctx, KeyBuildARN, "x")
		Link(ctx, testRoot)
		_, span := Start(ctx, "child")
		End(span, errors.New("ignored"))
		if span.IsRecording() {
			t.Error("span records without a daemon")
		}
		return TraceID(ctx), nil
	})
	if got, _ := h(lambdaContext(testHeader), 0); got != testRoot {
		t.Errorf("TraceID = %q, want %q", got, testRoot)
	}
	if got, _ := h(lambdaContext(""), 0); got != "" {
		t.Errorf("TraceID without a header = %q, want empty", got)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	// A nil provider is usable too.
	var nilP *Provider
	if got, _ := Wrap(nilP, "x", func(ctx context.Context, _ int) (string, error) { return TraceID(ctx), nil })(lambdaContext(testHeader), 0); got != testRoot {
		t.Errorf("nil provider: TraceID = %q", got)
	}
}

func TestSetupRejectsBadAddress(t *testing.T) {
	t.Setenv(DaemonAddressEnv, "tcp:127.0.0.1:2000")
	_, err := Setup(context.Background(), "starter")
	var ae *AddressError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an *AddressError", err)
	}
}

// A span names a failure as Step Functions sees it, wrapped or not, and any other error
// by its Go type.
func TestErrorName(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&failure.InvalidTarget{}, "InvalidTarget"},
		{&failure.TransientError{}, "TransientError"},
		{fmt.Errorf("read: %w", &failure.TransientError{}), "TransientError"},
		{customString("x"), "customString"},
		{errors.New("x"), "errorString"},
	}
	for _, tc := range tests {
		if got := errorName(tc.err); got != tc.want {
			t.Errorf("errorName(%T) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

type customString string

func (c customString) Error() string { return string(c) }
