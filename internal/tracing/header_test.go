package tracing

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTraceHeader(t *testing.T) {
	for _, tc := range headerCases(t) {
		t.Run(tc.Name, func(t *testing.T) {
			h, err := ParseTraceHeader(tc.Header)
			if !tc.Valid {
				var he *HeaderError
				if !errors.As(err, &he) {
					t.Fatalf("err = %v, want a *HeaderError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTraceHeader: %v", err)
			}
			if got := h.TraceID.String(); got != tc.OTelTraceID {
				t.Errorf("OTel trace id = %s, want %s", got, tc.OTelTraceID)
			}
			if got := XRayTraceID(h.TraceID); got != tc.Root {
				t.Errorf("X-Ray trace id = %s, want %s", got, tc.Root)
			}
			if got := h.ParentID.String(); got != tc.Parent {
				t.Errorf("parent = %s, want %s", got, tc.Parent)
			}
			if h.Sampled != tc.Sampled {
				t.Errorf("sampled = %v, want %v", h.Sampled, tc.Sampled)
			}
			sc := h.SpanContext()
			if !sc.IsRemote() || sc.IsSampled() != tc.Sampled || sc.SpanID() != h.ParentID {
				t.Errorf("span context = %+v", sc)
			}
			// String renders what ParseTraceHeader reads back.
			again, err := ParseTraceHeader(h.String())
			if err != nil || again != h {
				t.Errorf("round trip of %q = %+v, %v", h.String(), again, err)
			}
		})
	}
}

func TestParseTraceHeaderTooLong(t *testing.T) {
	long := testHeader + ";Pad=" + strings.Repeat("x", 2000)
	var he *HeaderError
	if _, err := ParseTraceHeader(long); !errors.As(err, &he) || he.Field != "header" {
		t.Fatalf("err = %v, want a header length error", err)
	}
}

func TestXRayTraceIDMapping(t *testing.T) {
	tests := []struct {
		xray string
		otel string
	}{
		{"1-5759e988-bd862e3fe1be46a994272793", "5759e988bd862e3fe1be46a994272793"},
		{"1-6745a1b0-000000000000000000000001", "6745a1b0000000000000000000000001"},
		{"1-00000000-000000000000000000000001", "00000000000000000000000000000001"},
	}
	for _, tc := range tests {
		id, err := ParseXRayTraceID(tc.xray)
		if err != nil {
			t.Fatalf("ParseXRayTraceID(%s): %v", tc.xray, err)
		}
		if id.String() != tc.otel {
			t.Errorf("%s -> %s, want %s", tc.xray, id, tc.otel)
		}
		if got := XRayTraceID(id); got != tc.xray {
			t.Errorf("%s -> %s, want %s", tc.otel, got, tc.xray)
		}
	}
}

func FuzzParseTraceHeader(f *testing.F) {
	f.Add(testHeader)
	f.Add("Root=1-;Parent=;Sampled=")
	f.Add("Root=1-5759e988-bd862e3fe1be46a99427279\xff;Parent=53995c3f42cd8ad8")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseTraceHeader(s)
		if err != nil {
			return
		}
		if !h.TraceID.IsValid() || !h.ParentID.IsValid() {
			t.Fatalf("accepted invalid ids from %q: %+v", s, h)
		}
	})
}
