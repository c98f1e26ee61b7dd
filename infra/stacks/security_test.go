package stacks

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/infra/config"
)

// iamRow is one row of the IAM table of docs/security.md.
type iamRow struct {
	names      []string // backticked words of the role column: role name or logical id prefix
	target     bool     // in the target stacks, not the source stack
	actions    []string
	conditions []string
}

var (
	backticked   = regexp.MustCompile("`([^`]+)`")
	actionLike   = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z*]+$`)
	conditionKey = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z]+$`)
)

func ticked(col string, keep *regexp.Regexp) []string {
	var out []string
	for _, m := range backticked.FindAllStringSubmatch(col, -1) {
		if keep == nil || keep.MatchString(m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// securityIAMTable reads the table under "## IAM roles" of docs/security.md.
func securityIAMTable(t *testing.T) []iamRow {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "security.md"))
	if err != nil {
		t.Fatalf("open docs/security.md: %v", err)
	}
	defer f.Close()
	var rows []iamRow
	in := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = strings.TrimSpace(line) == "## IAM roles"
			continue
		}
		cols := strings.Split(line, "|")
		if !in || len(cols) != 9 || strings.HasPrefix(strings.TrimSpace(cols[1]), "---") || strings.TrimSpace(cols[1]) == "role" {
			continue
		}
		rows = append(rows, iamRow{
			names:      ticked(cols[1], nil),
			target:     strings.HasPrefix(strings.TrimSpace(cols[2]), "target"),
			actions:    ticked(cols[4], actionLike),
			conditions: ticked(cols[6], conditionKey),
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("no rows in the IAM table of docs/security.md")
	}
	return rows
}

// rolePermissions collects a role's actions (trust excluded) and the condition keys of its
// trust and identity policies.
func rolePermissions(tpl map[string]any, id string, role map[string]any) (actions, conditions []string) {
	props := role["Properties"].(map[string]any)
	addConditions := func(st map[string]any) {
		cond, _ := st["Condition"].(map[string]any)
		for _, byKey := range cond {
			for k := range byKey.(map[string]any) {
				conditions = append(conditions, k)
			}
		}
	}
	addDoc := func(doc any) {
		for _, raw := range doc.(map[string]any)["Statement"].([]any) {
			st := raw.(map[string]any)
			actions = append(actions, strList(st["Action"])...)
			addConditions(st)
		}
	}
	for _, raw := range props["AssumeRolePolicyDocument"].(map[string]any)["Statement"].([]any) {
		addConditions(raw.(map[string]any))
	}
	policies, _ := props["Policies"].([]any)
	for _, p := range policies {
		addDoc(p.(map[string]any)["PolicyDocument"])
	}
	for _, r := range resources(tpl, "AWS::IAM::Policy") {
		p := r["Properties"].(map[string]any)
		for _, ref := range p["Roles"].([]any) {
			if m, _ := ref.(map[string]any); m["Ref"] == id {
				addDoc(p["PolicyDocument"])
			}
		}
	}
	slices.Sort(actions)
	slices.Sort(conditions)
	return slices.Compact(actions), slices.Compact(conditions)
}

func (r iamRow) matches(id string, role map[string]any) bool {
	name, _ := role["Properties"].(map[string]any)["RoleName"].(string)
	for _, n := range r.names {
		if n == name || strings.HasPrefix(id, n) && name == "" {
			return true
		}
	}
	return false
}

// TestSecurityDocIAMTable ties the IAM table of docs/security.md to the synthesized
// templates: every role has one row, whose actions and condition keys are exactly the
// role's.
func TestSecurityDocIAMTable(t *testing.T) {
	rows := securityIAMTable(t)
	seen := make([]bool, len(rows))
	for stackName, tpl := range accountsApp.json {
		isTarget := stackName != config.SourceStackName
		for id, role := range resources(tpl, "AWS::IAM::Role") {
			var match []int
			for i, r := range rows {
				if r.matches(id, role) {
					match = append(match, i)
				}
			}
			if len(match) != 1 {
				t.Errorf("%s role %s matches %d rows of the IAM table of docs/security.md, want 1", stackName, id, len(match))
				continue
			}
			r := rows[match[0]]
			seen[match[0]] = true
			if r.target != isTarget {
				t.Errorf("%s role %s: the table puts it in the %s stack", stackName, id, map[bool]string{true: "target", false: "source"}[r.target])
			}
			actions, conditions := rolePermissions(tpl, id, role)
			if !slices.Equal(actions, r.actions) {
				t.Errorf("%s role %s: template actions %v, docs/security.md %v", stackName, id, actions, r.actions)
			}
			if !slices.Equal(conditions, r.conditions) {
				t.Errorf("%s role %s: template condition keys %v, docs/security.md %v", stackName, id, conditions, r.conditions)
			}
		}
	}
	for i, r := range rows {
		if !seen[i] {
			t.Errorf("docs/security.md lists %v, which no synthesized stack has", r.names)
		}
	}
}
