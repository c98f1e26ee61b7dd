package coldstart

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The snippets of docs/tracing.md's "In a function's main.go" are what the code does: each
// line stands, as written, in the file the text names (the starter's main.go, then this
// package).
func TestTracingDocMatchesCode(t *testing.T) {
	doc := read(t, filepath.Join("..", "..", "docs", "tracing.md"))
	_, section, ok := strings.Cut(doc, "## In a function's main.go")
	if !ok {
		t.Fatal(`docs/tracing.md has no section "In a function's main.go"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(section, -1)
	sources := []string{
		filepath.Join("..", "..", "functions", "starter", "main.go"),
		"coldstart.go",
	}
	if len(blocks) != len(sources) {
		t.Fatalf("the section has %d Go snippets, want %d (main.go, then coldstart.Setup)", len(blocks), len(sources))
	}
	for i, b := range blocks {
		code := normalize(read(t, sources[i]))
		for _, line := range strings.Split(strings.TrimSpace(b[1]), "\n") {
			if !strings.Contains(code, normalize(line)) {
				t.Errorf("docs/tracing.md shows %q, which %s does not do", strings.TrimSpace(line), sources[i])
			}
		}
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// normalize folds runs of white space so that indentation does not count.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }
