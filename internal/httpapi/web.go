package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/web"
)

// webPages are the browser app's page routes. Each serves the same index.html; the app's
// router (web/static/app.js) draws the page from location.pathname.
var webPages = []string{
	"/{$}", "/signup", "/signin", "/dashboard", "/settings", "/join", "/j/{token}", "/reset-password",
	"/console", "/accept-invite",
}

// webContentTypes are the types of the files the app ships, set here rather than looked
// up in the system's MIME table, which differs from host to host (and a module script
// served with the wrong type does not run).
var webContentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
}

// webAsset is one embedded file, ready to serve.
type webAsset struct {
	body        []byte
	contentType string
	etag        string
}

// webApp serves the browser app from its embedded files.
type webApp struct {
	assets map[string]webAsset // by path below web/static
	// signalURLs are the deployment's nodes' signalling URLs, which the page may connect
	// to (the join answer names one); nil in a server alone.
	signalURLs func() []string
	// brands tells the brand of a page's host, whose logo the page may load; nil: none.
	brands *commerce.Service
}

// registerWeb adds the app's page routes and its /static/ files to mux. The patterns are
// exact paths (and GET only), so they overlap none of the server's other routes.
func registerWeb(mux *http.ServeMux, signalURLs func() []string, brands *commerce.Service) {
	app, err := newWebApp(web.Static())
	if err != nil { // the files are compiled in: only a broken build gets here
		panic("httpapi: reading the embedded browser app: " + err.Error())
	}
	app.signalURLs, app.brands = signalURLs, brands
	for _, p := range webPages {
		mux.HandleFunc("GET "+p, app.servePage)
	}
	mux.HandleFunc("GET /static/{path...}", app.serveAsset)
}

// newWebApp reads every file of files once; they never change while the server runs.
func newWebApp(files fs.FS) (*webApp, error) {
	app := &webApp{assets: map[string]webAsset{}}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		ct, ok := webContentTypes[path.Ext(name)]
		if !ok {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		app.assets[name] = webAsset{body: body, contentType: ct,
			etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return app, err
}

// servePage answers every page route with index.html.
func (a *webApp) servePage(w http.ResponseWriter, r *http.Request) {
	page, ok := a.assets["index.html"]
	if !ok {
		http.NotFound(w, r)
		return
	}
	a.setWebHeaders(w, r)
	if a.brands != nil {
		// On a partner's domain the page shows the partner's logo, from its own origin.
		if logo := logoOrigin(a.brands.BrandForHost(r.Context(), r.Host)); logo != "" {
			w.Header().Set("Content-Security-Policy", contentSecurityPolicy(r.Host, a.nodes(), logo))
		}
	}
	// Some page URLs carry secrets (/j/<token>, /reset-password?token=): no cache keeps a
	// copy filed under them. The page is small and the same for every route.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", page.contentType)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(page.body))
}

// serveAsset serves one file under /static/. Only names found in the embedded tree are
// served, so no path can reach anything else; the mux has already redirected paths with
// dot segments to their clean form.
func (a *webApp) serveAsset(w http.ResponseWriter, r *http.Request) {
	asset, ok := a.assets[r.PathValue("path")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	a.setWebHeaders(w, r)
	h := w.Header()
	h.Set("Content-Type", asset.contentType)
	// The files keep their names from release to release (no build step adds a hash), so
	// a browser must check each time; the ETag makes that a 304 when nothing changed.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", asset.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(asset.body))
}

// setWebHeaders sets the security headers of every response of the app.
func (a *webApp) setWebHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy(r.Host, a.nodes()))
	h.Set("X-Content-Type-Options", "nosniff")
	// Join links and reset links carry their token in the URL: never send it onwards.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=()")
}

func (a *webApp) nodes() []string {
	if a.signalURLs == nil {
		return nil
	}
	return a.signalURLs()
}

// contentSecurityPolicy allows scripts, styles and requests to this origin only: no
// inline script or style, no plugins, no framing. The signalling WebSocket is named
// explicitly for browsers in which 'self' does not cover ws: and wss:, and so are the
// deployment's other nodes' (nodes: ws or wss URLs), where a meeting may be carried.
// Images may also come from imgOrigins (a partner's logo: https origins of plain hosts).
func contentSecurityPolicy(host string, nodes []string, imgOrigins ...string) string {
	connect := "'self'"
	if isPlainHost(host) {
		connect += " ws://" + host + " wss://" + host
	}
	for _, n := range nodes {
		scheme, rest, ok := strings.Cut(n, "://")
		hostPart, _, _ := strings.Cut(rest, "/")
		if ok && (scheme == "ws" || scheme == "wss") && isPlainHost(hostPart) {
			connect += " " + scheme + "://" + hostPart
		}
	}
	img := "'self'"
	for _, o := range imgOrigins {
		if h, ok := strings.CutPrefix(o, "https://"); ok && isPlainHost(h) {
			img += " " + o
		}
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src " + img + "; " +
		"media-src 'self' blob:; connect-src " + connect + "; object-src 'none'; " +
		"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// isPlainHost tells whether host (from the request's Host header) is a name or address
// with an optional port and nothing that could end a CSP directive or add a source.
func isPlainHost(host string) bool {
	if host == "" || len(host) > 255 {
		return false
	}
	for _, c := range []byte(host) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '-' || c == ':' || c == '[' || c == ']':
		default:
			return false
		}
	}
	return true
}
