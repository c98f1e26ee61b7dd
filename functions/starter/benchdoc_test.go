package main

import (
	"os"
	"regexp"
	"testing"
)

// docs/benchmarks.md reports the median of as many runs as `make bench` makes, and quotes
// the command it runs.
func TestBenchmarkDocMatchesMakefile(t *testing.T) {
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/benchmarks.md")
	if err != nil {
		t.Fatal(err)
	}
	recipe := regexp.MustCompile(`(?m)^bench:.*\n\t(go test .*-count (\d+).*)$`).FindSubmatch(makefile)
	if recipe == nil {
		t.Fatal("no bench target with a go test -count N recipe in the Makefile")
	}
	command, count := string(recipe[1]), string(recipe[2])
	// The Makefile doubles $ in a recipe.
	command = regexp.MustCompile(`\$\$`).ReplaceAllString(command, "$")
	if !regexp.MustCompile(`make bench +# ` + regexp.QuoteMeta(command) + `\n`).Match(doc) {
		t.Errorf("docs/benchmarks.md does not quote the bench command %q", command)
	}
	if m := regexp.MustCompile(`median of (\d+)`).FindAllSubmatch(doc, -1); len(m) == 0 {
		t.Error("docs/benchmarks.md names no median")
	} else {
		for _, x := range m {
			if string(x[1]) != count {
				t.Errorf("docs/benchmarks.md says \"median of %s\", make bench runs -count %s", x[1], count)
			}
		}
	}
}
