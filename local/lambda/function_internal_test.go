package lambda

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func executable(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNormalize(t *testing.T) {
	boot := executable(t)
	notExec := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(notExec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	valid := Function{Name: "starter", Account: "111111111111", Region: "eu-west-1", Bootstrap: boot}

	got, err := valid.normalize()
	if err != nil {
		t.Fatalf("normalize: %v", err)
	}
	if got.ARN != "arn:aws:lambda:eu-west-1:111111111111:function:starter" || got.Timeout != 3*time.Second ||
		got.MemoryMB != 128 || got.Concurrency != 1 {
		t.Errorf("defaults: %+v", got)
	}

	for _, tc := range []struct {
		name   string
		change func(*Function)
		want   string
	}{
		{"bad name", func(f *Function) { f.Name = "a b" }, "name"},
		{"bad account", func(f *Function) { f.Account = "1234" }, "account"},
		{"bad region", func(f *Function) { f.Region = "Europe" }, "region"},
		{"other ARN", func(f *Function) { f.ARN = "arn:aws:lambda:eu-west-1:111111111111:function:other" }, "does not match"},
		{"fractional timeout", func(f *Function) { f.Timeout = 1500 * time.Millisecond }, "timeout"},
		{"long timeout", func(f *Function) { f.Timeout = 901 * time.Second }, "timeout"},
		{"small memory", func(f *Function) { f.MemoryMB = 64 }, "memory"},
		{"negative concurrency", func(f *Function) { f.Concurrency = -1 }, "concurrency"},
		{"missing bootstrap", func(f *Function) { f.Bootstrap = filepath.Join(t.TempDir(), "none") }, "bootstrap"},
		{"bootstrap not executable", func(f *Function) { f.Bootstrap = notExec }, "not an executable"},
		{"reserved by Lambda", func(f *Function) { f.Env = map[string]string{"AWS_REGION": "us-east-1", "_HANDLER": "x"} }, "AWS_REGION (set by Lambda), _HANDLER (set by Lambda)"},
		{"reserved by the emulator", func(f *Function) { f.Env = map[string]string{"AWS_LAMBDA_MAX_CONCURRENCY": "4"} }, "AWS_LAMBDA_MAX_CONCURRENCY (set by the emulator)"},
		{"bad variable name", func(f *Function) { f.Env = map[string]string{"A=B": "x"} }, "not a valid name"},
	} {
		f := valid
		tc.change(&f)
		if _, err := f.normalize(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}

	// Credentials and logging settings may be given: they stand for the execution role
	// and the function's logging configuration.
	f := valid
	f.Env = map[string]string{"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}
	if _, err := f.normalize(); err != nil {
		t.Errorf("credentials in Env: %v", err)
	}
}

func TestProcessEnvPutsLambdaLast(t *testing.T) {
	f, err := Function{Name: "fn", Account: "111111111111", Region: "eu-west-1", Bootstrap: executable(t),
		Env: map[string]string{"LOG_FORMAT_OVERRIDE": "x", "AWS_LAMBDA_LOG_FORMAT": "Text", "TZ": "Europe/Paris"}}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range f.processEnv("2026/01/01/[$LATEST]abc") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, want := range map[string]string{
		"AWS_LAMBDA_LOG_FORMAT":      "Text", // the function's logging configuration wins over the default
		"TZ":                         "Europe/Paris",
		"AWS_LAMBDA_FUNCTION_NAME":   "fn",
		"AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]abc",
		"AWS_EC2_METADATA_DISABLED":  "true",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	if _, ok := env["HOME"]; ok {
		t.Error("HOME is passed on from the host")
	}
}

func TestParseFunctionRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want functionRef
		bad  bool
	}{
		{in: "starter", want: functionRef{Name: "starter"}},
		{in: "starter:$LATEST", want: functionRef{Name: "starter", Qualifier: "$LATEST"}},
		{in: "111111111111:function:starter", want: functionRef{Name: "starter", Account: "111111111111"}},
		{in: "arn:aws:lambda:eu-west-1:111111111111:function:starter", want: functionRef{Name: "starter", Account: "111111111111", Region: "eu-west-1"}},
		{in: "arn:aws:lambda:eu-west-1:111111111111:function:starter:prod", want: functionRef{Name: "starter", Account: "111111111111", Region: "eu-west-1", Qualifier: "prod"}},
		{in: "arn:aws-cn:lambda:cn-north-1:111111111111:function:starter", bad: true},
		{in: "arn:aws:sqs:eu-west-1:111111111111:queue", bad: true},
		{in: "12:function:starter", bad: true},
		{in: "", bad: true},
		{in: "a/b", bad: true},
	} {
		got, err := parseFunctionRef(tc.in)
		if (err != nil) != tc.bad || !tc.bad && got != tc.want {
			t.Errorf("parseFunctionRef(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestInvocationTraceHeader(t *testing.T) {
	now := time.Unix(0x5759e988, 0)
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	for _, tc := range []struct {
		in     string
		active bool
		want   string
	}{
		{"Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1", false, `^Root=` + root + `;Parent=[0-9a-f]{16};Sampled=1$`},
		{"Root=" + root + ";Sampled=0;Lineage=a87bd80c:1", true, `^Root=` + root + `;Parent=[0-9a-f]{16};Sampled=0;Lineage=a87bd80c:1$`},
		{"Root=" + root, true, `^Root=` + root + `;Parent=[0-9a-f]{16};Sampled=1$`},
		{"", false, `^Root=1-5759e988-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`},
		{"", true, `^Root=1-5759e988-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$`},
		{"Root=garbage;Sampled=1", false, `^Root=1-5759e988-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`},
	} {
		if got := invocationTraceHeader(tc.in, tc.active, now); !regexp.MustCompile(tc.want).MatchString(got) {
			t.Errorf("invocationTraceHeader(%q, %v) = %q, want %s", tc.in, tc.active, got, tc.want)
		}
	}
}

func TestParseFunctionError(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *FunctionError
	}{
		{`{"errorType":"MyError","errorMessage":"boom"}`, &FunctionError{Type: "MyError", Message: "boom"}},
		{`{"errorMessage":"2026-01-01 Task timed out"}`, &FunctionError{Message: "2026-01-01 Task timed out"}},
		{`{"result":1}`, nil},
		{`Task timed out after 1.00 seconds`, nil},
		{`"errorType"`, nil},
	} {
		got, ok := parseFunctionError([]byte(tc.in))
		if ok != (tc.want != nil) || ok && *got != *tc.want {
			t.Errorf("parseFunctionError(%s) = %+v, %v", tc.in, got, ok)
		}
	}
}
