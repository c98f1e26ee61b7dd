package eventbridge

import (
	"testing"
	"time"
)

// The default backoff grows from about a second to a ceiling of 3 minutes,
// with jitter over the upper half of each step.
func TestDefaultBackoff(t *testing.T) {
	cases := []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 500 * time.Millisecond, time.Second},
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{5, 8 * time.Second, 16 * time.Second},
		{9, 90 * time.Second, 3 * time.Minute},
		{185, 90 * time.Second, 3 * time.Minute},
		{1 << 30, 90 * time.Second, 3 * time.Minute},
	}
	for _, tc := range cases {
		for range 50 {
			if d := defaultBackoff(tc.attempt); d < tc.min || d > tc.max {
				t.Fatalf("defaultBackoff(%d) = %s, want %s..%s", tc.attempt, d, tc.min, tc.max)
			}
		}
	}
}

func TestInputPath(t *testing.T) {
	doc := map[string]any{"detail": map[string]any{"build-status": "SUCCEEDED"}, "id": "x"}
	cases := []struct {
		path    string
		want    any
		wantErr bool
	}{
		{"$.detail.build-status", "SUCCEEDED", false},
		{"$.id", "x", false},
		{"$.detail.missing", nil, true},
		{"$.id.deeper", nil, true},
	}
	for _, tc := range cases {
		p, err := parseInputPath(tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		got, err := p.apply(doc)
		if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
			t.Errorf("%s = %v, %v", tc.path, got, err)
		}
	}
	whole, err := parseInputPath("$")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := whole.apply(doc); err != nil || got.(map[string]any)["id"] != "x" {
		t.Errorf("$ = %v, %v", got, err)
	}
	for _, bad := range []string{"", "detail", "$.", "$..detail", "$.a[0]", "$.*", "$['a']"} {
		if _, err := parseInputPath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
