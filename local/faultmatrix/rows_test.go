package faultmatrix

import (
	"strings"
	"testing"
	"time"
)

// TestRows: every row is named once, its plan is valid, and a row that injects nothing is
// the baseline or an abort.
func TestRows(t *testing.T) {
	seen := map[string]bool{}
	for _, row := range Rows() {
		if row.Name == "" || seen[row.Name] || strings.ContainsAny(row.Name, " ,") {
			t.Errorf("row name %q: empty, repeated or not usable in -rows", row.Name)
		}
		seen[row.Name] = true
		if err := row.Plan.Validate(); err != nil {
			t.Errorf("row %s: %v", row.Name, err)
		}
		if row.Plan.Empty() && row.Name != "baseline" && !row.Abort {
			t.Errorf("row %s injects nothing", row.Name)
		}
		if row.Fault == "" {
			t.Errorf("row %s does not say what it injects", row.Name)
		}
	}
}

// TestTable: one line per result, the abort columns only on abort rows.
func TestTable(t *testing.T) {
	rows := Rows()
	got := Table([]Result{
		{Row: rows[0], Targets: 8, LeftRunning: -1, WorstDelay: 40 * time.Millisecond},
		{Row: Row{Name: "abort", Fault: "stopped", Abort: true}, Targets: 8, LeftRunning: 0, WorstDelay: 270 * time.Millisecond},
	})
	want := "| fault | targets | injected | lost | double | duplicate builds | running after abort | worst delay | closed by poll |\n" +
		"|---|---:|---:|---:|---:|---:|---:|---:|---:|\n" +
		"| baseline: none | 8 | 0 | 0 | 0 | 0 | – | 0.04 s | 0 |\n" +
		"| abort: stopped | 8 | 0 | 0 | 0 | 0 | 0 | 0.27 s | 0 |\n"
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}
