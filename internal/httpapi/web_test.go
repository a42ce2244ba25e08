package httpapi

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meridian-video/meridian/web"
)

// webGet fetches path from f's server without following redirects.
func (f *apiFixture) webGet(t *testing.T, path string, headers ...string) reply {
	t.Helper()
	return f.call(t, http.MethodGet, path, "", headers...)
}

// checkWebHeaders checks the security headers every response of the app carries.
func checkWebHeaders(t *testing.T, path string, r reply) {
	t.Helper()
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self' ws://127.0.0.1:"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", path, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: Content-Security-Policy %q allows inline code", path, csp)
	}
	for name, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s: %s = %q, want %q", path, name, got, want)
		}
	}
}

func TestWebPagesServeTheApp(t *testing.T) {
	f := newAPI(t, false)
	for _, path := range []string{"/", "/signup", "/signin", "/dashboard", "/settings", "/join",
		"/join?id=12345678901", "/j/some-link-token", "/reset-password?token=abc"} {
		r := f.webGet(t, path)
		if r.status != http.StatusOK {
			t.Errorf("GET %s: %d", path, r.status)
			continue
		}
		if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		if !strings.Contains(string(r.body), `<script type="module" src="/static/app.js"></script>`) {
			t.Errorf("GET %s: not the app's page: %.200s", path, r.body)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q", path, cc)
		}
		checkWebHeaders(t, path, r)
	}
}

func TestWebAssetsHaveTheirTypes(t *testing.T) {
	f := newAPI(t, false)
	for path, want := range map[string]string{
		"/static/app.js":      "text/javascript; charset=utf-8",
		"/static/signal.js":   "text/javascript; charset=utf-8",
		"/static/app.css":     "text/css; charset=utf-8",
		"/static/favicon.svg": "image/svg+xml",
	} {
		r := f.webGet(t, path)
		if r.status != http.StatusOK {
			t.Errorf("GET %s: %d", path, r.status)
			continue
		}
		if ct := r.header.Get("Content-Type"); ct != want {
			t.Errorf("GET %s: Content-Type %q, want %q", path, ct, want)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q", path, cc)
		}
		checkWebHeaders(t, path, r)
		etag := r.header.Get("ETag")
		if etag == "" {
			t.Errorf("GET %s: no ETag", path)
			continue
		}
		if again := f.webGet(t, path, "If-None-Match", etag); again.status != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", path, again.status)
		}
	}
	for _, path := range []string{"/static/", "/static/nope.js", "/static/index.htm"} {
		if r := f.webGet(t, path); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.status)
		}
	}
}

// TestWebDoesNotShadowOtherRoutes checks that the app's routes leave the API, health and
// other paths to their own handlers, and that no path reaches outside the embedded files.
func TestWebDoesNotShadowOtherRoutes(t *testing.T) {
	f := newAPI(t, false)
	r := f.webGet(t, "/api/unknown")
	if r.status != http.StatusNotFound || r.code(t) != "not_found" {
		t.Errorf("GET /api/unknown: %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET /api/unknown: Content-Type %q", ct)
	}
	if r := f.webGet(t, "/healthz"); r.status != http.StatusOK || !strings.Contains(string(r.body), `"ok"`) {
		t.Errorf("GET /healthz: %d %s", r.status, r.body)
	}
	if r := f.call(t, http.MethodPost, "/signin", `{}`); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /signin: %d, want 405", r.status)
	}
	for _, path := range []string{"/static/../go.mod", "/static/%2e%2e/go.mod", "/static/..%2fgo.mod",
		"/static/../../go.mod", "/static//etc/passwd", "/j/x/../../go.mod", "/nowhere"} {
		r := f.webGet(t, path)
		if r.status == http.StatusOK || strings.Contains(string(r.body), "module github.com") {
			t.Errorf("GET %s: %d %.100s", path, r.status, r.body)
		}
	}
}

var (
	inlineScript = regexp.MustCompile(`(?i)<script(?:[^>]*)>\s*[^<\s]`)
	inlineStyle  = regexp.MustCompile(`(?i)\sstyle\s*=|<style|\son[a-z]+\s*=`)
	jsImport     = regexp.MustCompile(`(?m)^(?:import|export)\s[^'"]*?from\s+'(\./[^']+)'`)
)

// TestWebAppFitsItsPolicy checks what the Content-Security-Policy would otherwise break at
// run time: index.html has no inline script, style or event handler, and every module a
// module imports is embedded.
func TestWebAppFitsItsPolicy(t *testing.T) {
	files := web.Static()
	page, err := fs.ReadFile(files, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	if m := inlineScript.Find(page); m != nil {
		t.Errorf("index.html has an inline script: %s", m)
	}
	if m := inlineStyle.Find(page); m != nil {
		t.Errorf("index.html has inline style or an event handler: %s", m)
	}
	modules, err := fs.Glob(files, "*.js")
	if err != nil || len(modules) == 0 {
		t.Fatalf("no modules: %v", err)
	}
	for _, name := range modules {
		src, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range jsImport.FindAllSubmatch(src, -1) {
			if _, err := fs.Stat(files, strings.TrimPrefix(string(m[1]), "./")); err != nil {
				t.Errorf("%s imports %s, which is not embedded", name, m[1])
			}
		}
	}
}

// Every response, JSON errors and health checks included, says nosniff; HSTS is sent when
// the public URL is https, and only then.
func TestTransportHeaders(t *testing.T) {
	for _, publicURL := range []string{"https://meet.example", "http://127.0.0.1:8080", ""} {
		// Not ready: /healthz answers with a JSON error.
		srv := httptest.NewServer(New(Deps{PublicURL: publicURL, Ready: new(atomic.Bool).Load}))
		for _, path := range []string{"/healthz", "/nowhere"} {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s %s: X-Content-Type-Options %q", publicURL, path, got)
			}
			hsts := resp.Header.Get("Strict-Transport-Security")
			if want := strings.HasPrefix(publicURL, "https:"); (hsts != "") != want || (want && !strings.HasPrefix(hsts, "max-age=")) {
				t.Errorf("%s %s: Strict-Transport-Security %q", publicURL, path, hsts)
			}
		}
		srv.Close()
	}
}
