package asl

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDotNamesToBrackets(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"$", "$"},
		{"$.a.b", "$.a.b"},
		{"$.detail.build-id", "$.detail['build-id']"},
		{"$..build-id", "$..['build-id']"},
		{"$.a[0].b-c", "$.a[0]['b-c']"},
		{"$['x.y'].z", "$['x.y'].z"},
		{"$.a[?(@.b-c == 1)]", "$.a[?(@.b-c == 1)]"},
		{"$.1st", "$['1st']"},
		{"$.it's", `$['it\'s']`},
		{"$.*", "$.*"},
	} {
		if got := dotNamesToBrackets(tc.in); got != tc.want {
			t.Errorf("dotNamesToBrackets(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPathKinds(t *testing.T) {
	for _, tc := range []struct {
		path      string
		singular  bool
		reference bool
	}{
		{"$", true, true},
		{"$.a.b[2]", true, true},
		{"$['a b']", true, true},
		{"$.a[*]", false, false},
		{"$..a", false, false},
		{"$.a[1:3]", false, false},
		{"$.a[?(@.x)]", false, false},
		{"$$.Execution.Id", true, false},
	} {
		p, err := parsePath(tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if p.singular != tc.singular {
			t.Errorf("%s: singular %v, want %v", tc.path, p.singular, tc.singular)
		}
		_, err = parseReferencePath(tc.path)
		if (err == nil) != tc.reference {
			t.Errorf("%s: reference path error %v, want reference=%v", tc.path, err, tc.reference)
		}
	}
	for _, bad := range []string{"", "a.b", "$.a[", "$$$", "$.a..", "$.a b"} {
		if _, err := parsePath(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestWildcardMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"log-*.txt", "log-2024.txt", true},
		{"log-*.txt", "log-2024.json", false},
		{"*.log", "a.log.gz", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{`a\*b`, "a*b", true},
		{`a\*b`, "aXb", false},
		{`a\\b`, `a\b`, true},
		{"", "", true},
		{"", "x", false},
		{"**", "x", true},
		{"héllo*", "héllo wörld", true},
	} {
		if got := wildcardMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	r := &retrier{interval: 2, backoff: 2, maxDelay: 10}
	var got []time.Duration
	for i := int64(0); i < 5; i++ {
		got = append(got, r.delay(i, func() float64 { return 0.5 }))
	}
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("delay %d = %v, want %v", i, got[i], want[i])
		}
	}
	r.fullJitter = true
	if d := r.delay(1, func() float64 { return 0.25 }); d != time.Second {
		t.Errorf("jittered delay %v, want 1s", d)
	}
	// A huge backoff stays finite.
	r = &retrier{interval: 99999999, backoff: 99999, maxDelay: 0}
	if d := r.delay(1000, func() float64 { return 0 }); d <= 0 || d > maxRetryDelay*time.Second {
		t.Errorf("unbounded delay %v", d)
	}
}

func TestErrorMatching(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"States.ALL", "Anything", true},
		{"States.ALL", ErrorTimeout, true},
		{"States.ALL", ErrorDataLimitExceeded, false},
		{"States.TaskFailed", "InvalidTarget", true},
		{"States.TaskFailed", ErrorTimeout, false},
		{"States.TaskFailed", ErrorHeartbeatTimeout, false},
		{"States.Timeout", ErrorHeartbeatTimeout, true},
		{"States.HeartbeatTimeout", ErrorTimeout, false},
		{"InvalidTarget", "InvalidTarget", true},
		{"InvalidTarget", "invalidtarget", false},
		{ErrorDataLimitExceeded, ErrorDataLimitExceeded, true},
	} {
		if got := errorMatches(tc.pattern, tc.name); got != tc.want {
			t.Errorf("errorMatches(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestIntrinsicParser(t *testing.T) {
	for _, tc := range []struct {
		src  string
		args int
		err  string
	}{
		{"States.UUID()", 0, ""},
		{"States.Format('a\\'b', 1)", 2, ""},
		{"States.Format('x', $.a[?(@.b == 'c,d')].e)", 2, ""},
		{"States.Array(-1.5e3, true, false, null, 'x')", 5, ""},
		{"States.Array($['a,b'], $.c)", 2, ""},
		{"States.Format('{}', States.Array(1))", 2, ""},
		{"States.Format(", 0, "unexpected end"},
		{"States.Format('x' 'y')", 0, "expected ','"},
		{"States.Array(1,)", 0, "expected an argument"},
		{"States.Array(1) x", 0, "unexpected"},
		{"States.Array(01x)", 0, "invalid number"},
		{"States.Array(nul)", 0, "expected an argument"},
		{"States.ArrayLength()", 0, "takes 1 arguments"},
		{"States.Foo()", 0, "unknown function"},
		{"States.Format('a\\", 0, "unterminated"},
	} {
		call, err := parseIntrinsic(tc.src)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.src, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one containing %q", tc.src, err, tc.err)
		case tc.err == "" && len(call.args) != tc.args:
			t.Errorf("%s: %d args, want %d", tc.src, len(call.args), tc.args)
		}
	}
}

func TestIntrinsicStringEscapes(t *testing.T) {
	call, err := parseIntrinsic(`States.Format('\{\} \'q\' \\ {}', 'it\'s')`)
	if err != nil {
		t.Fatal(err)
	}
	v, err := call.eval(&intrinsicEnv{rand: func() float64 { return 0 }, uuid: NewUUID})
	if err != nil {
		t.Fatal(err)
	}
	if v != `{} 'q' \ it's` {
		t.Fatalf("got %q", v)
	}
}

func TestNewUUIDFormat(t *testing.T) {
	u := NewUUID()
	if len(u) != 36 || u[14] != '4' || strings.Count(u, "-") != 4 || !strings.ContainsAny(u[19:20], "89ab") {
		t.Fatalf("not a version 4 UUID: %s", u)
	}
}

func TestParseRejectsNonObjects(t *testing.T) {
	for _, def := range []string{``, `[]`, `null`, `"x"`, `{"StartAt": "P", "States": []}`, `{"StartAt": 1, "States": {}}`} {
		if _, err := Parse([]byte(def)); err == nil {
			t.Errorf("%q parsed", def)
		}
	}
	d := mustParse(t, `{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}, "TimeoutSeconds": 60}`)
	if d.StartAt() != "P" || d.TimeoutSeconds != 60 || !json.Valid([]byte(d.Source())) {
		t.Fatalf("got %+v", d)
	}
}
