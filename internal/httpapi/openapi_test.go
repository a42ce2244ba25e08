package httpapi

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// openAPIFile is api/openapi.yaml at the module root.
var openAPIFile = filepath.Join("..", "..", "api", "openapi.yaml")

type openAPIDoc struct {
	OpenAPI string                          `yaml:"openapi"`
	Paths   map[string]map[string]yaml.Node `yaml:"paths"`
}

type openAPIOperation struct {
	OperationID string         `yaml:"operationId"`
	Responses   map[string]any `yaml:"responses"`
}

// operationKeys are the keys of an OpenAPI path item that hold operations.
var operationKeys = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

var pathParam = regexp.MustCompile(`\{[^}/]+\}`)

// TestOpenAPIDescribesEveryRoute keeps api/openapi.yaml in step with apiRoutes, the one
// table that registers the /api handlers: every registered route is described, and every
// described route is registered.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	b, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPIDoc
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", openAPIFile, err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}

	mux := http.NewServeMux()
	registerAPI(mux, &accountAPI{})
	registered := map[string]bool{}
	for _, rt := range apiRoutes() {
		if !strings.HasPrefix(rt.Path, "/api/") {
			t.Errorf("route %s is outside /api/", rt.pattern())
		}
		if registered[rt.pattern()] {
			t.Errorf("route %s is listed twice", rt.pattern())
		}
		registered[rt.pattern()] = true

		// The table is what the mux serves: a request for the route reaches its pattern.
		concrete := pathParam.ReplaceAllString(rt.Path, "x")
		if _, pat := mux.Handler(httptest.NewRequest(rt.Method, concrete, nil)); pat != rt.pattern() {
			t.Errorf("%s %s is served by pattern %q, want %q", rt.Method, concrete, pat, rt.pattern())
		}

		node, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("%s is not described in %s", rt.pattern(), openAPIFile)
			continue
		}
		var op openAPIOperation
		if err := node.Decode(&op); err != nil {
			t.Errorf("%s: %v", rt.pattern(), err)
		}
		if op.OperationID == "" || len(op.Responses) == 0 {
			t.Errorf("%s: the description lacks an operationId or responses", rt.pattern())
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !slices.Contains(operationKeys, method) {
				continue
			}
			if !registered[strings.ToUpper(method)+" "+path] {
				t.Errorf("%s describes %s %s, which the server does not register", openAPIFile, strings.ToUpper(method), path)
			}
		}
	}
	if len(registered) == 0 || !slices.ContainsFunc(apiRoutes(), func(r apiRoute) bool { return r.Path == "/api/keys/{id}" }) {
		t.Fatal("the route table looks empty")
	}
}
