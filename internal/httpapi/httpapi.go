// Package httpapi routes the server's HTTP endpoints: health, metrics, the signalling
// WebSocket, WHIP/WHEP, and the REST API under /api/ (described in api/openapi.yaml).
package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/policyadmin"
)

// Deps are the handlers and facts the router needs.
type Deps struct {
	Log      *slog.Logger
	Gatherer prometheus.Gatherer
	Signal   http.Handler
	WHIP     http.Handler // serves /whip/ and /whep/; nil disables them
	// SignalURLs, if set, are the signalling URLs of the deployment's nodes, which the
	// browser app may connect to (its pages' Content-Security-Policy names them).
	SignalURLs func() []string
	// Ready reports whether the node can serve: started, not stopping, its control plane
	// answering. /healthz answers 503 while it is false.
	Ready func() bool

	// Accounts serves the REST API under /api/; nil disables it.
	Accounts *account.Service
	// ResetURL is the page that password-reset mails link to, with "?token=..." added;
	// InviteURL the page that member invitations link to, likewise.
	ResetURL, InviteURL string
	// SecureCookies marks the session cookie Secure on every response, not only on
	// requests that arrived over TLS: for a server behind a TLS-terminating proxy.
	SecureCookies bool

	// Meetings serves the meeting routes under /api/ (they need Accounts too); nil
	// disables them.
	Meetings *meeting.Service
	// PublicURL is the server's public base URL; meetings' join links are
	// PublicURL + "/j/" + their join token.
	PublicURL string
	// GeoIP tells the country (and position) of a joining participant's address; nil
	// without a GeoIP database.
	GeoIP Locator

	// Commerce serves the sales routes under /api/ (they need Accounts too); nil answers
	// them not_found.
	Commerce *commerce.Service
	// Policy serves the operators' policy routes under /api/policy (they need Accounts
	// too); nil answers them not_found.
	Policy *policyadmin.Service
	// Operators are the email addresses of the users who may use the policy routes,
	// signed in with a session (never an API key).
	Operators []string
}

// New returns the server's root handler.
func New(d Deps) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if d.Ready != nil && !d.Ready() {
			WriteError(w, http.StatusServiceUnavailable, "not_ready", "the server is starting or stopping, or its control plane does not answer")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	if d.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
	}
	if d.Signal != nil {
		mux.Handle("GET /ws", d.Signal)
	}
	if d.WHIP != nil {
		mux.Handle("/whip/", d.WHIP)
		mux.Handle("/whep/", d.WHIP)
	}
	if d.Accounts != nil {
		log := d.Log
		if log == nil {
			log = slog.Default()
		}
		api := http.NewServeMux()
		meetings := &meetingAPI{svc: d.Meetings, log: log, publicURL: strings.TrimRight(d.PublicURL, "/"), brands: d.Commerce, geo: d.GeoIP}
		registerAPI(api, &accountAPI{svc: d.Accounts, log: log, resetURL: d.ResetURL, inviteURL: d.InviteURL, secureCookies: d.SecureCookies, meetings: meetings,
			commerce: d.Commerce, policy: d.Policy, operators: normalizeEmails(d.Operators)})
		// Browsers' cross-origin state-changing requests are refused outright (by
		// Sec-Fetch-Site or Origin), beside the CSRF token and SameSite cookie.
		cop := http.NewCrossOriginProtection()
		cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			WriteError(w, http.StatusForbidden, "csrf_failed", "cross-origin requests may not change anything")
		}))
		mux.Handle("/api/", cop.Handler(api))
	}
	registerWeb(mux, d.SignalURLs, d.Commerce)
	return withTransportHeaders(mux, strings.HasPrefix(d.PublicURL, "https://"))
}

// withTransportHeaders sets the headers every response carries, whatever its route: nosniff,
// so that no JSON reply (an error echoing input, say) is ever read as a page, and, when the
// server's public URL is https, HSTS, so that a browser that reached it once never again
// tries it over plain http (TLS may end at a proxy in front: the header is set whatever
// this hop's scheme).
func withTransportHeaders(next http.Handler, hsts bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// Error is the JSON body of every error response: a stable code and a human message.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError writes an error response.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Error{Code: code, Message: msg})
}
