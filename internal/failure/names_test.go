package failure_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/runtimetest"
)

// Every function name in the table goes out of the real runtime under that name, returned
// as it is or wrapped with %w; an error outside the table keeps the runtime's own naming.
func TestRuntimeSendsTableNames(t *testing.T) {
	var fns []failure.Entry
	for _, e := range failure.Table {
		if e.Origin == failure.FromFunction {
			fns = append(fns, e)
		}
	}
	// The payload is an index: even for the failure as it is, odd for it wrapped; past the
	// failures, a plain error.
	h := lambda.NewHandler(failure.Report(func(_ context.Context, i int) (string, error) {
		if i >= 2*len(fns) {
			return "", errors.New("plain")
		}
		err := fns[i/2].Zero
		if i%2 == 1 {
			err = fmt.Errorf("context: %w", err)
		}
		return "", err
	}))
	var payloads [][]byte
	for i := range 2*len(fns) + 1 {
		payloads = append(payloads, []byte(strconv.Itoa(i)))
	}
	res := runtimetest.Invoke(t, h, payloads...)
	for i, r := range res[:2*len(fns)] {
		e := fns[i/2]
		if r.ErrorType != e.Name {
			t.Errorf("%s (wrapped: %t) went out as %q", e.Name, i%2 == 1, r.ErrorType)
		}
		if want := reflect.TypeOf(e.Zero).Elem().Name(); e.Name != want {
			t.Errorf("table name %q for type %s", e.Name, want)
		}
		if r.ErrorMessage == "" {
			t.Errorf("%s went out without a message", e.Name)
		}
	}
	if last := res[len(res)-1]; last.ErrorType != "errorString" || last.ErrorMessage != "plain" {
		t.Errorf("plain error went out as %+v", last)
	}
}

// A successful invocation goes through Report untouched.
func TestReportKeepsResponses(t *testing.T) {
	h := lambda.NewHandler(failure.Report(func(_ context.Context, in string) (string, error) { return in + "!", nil }))
	res := runtimetest.Invoke(t, h, []byte(`"ok"`))
	var out string
	if err := json.Unmarshal(res[0].Payload, &out); err != nil || out != "ok!" || res[0].Failed() {
		t.Fatalf("result %+v (%v)", res[0], err)
	}
}

// Every exported error type of the package has its place in the table, so no failure can
// reach Step Functions under a name the definition has never been checked against.
func TestEveryFailureTypeIsInTheTable(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "failure.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv == nil || fd.Name.Name != "Error" {
			continue
		}
		recv := fd.Recv.List[0].Type
		if star, ok := recv.(*ast.StarExpr); ok {
			recv = star.X
		}
		types[recv.(*ast.Ident).Name] = true
	}
	if len(types) == 0 {
		t.Fatal("no error types found in failure.go")
	}
	for name := range types {
		e, ok := failure.Lookup(name)
		if !ok || e.Origin != failure.FromFunction {
			t.Errorf("failure type %s has no entry in the table", name)
		}
	}
	for _, e := range failure.Table {
		if e.Origin == failure.FromFunction && !types[e.Name] {
			t.Errorf("table name %s has no failure type", e.Name)
		}
	}
}
