package transport

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// TestEveryWireCodeMapped reads package wire's source and checks that
// every error code it names, of either lineage or older servers, maps to
// a transport code: a code added there without a mapping fails here.
func TestEveryWireCodeMapped(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../wire/errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "Code") || i >= len(vs.Values) {
				continue
			}
			lit, ok := vs.Values[i].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				continue
			}
			code, _ := strconv.Unquote(lit.Value)
			n++
			if _, ok := wireCodes[code]; !ok {
				t.Errorf("wire.%s (%q) has no transport code", name.Name, code)
			}
		}
		return true
	})
	if n < 38 {
		t.Errorf("found only %d wire codes: has wire/errors.go changed shape?", n)
	}
	if len(wireCodes) != n {
		t.Errorf("%d mapped codes, %d wire codes: the map names a code wire does not", len(wireCodes), n)
	}
}
