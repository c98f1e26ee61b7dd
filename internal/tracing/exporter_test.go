package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

var update = flag.Bool("update", false, "rewrite golden files")

// datagramWriter collects what an Exporter writes, one entry per Write.
type datagramWriter struct{ got [][]byte }

func (w *datagramWriter) Write(b []byte) (int, error) {
	w.got = append(w.got, append([]byte(nil), b...))
	return len(b), nil
}

var (
	stubTraceID = mustTraceID("5759e988bd862e3fe1be46a994272793")
	stubSpanID  = trace.SpanID{0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71}
	stubParent  = trace.SpanID{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8}
	stubStart   = time.Date(2026, 11, 26, 8, 0, 0, 123456000, time.UTC)
	stubEnd     = stubStart.Add(1500 * time.Millisecond)
)

func mustTraceID(h string) trace.TraceID {
	id, err := trace.TraceIDFromHex(h)
	if err != nil {
		panic(err)
	}
	return id
}

// stub returns a sampled, ended span under the Lambda parent; tests adjust it.
func stub(name string) tracetest.SpanStub {
	return tracetest.SpanStub{
		Name: name,
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: stubTraceID, SpanID: stubSpanID, TraceFlags: trace.FlagsSampled,
		}),
		Parent: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: stubTraceID, SpanID: stubParent, TraceFlags: trace.FlagsSampled, Remote: true,
		}),
		StartTime: stubStart,
		EndTime:   stubEnd,
	}
}

func awsCallStub(status int64, excType string) tracetest.SpanStub {
	s := stub("DynamoDB.GetItem")
	s.SpanKind = trace.SpanKindClient
	s.Attributes = []attribute.KeyValue{
		attribute.String(attrRPCSystem, rpcSystemAWS),
		attribute.String(attrRPCMethod, "DynamoDB/GetItem"),
		attribute.String(attrRegion, "eu-west-1"),
		attribute.String(attrRequestID, "REQ0123456789"),
		attribute.Int64(attrHTTPStatus, status),
	}
	if excType != "" {
		s.Status = sdktrace.Status{Code: codes.Error, Description: excType}
		s.Events = []sdktrace.Event{{Name: exceptionEvent, Attributes: []attribute.KeyValue{
			attribute.String(attrExcType, excType),
			attribute.String(attrExcMessage, "operation error DynamoDB: GetItem, "+excType),
		}}}
	}
	return s
}

func exportOne(t *testing.T, s tracetest.SpanStub) datagram {
	t.Helper()
	w := &datagramWriter{}
	if err := NewExporter(w).ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{s.Snapshot()}); err != nil {
		t.Fatalf("ExportSpans: %v", err)
	}
	if len(w.got) != 1 {
		t.Fatalf("wrote %d datagrams, want 1", len(w.got))
	}
	return parseDatagram(t, w.got[0])
}

func TestExporterDocuments(t *testing.T) {
	tests := []struct {
		name  string
		span  func() tracetest.SpanStub
		check func(t *testing.T, d datagram)
	}{
		{
			name: "invocation subsegment of the lambda segment",
			span: func() tracetest.SpanStub {
				s := stub("starter")
				s.SpanKind = trace.SpanKindServer
				s.Attributes = []attribute.KeyValue{
					attribute.String(annotationPrefix+KeyBuildARN, "arn:aws:codebuild:eu-west-1:222222222222:build/p:1"),
					attribute.String(annotationPrefix+KeyAccount, "222222222222"),
					attribute.String("faas.invocation_id", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"),
				}
				return s
			},
			check: func(t *testing.T, d datagram) {
				wantStr(t, d, "type", "subsegment")
				wantStr(t, d, "name", "starter")
				wantStr(t, d, "id", "0a1b2c3d4e5f6071")
				wantStr(t, d, "trace_id", testRoot)
				wantStr(t, d, "parent_id", testParent)
				wantNum(t, d, "start_time", 1795680000.123456)
				wantNum(t, d, "end_time", 1795680001.623456)
				wantStr(t, d, "annotations.build_arn", "arn:aws:codebuild:eu-west-1:222222222222:build/p:1")
				wantStr(t, d, "annotations.account", "222222222222")
				wantStr(t, d, "metadata.default.faas\\.invocation_id", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef")
				wantAbsent(t, d, "namespace", "error", "fault", "throttle", "cause", "aws", "http")
			},
		},
		{
			name: "span without parent is a segment",
			span: func() tracetest.SpanStub {
				s := stub("local run")
				s.Parent = trace.SpanContext{}
				return s
			},
			check: func(t *testing.T, d datagram) {
				wantAbsent(t, d, "type", "parent_id")
				wantStr(t, d, "name", "local run")
				wantStr(t, d, "trace_id", testRoot)
			},
		},
		{
			name: "aws call 200",
			span: func() tracetest.SpanStub { return awsCallStub(200, "") },
			check: func(t *testing.T, d datagram) {
				wantStr(t, d, "name", "DynamoDB")
				wantStr(t, d, "namespace", "aws")
				wantStr(t, d, "aws.operation", "GetItem")
				wantStr(t, d, "aws.region", "eu-west-1")
				wantStr(t, d, "aws.request_id", "REQ0123456789")
				wantNum(t, d, "http.response.status", 200)
				wantAbsent(t, d, "error", "fault", "throttle", "cause", "metadata")
			},
		},
		{
			name: "aws call 400 is an error with a remote exception",
			span: func() tracetest.SpanStub { return awsCallStub(400, "ValidationException") },
			check: func(t *testing.T, d datagram) {
				wantNum(t, d, "http.response.status", 400)
				wantFlags(t, d, true, false, false)
				ex := exceptions(t, d)
				if len(ex) != 1 || ex[0]["type"] != "ValidationException" || ex[0]["remote"] != true {
					t.Errorf("exceptions = %v", ex)
				}
				if id, _ := ex[0]["id"].(string); len(id) != 16 {
					t.Errorf("exception id = %q, want 16 hex digits", id)
				}
			},
		},
		{
			name:  "aws call 429 is a throttle",
			span:  func() tracetest.SpanStub { return awsCallStub(429, "ThrottlingException") },
			check: func(t *testing.T, d datagram) { wantFlags(t, d, true, false, true) },
		},
		{
			name:  "aws call 503 is a fault",
			span:  func() tracetest.SpanStub { return awsCallStub(503, "ServiceUnavailable") },
			check: func(t *testing.T, d datagram) { wantFlags(t, d, false, true, false) },
		},
		{
			name: "failed span without http status is a fault",
			span: func() tracetest.SpanStub {
				s := stub("starter")
				s.Status = sdktrace.Status{Code: codes.Error}
				s.Events = []sdktrace.Event{
					{Name: "log", Attributes: []attribute.KeyValue{attribute.String("x", "y")}},
					{Name: exceptionEvent, Attributes: []attribute.KeyValue{
						attribute.String(attrExcType, "InvalidTarget"),
						attribute.String(attrExcMessage, "target 0: region: must be a Region name"),
					}},
				}
				return s
			},
			check: func(t *testing.T, d datagram) {
				wantFlags(t, d, false, true, false)
				ex := exceptions(t, d)
				if len(ex) != 1 || ex[0]["type"] != "InvalidTarget" || ex[0]["message"] != "target 0: region: must be a Region name" {
					t.Errorf("exceptions = %v", ex)
				}
				if _, remote := ex[0]["remote"]; remote {
					t.Errorf("a local error is marked remote: %v", ex[0])
				}
			},
		},
		{
			name: "annotation keys and values are made indexable",
			span: func() tracetest.SpanStub {
				s := stub("callback")
				s.Attributes = []attribute.KeyValue{
					attribute.String(annotationPrefix+"build-arn x", "a"),
					attribute.Int64(annotationPrefix+"map_index", 3),
					attribute.Bool(annotationPrefix+"terminal", true),
					attribute.Float64(annotationPrefix+"ratio", 0.5),
					attribute.Float64(annotationPrefix+"nan", math.NaN()),
					attribute.StringSlice(annotationPrefix+"list", []string{"a", "b"}),
					attribute.Float64("load", math.Inf(1)),
				}
				return s
			},
			check: func(t *testing.T, d datagram) {
				wantStr(t, d, "annotations.build_arn_x", "a")
				wantNum(t, d, "annotations.map_index", 3)
				wantNum(t, d, "annotations.ratio", 0.5)
				if !d.flag(t, "annotations.terminal") {
					t.Error("annotations.terminal missing")
				}
				// values X-Ray cannot index go to metadata instead of being lost
				wantAbsent(t, d, "annotations.nan", "annotations.list")
				wantStr(t, d, "metadata.default.xray\\.annotation\\.nan", "NaN")
				wantStr(t, d, "metadata.default.load", "+Inf")
			},
		},
		{
			name: "names keep only characters X-Ray allows",
			span: func() tracetest.SpanStub { return stub("GET /builds?id=1 <x>") },
			check: func(t *testing.T, d datagram) {
				wantStr(t, d, "name", "GET /builds_id=1 _x_")
			},
		},
		{
			name: "end before start is clamped",
			span: func() tracetest.SpanStub {
				s := stub("clock")
				s.EndTime = s.StartTime.Add(-time.Second)
				return s
			},
			check: func(t *testing.T, d datagram) {
				if d.num(t, "end_time") != d.num(t, "start_time") {
					t.Errorf("end_time %v != start_time %v", d.num(t, "end_time"), d.num(t, "start_time"))
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, exportOne(t, tc.span()))
		})
	}
}

func TestExporterGolden(t *testing.T) {
	s := awsCallStub(400, "ValidationException")
	s.Attributes = append(s.Attributes,
		attribute.String(annotationPrefix+KeyExecutionARN, "arn:aws:states:eu-west-1:111111111111:execution:crossbuild:run-1"),
		attribute.String("net.peer.name", "dynamodb.eu-west-1.amazonaws.com"),
	)
	got := exportOne(t, s)
	path := filepath.Join("testdata", "golden", "aws_call_error.json")
	if *update {
		_, body, _ := bytes.Cut(got.raw, []byte("\n"))
		var out bytes.Buffer
		if err := json.Indent(&out, body, "", "  "); err != nil {
			t.Fatal(err)
		}
		out.WriteByte('\n')
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var want map[string]any
	readFixture(t, filepath.Join("golden", "aws_call_error.json"), &want)
	if !reflect.DeepEqual(got.doc, want) {
		t.Errorf("document differs from %s:\n got %s", path, got.raw)
	}
}

func TestExporterOversize(t *testing.T) {
	huge := strings.Repeat("é", 40_000) // 80 kB of UTF-8
	t.Run("metadata and long messages are dropped first", func(t *testing.T) {
		s := awsCallStub(500, "InternalServerError")
		s.Attributes = append(s.Attributes,
			attribute.String(annotationPrefix+KeyBuildARN, "arn:aws:codebuild:eu-west-1:222222222222:build/p:1"),
			attribute.String("response.body", huge),
		)
		for range 20 {
			s.Events = append(s.Events, sdktrace.Event{Name: exceptionEvent, Attributes: []attribute.KeyValue{
				attribute.String(attrExcType, "InternalServerError"), attribute.String(attrExcMessage, huge),
			}})
		}
		for i := range 100 {
			s.Attributes = append(s.Attributes, attribute.String(annotationPrefix+"extra"+strings.Repeat("x", i), huge))
		}
		d := exportOne(t, s)
		if len(d.raw) > MaxDatagramBytes {
			t.Fatalf("datagram of %d bytes, limit %d", len(d.raw), MaxDatagramBytes)
		}
		if !d.flag(t, "metadata.default.truncated") || d.has("metadata.default.response\\.body") {
			t.Errorf("metadata not replaced by the truncation marker: %.300s", d.raw)
		}
		wantStr(t, d, "annotations.build_arn", "arn:aws:codebuild:eu-west-1:222222222222:build/p:1")
		wantFlags(t, d, false, true, false)
		wantStr(t, d, "aws.operation", "GetItem")
	})
	t.Run("a span that cannot fit is reported, not sent", func(t *testing.T) {
		w := &datagramWriter{}
		e := NewExporter(w)
		e.limit = 280
		small := stub("fits")
		big := awsCallStub(500, "InternalServerError")
		err := e.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{big.Snapshot(), small.Snapshot()})
		var tl *TooLargeError
		if !errors.As(err, &tl) || tl.Limit != 280 {
			t.Fatalf("err = %v, want a *TooLargeError", err)
		}
		if len(w.got) != 1 || !bytes.Contains(w.got[0], []byte(`"name":"fits"`)) {
			t.Fatalf("sent %q, want only the small span", w.got)
		}
	})
}

func TestExporterSkipsUnsampledAndStopsAfterShutdown(t *testing.T) {
	w := &datagramWriter{}
	e := NewExporter(w)
	unsampled := stub("dropped")
	unsampled.SpanContext = unsampled.SpanContext.WithTraceFlags(0)
	if err := e.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{unsampled.Snapshot()}); err != nil {
		t.Fatal(err)
	}
	if len(w.got) != 0 {
		t.Fatalf("unsampled span sent: %q", w.got)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := e.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{stub("late").Snapshot()})
	if !errors.Is(err, ErrExporterShutdown) || len(w.got) != 0 {
		t.Fatalf("after shutdown: err = %v, sent %d", err, len(w.got))
	}
}

func TestDialExporterSendsUDP(t *testing.T) {
	sink := newUDPSink(t)
	e, err := DialExporter("tcp:127.0.0.1:1 udp:" + sink.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	spans := []sdktrace.ReadOnlySpan{stub("one").Snapshot(), awsCallStub(200, "").Snapshot()}
	if err := e.ExportSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	got := sink.receive(2)
	wantStr(t, got[0], "name", "one")
	wantStr(t, got[1], "name", "DynamoDB")
}

func wantStr(t *testing.T, d datagram, path, want string) {
	t.Helper()
	if got := d.str(t, path); got != want {
		t.Errorf("%s = %q, want %q", path, got, want)
	}
}

func wantNum(t *testing.T, d datagram, path string, want float64) {
	t.Helper()
	if got := d.num(t, path); math.Abs(got-want) > 1e-6 {
		t.Errorf("%s = %f, want %f", path, got, want)
	}
}

func wantAbsent(t *testing.T, d datagram, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if d.has(p) {
			t.Errorf("%s present in %s", p, d.raw)
		}
	}
}

func wantFlags(t *testing.T, d datagram, isError, fault, throttle bool) {
	t.Helper()
	if d.flag(t, "error") != isError || d.flag(t, "fault") != fault || d.flag(t, "throttle") != throttle {
		t.Errorf("error/fault/throttle = %v/%v/%v, want %v/%v/%v in %s",
			d.flag(t, "error"), d.flag(t, "fault"), d.flag(t, "throttle"), isError, fault, throttle, d.raw)
	}
}

func exceptions(t *testing.T, d datagram) []map[string]any {
	t.Helper()
	v, ok := d.get("cause.exceptions")
	list, _ := v.([]any)
	if !ok || len(list) == 0 {
		t.Fatalf("no cause.exceptions in %s", d.raw)
	}
	out := make([]map[string]any, len(list))
	for i, e := range list {
		out[i], _ = e.(map[string]any)
	}
	return out
}
