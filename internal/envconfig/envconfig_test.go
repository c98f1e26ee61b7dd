package envconfig

import (
	"strings"
	"testing"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestReader(t *testing.T) {
	r := New(env(map[string]string{
		"TABLE": " tokens ", "LIST": "a, b,,c", "N": "30", "BADN": "x", "BIG": "99999",
		"MAP": `{"a":"B"}`, "BADMAP": `[1]`, "EMPTYLIST": " , ",
		"BUCKET": "crossbuild-111111111111-eu-west-1", "BADBUCKET": "Crossbuild_Bucket",
	}))
	if got := r.Bucket("BUCKET"); got != "crossbuild-111111111111-eu-west-1" {
		t.Errorf("Bucket = %q", got)
	}
	if got := r.String("TABLE"); got != "tokens" {
		t.Errorf("String = %q", got)
	}
	if got := r.List("LIST"); strings.Join(got, "|") != "a|b|c" {
		t.Errorf("List = %v", got)
	}
	if got := r.Int("N", 1, 0, 100); got != 30 {
		t.Errorf("Int = %d", got)
	}
	if got := r.Int("MISSING_N", 7, 0, 100); got != 7 {
		t.Errorf("Int default = %d", got)
	}
	if got := r.StringMap("MAP", nil); got["a"] != "B" {
		t.Errorf("StringMap = %v", got)
	}
	if r.Err() != nil {
		t.Fatalf("unexpected errors: %v", r.Err())
	}
	r.String("MISSING")
	r.Int("BADN", 1, 0, 10)
	r.Int("BIG", 1, 0, 10)
	r.StringMap("BADMAP", nil)
	r.List("EMPTYLIST")
	r.Bucket("BADBUCKET")
	err := r.Err()
	for _, name := range []string{"MISSING", "BADN", "BIG", "BADMAP", "EMPTYLIST", "BADBUCKET"} {
		if err == nil || !strings.Contains(err.Error(), name+":") {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}
