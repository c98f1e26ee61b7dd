package stacks

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/infra/config"
	"github.com/crossbuild/crossbuild/infra/statemachine"
)

// mermaid returns the mermaid blocks of docs/architecture.md that start with kind.
func mermaid(t *testing.T, kind string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, block := range strings.Split(string(raw), "```mermaid\n")[1:] {
		block = block[:strings.Index(block, "```")]
		if strings.HasPrefix(block, kind) {
			out = append(out, block)
		}
	}
	if len(out) == 0 {
		t.Fatalf("docs/architecture.md has no %s diagram", kind)
	}
	return strings.Join(out, "\n")
}

// TestArchitectureDiagram: the flowchart of docs/architecture.md shows every function the
// source stack deploys, its indexes, the outputs the crossbuild command reads, and the
// dashboard.
func TestArchitectureDiagram(t *testing.T) {
	flow := mermaid(t, "flowchart")
	tmpl := accountsApp.json[config.SourceStackName]
	resources := tmpl["Resources"].(map[string]any)
	functions := 0
	for id, r := range resources {
		r := r.(map[string]any)
		props, _ := r["Properties"].(map[string]any)
		switch r["Type"] {
		case "AWS::Lambda::Function":
			name, _ := props["FunctionName"].(string)
			if !strings.HasPrefix(name, "crossbuild-") {
				continue // CDK's own helpers (log retention, custom resources)
			}
			functions++
			if node := strings.TrimPrefix(name, "crossbuild-") + " λ"; !strings.Contains(flow, node) {
				t.Errorf("the architecture diagram has no %q (function %s, %s)", node, name, id)
			}
		case "AWS::DynamoDB::Table":
			for _, gsi := range props["GlobalSecondaryIndexes"].([]any) {
				if index := gsi.(map[string]any)["IndexName"].(string); !strings.Contains(flow, index) {
					t.Errorf("the architecture diagram does not name the index %s", index)
				}
			}
		case "AWS::CloudWatch::Dashboard":
			if !strings.Contains(flow, "dashboard crossbuild-REGION") {
				t.Error("the architecture diagram has no dashboard")
			}
		}
	}
	if functions != len(Functions) {
		t.Errorf("%d crossbuild functions in the template, %d in Functions", functions, len(Functions))
	}
	for key := range tmpl["Outputs"].(map[string]any) {
		if !strings.Contains(flow, key) {
			t.Errorf("the architecture diagram does not show the output %s", key)
		}
	}
}

// TestStateDiagram: the state diagram of docs/architecture.md has a state for every state
// of the definition, described by its name, and an arrow for every transition (Next,
// Default, a choice, a catch).
func TestStateDiagram(t *testing.T) {
	diagram := mermaid(t, "stateDiagram")
	ids := map[string]string{} // state name -> diagram id
	describe := regexp.MustCompile(`(?m)^\s*(\w+): (.+)$`)
	for _, m := range describe.FindAllStringSubmatch(diagram, -1) {
		ids[m[2]] = m[1]
		if i := strings.Index(m[2], " ("); i > 0 {
			ids[m[2][:i]] = m[1]
		}
	}
	edges := map[[2]string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(\w+|\[\*\]) --> (\w+|\[\*\])`).FindAllStringSubmatch(diagram, -1) {
		edges[[2]string{m[1], m[2]}] = true
	}
	def, err := statemachine.Build(statemachine.Params{
		PlannerARN: "planner", StarterARN: "starter", PollerARN: "poller", SummariserARN: "summariser", CancellerARN: "canceller",
	})
	if err != nil {
		t.Fatal(err)
	}
	var walk func(states map[string]any)
	walk = func(states map[string]any) {
		for _, name := range slices.Sorted(maps.Keys(states)) {
			state := states[name].(map[string]any)
			from, ok := ids[name]
			if !ok {
				t.Errorf("the state diagram has no state described as %q", name)
				continue
			}
			for _, next := range transitions(state) {
				if to, ok := ids[next]; ok && !edges[[2]string{from, to}] {
					t.Errorf("the state diagram has no arrow %s --> %s (%q to %q)", from, to, name, next)
				}
			}
			if p, ok := state["ItemProcessor"].(map[string]any); ok {
				walk(p["States"].(map[string]any))
			}
		}
	}
	walk(def["States"].(map[string]any))
}

// transitions are the states a state may go to: every Next and Default in it (its own,
// its choices', its catchers'), not those of a Map's inner states.
func transitions(state map[string]any) []string {
	var out []string
	var visit func(v any)
	visit = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if name, ok := x.(string); ok && (k == "Next" || k == "Default") {
					out = append(out, name)
				} else if k != "ItemProcessor" {
					visit(x)
				}
			}
		case []any:
			for _, x := range v {
				visit(x)
			}
		}
	}
	visit(state)
	return out
}
