package eventbridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/local/eventbridge"
	"github.com/crossbuild/crossbuild/local/localaws"
)

// fakeEvaluator understands just enough of a resource policy for these
// tests: Allow statements, Principal "*" or {"AWS": account, account root
// ARN or role ARN}, Action and Resource by equality, and StringEquals
// conditions. Anything else does not match, so it fails closed.
type fakeEvaluator struct {
	mu    sync.Mutex
	calls []evalCall
}

type evalCall struct {
	Principal localaws.Principal
	Action    string
	Resource  string
	Context   map[string][]string
}

type fakeStatement struct {
	Effect    string
	Principal json.RawMessage
	Action    json.RawMessage
	Resource  json.RawMessage
	Condition map[string]map[string]json.RawMessage
}

func (f *fakeEvaluator) Allows(policy json.RawMessage, p localaws.Principal, action, resource string, ctx map[string][]string) (bool, string) {
	f.mu.Lock()
	f.calls = append(f.calls, evalCall{Principal: p, Action: action, Resource: resource, Context: ctx})
	f.mu.Unlock()
	var doc struct{ Statement []fakeStatement }
	if err := json.Unmarshal(policy, &doc); err != nil {
		return false, "policy does not parse: " + err.Error()
	}
	for i, st := range doc.Statement {
		if st.Effect == "Allow" && principalMatches(st.Principal, p) && slices.Contains(stringList(st.Action), action) &&
			slices.Contains(stringList(st.Resource), resource) && conditionsHold(st.Condition, ctx) {
			return true, fmt.Sprintf("allowed by statement %d", i)
		}
	}
	return false, "no statement allows it"
}

func (f *fakeEvaluator) lastCall(t *testing.T) evalCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("the policy evaluator was never called")
	}
	return f.calls[len(f.calls)-1]
}

func principalMatches(raw json.RawMessage, p localaws.Principal) bool {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		return star == "*"
	}
	var aws struct{ AWS json.RawMessage }
	if json.Unmarshal(raw, &aws) != nil {
		return false
	}
	for _, v := range stringList(aws.AWS) {
		if v == "*" || v == p.Account || v == "arn:aws:iam::"+p.Account+":root" || v == p.RoleARN {
			return true
		}
	}
	return false
}

func conditionsHold(cond map[string]map[string]json.RawMessage, ctx map[string][]string) bool {
	for op, keys := range cond {
		if op != "StringEquals" {
			return false
		}
		for key, want := range keys {
			ok := false
			for _, v := range ctx[key] {
				ok = ok || slices.Contains(stringList(want), v)
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

func stringList(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(raw, &many)
	return many
}

// fakeLambda records invocations and fails as told, per function ARN: a
// number fails that many first calls (-1: all), a string fails every call
// with that EventBridge error code, not retryable.
type fakeLambda struct {
	mu       sync.Mutex
	failures map[string]any
	calls    map[string]int
	payloads map[string][]json.RawMessage // successful invocations only
}

func newFakeLambda(failures map[string]any) *fakeLambda {
	return &fakeLambda{failures: failures, calls: map[string]int{}, payloads: map[string][]json.RawMessage{}}
}

func (l *fakeLambda) InvokeAsync(_ context.Context, arn string, payload []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls[arn]++
	switch f := l.failures[arn].(type) {
	case float64:
		if f < 0 || float64(l.calls[arn]) <= f {
			return errors.New("function error: Unhandled")
		}
	case string:
		return &eventbridge.TargetError{Code: f, Err: errors.New("function not found")}
	}
	l.payloads[arn] = append(l.payloads[arn], append(json.RawMessage(nil), payload...))
	return nil
}

func (l *fakeLambda) snapshot() (calls map[string]int, payloads map[string][]json.RawMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	calls = map[string]int{}
	for k, v := range l.calls {
		calls[k] = v
	}
	payloads = map[string][]json.RawMessage{}
	for k, v := range l.payloads {
		payloads[k] = slices.Clone(v)
	}
	return calls, payloads
}

// tinyBackoff keeps retries fast.
func tinyBackoff(int) time.Duration { return time.Millisecond }

func quietLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// idle waits, bounded, until no delivery is in flight.
func idle(t *testing.T, s *eventbridge.Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Idle(ctx); err != nil {
		t.Fatal(err)
	}
}

func closeService(t *testing.T, s *eventbridge.Service) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func readFixture(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("invalid JSON %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// expectedJSON resolves an expectation: a string naming a file under
// testdata/events, or an inline JSON value.
func expectedJSON(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	var name string
	if json.Unmarshal(raw, &name) == nil && strings.HasSuffix(name, ".json") {
		return readFixture(t, filepath.Join("events", name))
	}
	return raw
}

// matchAll pairs got and want payloads regardless of order (delivery is
// unordered) and reports what is left over.
func matchAll(t *testing.T, got []json.RawMessage, want [][]byte) (missing, unexpected []string) {
	t.Helper()
	left := slices.Clone(got)
	for _, w := range want {
		i := slices.IndexFunc(left, func(g json.RawMessage) bool { return sameJSON(t, g, w) })
		if i < 0 {
			missing = append(missing, string(bytes.TrimSpace(w)))
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
	for _, g := range left {
		unexpected = append(unexpected, string(g))
	}
	return missing, unexpected
}
