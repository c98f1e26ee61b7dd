package eventbridge_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/local/eventbridge"
	"github.com/crossbuild/crossbuild/local/eventpattern"
)

// AddRule refuses what EventBridge would refuse, and what this stand-in
// cannot emulate, with an error naming the rule and the field.
func TestAddRuleErrors(t *testing.T) {
	var cases []struct {
		Name                    string
		Rule                    flowRule
		WantError               string
		WantUnsupportedOperator string
	}
	if err := json.Unmarshal(readFixture(t, "invalid-rules.json"), &cases); err != nil {
		t.Fatal(err)
	}
	s := eventbridge.New(eventbridge.Options{Logger: quietLogger(t)})
	defer closeService(t, s)
	mustAddBus(t, s, eventbridge.Bus{Account: "111111111111", Region: "eu-west-1", Name: "crossbuild"})
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			r := tc.Rule.rule()
			// A pattern given as a JSON string stands for raw, possibly broken, text.
			var text string
			if json.Unmarshal(r.Pattern, &text) == nil {
				r.Pattern = json.RawMessage(text)
			}
			err := s.AddRule(r)
			if err == nil {
				t.Fatalf("AddRule accepted %+v", r)
			}
			if !strings.Contains(err.Error(), tc.WantError) {
				t.Errorf("error %q does not contain %q", err, tc.WantError)
			}
			var ce *eventbridge.ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *ConfigError", err)
			}
			var uo *eventpattern.UnsupportedOperatorError
			if got := errors.As(err, &uo); got != (tc.WantUnsupportedOperator != "") || (got && uo.Operator != tc.WantUnsupportedOperator) {
				t.Errorf("unsupported operator error: %v (%+v), want %q", got, uo, tc.WantUnsupportedOperator)
			}
		})
	}
}

func TestAddBus(t *testing.T) {
	s := eventbridge.New(eventbridge.Options{Logger: quietLogger(t)})
	defer closeService(t, s)
	cases := []struct {
		name    string
		bus     eventbridge.Bus
		wantErr string
	}{
		{"custom bus", eventbridge.Bus{Account: "111111111111", Region: "eu-west-1", Name: "crossbuild"}, ""},
		{"same custom bus again", eventbridge.Bus{Account: "111111111111", Region: "eu-west-1", Name: "crossbuild"}, "already exists"},
		{"default bus policy", eventbridge.Bus{Account: "111111111111", Region: "eu-west-1", Name: "default", Policy: json.RawMessage(`{"Statement":[]}`)}, ""},
		{"default bus policy again", eventbridge.Bus{Account: "111111111111", Region: "eu-west-1", Name: "default", Policy: json.RawMessage(`{"Statement":[]}`)}, ""},
		{"policy not an object", eventbridge.Bus{Account: "111111111111", Region: "eu-west-1", Name: "b2", Policy: json.RawMessage(`[1]`)}, "Policy: not a JSON object"},
		{"bad account", eventbridge.Bus{Account: "1111", Region: "eu-west-1", Name: "b3"}, "12-digit"},
		{"bad region", eventbridge.Bus{Account: "111111111111", Region: "Europe", Name: "b4"}, "Region"},
		{"bad name", eventbridge.Bus{Account: "111111111111", Region: "eu-west-1", Name: "a b"}, "name"},
	}
	for _, tc := range cases {
		err := s.AddBus(tc.bus)
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: AddBus = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}
