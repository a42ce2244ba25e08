package admission

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const sfuImport = "github.com/meridian-video/meridian/internal/sfu"

// Nothing but the Gate enters a room: outside internal/sfu and this package, no program
// code that imports the SFU calls a three-argument Join on anything (sfu.Room.Join is
// the only such method it has). A new way into a room must come through Gate.Enter and
// so gets every check; one that called the SFU directly would fail here.
func TestOnlyTheGateJoinsRooms(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			if rel == filepath.Join("internal", "sfu") || rel == filepath.Join("internal", "admission") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		// Package names imported by the file: a call on one (policy.Join) is a function's.
		imported := map[string]bool{}
		importsSFU := false
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			importsSFU = importsSFU || p == sfuImport
			name := p[strings.LastIndex(p, "/")+1:]
			if im.Name != nil {
				name = im.Name.Name
			}
			imported[name] = true
		}
		if !importsSFU {
			return nil
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 3 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Join" {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && imported[id.Name] {
				return true
			}
			t.Errorf("%s: a room is joined without the admission gate; enter through admission.Gate.Enter", fset.Position(call.Pos()))
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 3 { // signalling, WHIP/WHEP and the server import the SFU
		t.Fatalf("only %d files import the SFU: the walk did not find the transports", checked)
	}
}
