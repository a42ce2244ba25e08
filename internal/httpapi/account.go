package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/policyadmin"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/topology"
)

// SessionCookie is the name of the cookie that carries the session token.
const SessionCookie = "meridian_session"

// CSRFHeader carries the session's CSRF token on every state-changing request that a
// session cookie authenticates.
const CSRFHeader = "X-CSRF-Token"

// maxBody bounds a JSON request body.
const maxBody = 64 << 10

// accountAPI serves the /api routes of accounts, sessions, passwords and API keys. Its
// handlers decode, call account.Service, and encode: the decisions are the service's.
type accountAPI struct {
	svc *account.Service
	log *slog.Logger
	// resetURL is the page a password-reset mail links to (with ?token=...), inviteURL
	// the page an invitation mail links to (likewise).
	resetURL, inviteURL string
	// secureCookies sets Secure on the session cookie even when the request did not come
	// over TLS here (TLS ends at a proxy in front).
	secureCookies bool
	// meetings serves the meeting routes, which authenticate like every other /api route.
	meetings *meetingAPI
	// commerce serves the sales routes (price book, checkout, subscription, invoices);
	// nil answers them not_found.
	commerce *commerce.Service
	// policy serves the operators' policy routes; nil answers them not_found.
	policy *policyadmin.Service
	// operators are the email addresses (normalized) of the users who may use them.
	operators []string
}

// wrap authenticates the request as rt requires and calls its handler.
func (a *accountAPI) wrap(rt apiRoute) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		var p account.Principal
		switch rt.Auth {
		case signedIn:
			var ok bool
			if p, ok = a.authenticate(w, r); !ok {
				return
			}
		case partnerKey:
			pp, ok := a.authenticatePartner(w, r)
			if !ok {
				return
			}
			r = r.WithContext(withPartner(r.Context(), pp))
		}
		rt.Handle(a, w, r, p)
	})
}

// authenticate finds the principal of a request: an API key in the Authorization header
// (no CSRF token needed: a browser never adds one on its own), or else the session cookie,
// with the session's CSRF token in CSRFHeader on any method but GET, HEAD and OPTIONS.
func (a *accountAPI) authenticate(w http.ResponseWriter, r *http.Request) (account.Principal, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, key, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			a.fail(w, r, account.ErrUnauthenticated)
			return account.Principal{}, false
		}
		p, err := a.svc.AuthenticateAPIKey(r.Context(), strings.TrimSpace(key))
		if err != nil {
			a.fail(w, r, err)
			return account.Principal{}, false
		}
		return p, true
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		a.fail(w, r, account.ErrUnauthenticated)
		return account.Principal{}, false
	}
	p, err := a.svc.Authenticate(r.Context(), c.Value)
	if err != nil {
		if errors.Is(err, account.ErrUnauthenticated) {
			clearSessionCookie(w, a.secure(r))
		}
		a.fail(w, r, err)
		return account.Principal{}, false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if !p.VerifyCSRF(r.Header.Get(CSRFHeader)) {
			WriteError(w, http.StatusForbidden, "csrf_failed",
				"a request signed in by cookie must send the session's CSRF token in the "+CSRFHeader+" header")
			return account.Principal{}, false
		}
	}
	return p, true
}

// JSON shapes of the API (see api/openapi.yaml).

type userJSON struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	DisplayName string    `json:"display_name"`
	Role        string    `json:"role"`
	CreatedAt   time.Time `json:"created_at"`
}

type accountJSON struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Name      string    `json:"name"`
	Plan      string    `json:"plan"`
	Region    string    `json:"region"`
	CreatedAt time.Time `json:"created_at"`
	// Country and BillingCountry are what the jurisdiction policy decides by.
	Country        string `json:"country"`
	BillingCountry string `json:"billing_country"`
}

type apiKeyJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

type sessionJSON struct {
	User      userJSON    `json:"user"`
	Account   accountJSON `json:"account"`
	CSRFToken string      `json:"csrf_token"`
	ExpiresAt time.Time   `json:"expires_at"`
}

func toUser(u store.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, Role: u.Role, CreatedAt: u.CreatedAt}
}

func toAccount(a store.Account) accountJSON {
	return accountJSON{ID: a.ID, Type: a.Type, Name: a.Name, Plan: a.Plan, Region: a.Region, CreatedAt: a.CreatedAt,
		Country: a.Country, BillingCountry: a.BillingCountry}
}

func toKey(k account.APIKey) apiKeyJSON {
	j := apiKeyJSON{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes, CreatedAt: k.CreatedAt}
	if j.Scopes == nil {
		j.Scopes = []string{}
	}
	if k.Revoked() {
		t := k.RevokedAt
		j.RevokedAt = &t
	}
	return j
}

// Handlers.

func (a *accountAPI) signUp(w http.ResponseWriter, r *http.Request, _ account.Principal) {
	var in struct {
		AccountType string `json:"account_type"`
		AccountName string `json:"account_name"`
		Email       string `json:"email"`
		DisplayName string `json:"display_name"`
		Password    string `json:"password"`
		// Where the user signs up from, and the home region they chose among those open
		// to it (GET /api/regions); both optional.
		Jurisdiction string `json:"jurisdiction"`
		HomeRegion   string `json:"home_region"`
		// The jurisdiction policy decides by these (docs/policy.md).
		Country        string `json:"country"`
		BillingCountry string `json:"billing_country"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	p, tok, err := a.svc.SignUp(r.Context(), account.SignUpInput{
		AccountType: in.AccountType, AccountName: in.AccountName, Email: in.Email,
		DisplayName: in.DisplayName, Password: in.Password, ClientIP: clientIP(r),
		Jurisdiction: in.Jurisdiction, HomeRegion: in.HomeRegion,
		Country: in.Country, BillingCountry: in.BillingCountry,
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.startSession(w, r, http.StatusCreated, p, tok)
}

func (a *accountAPI) signIn(w http.ResponseWriter, r *http.Request, _ account.Principal) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	p, tok, err := a.svc.SignIn(r.Context(), in.Email, in.Password, clientIP(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.startSession(w, r, http.StatusOK, p, tok)
}

func (a *accountAPI) startSession(w http.ResponseWriter, r *http.Request, status int, p account.Principal, tok account.SessionTokens) {
	a.setSessionCookie(w, r, tok)
	writeJSON(w, status, sessionJSON{
		User: toUser(p.User), Account: toAccount(p.Account), CSRFToken: tok.CSRFToken, ExpiresAt: tok.ExpiresAt,
	})
}

func (a *accountAPI) signOut(w http.ResponseWriter, r *http.Request, p account.Principal) {
	if p.ViaAPIKey() {
		WriteError(w, http.StatusBadRequest, account.CodeInvalidInput, "an API key has no session to end; revoke the key instead")
		return
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil { // authenticate found it; cannot happen
		a.fail(w, r, account.ErrUnauthenticated)
		return
	}
	if err := a.svc.SignOut(r.Context(), c.Value); err != nil {
		a.fail(w, r, err)
		return
	}
	clearSessionCookie(w, a.secure(r))
	w.WriteHeader(http.StatusNoContent)
}

func (a *accountAPI) me(w http.ResponseWriter, r *http.Request, p account.Principal) {
	if !p.Allows(account.ScopeAccountRead) {
		a.fail(w, r, &account.Error{Code: account.CodeForbidden, Message: "this API key lacks the scope " + account.ScopeAccountRead})
		return
	}
	out := struct {
		Account accountJSON `json:"account"`
		User    *userJSON   `json:"user,omitempty"`
		APIKey  *apiKeyJSON `json:"api_key,omitempty"`
		// Operator says the user may use the policy console (see isOperator).
		Operator bool `json:"operator"`
		// Support is the account's first-line support: its reseller's or partner's, or
		// the operator's.
		Support *supportJSON `json:"support,omitempty"`
	}{Account: toAccount(p.Account), Operator: a.isOperator(p), Support: a.supportOf(r.Context(), p.Account)}
	if p.ViaAPIKey() {
		k := toKey(p.APIKey)
		out.APIKey = &k
	} else {
		u := toUser(p.User)
		out.User = &u
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *accountAPI) changePassword(w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	tok, err := a.svc.ChangePassword(r.Context(), p, in.CurrentPassword, in.NewPassword)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.setSessionCookie(w, r, tok)
	writeJSON(w, http.StatusOK, struct {
		CSRFToken string    `json:"csrf_token"`
		ExpiresAt time.Time `json:"expires_at"`
	}{tok.CSRFToken, tok.ExpiresAt})
}

func (a *accountAPI) requestReset(w http.ResponseWriter, r *http.Request, _ account.Principal) {
	var in struct {
		Email string `json:"email"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	if err := a.svc.RequestPasswordReset(r.Context(), in.Email, a.resetURL); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct {
		Message string `json:"message"`
	}{"if the address belongs to an account, a reset link is on its way"})
}

func (a *accountAPI) confirmReset(w http.ResponseWriter, r *http.Request, _ account.Principal) {
	var in struct {
		Token       string `json:"token"`
		NewPassword string `json:"new_password"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	if err := a.svc.ResetPassword(r.Context(), in.Token, in.NewPassword); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *accountAPI) listKeys(w http.ResponseWriter, r *http.Request, p account.Principal) {
	keys, err := a.svc.ListAPIKeys(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := struct {
		Keys []apiKeyJSON `json:"keys"`
	}{Keys: make([]apiKeyJSON, 0, len(keys))}
	for _, k := range keys {
		out.Keys = append(out.Keys, toKey(k))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *accountAPI) createKey(w http.ResponseWriter, r *http.Request, p account.Principal) {
	var in struct {
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	k, secret, err := a.svc.CreateAPIKey(r.Context(), p, in.Name, in.Scopes)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Key    apiKeyJSON `json:"key"`
		Secret string     `json:"secret"`
	}{toKey(k), secret})
}

func (a *accountAPI) revokeKey(w http.ResponseWriter, r *http.Request, p account.Principal) {
	if err := a.svc.RevokeAPIKey(r.Context(), p, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Plumbing.

// statusOf maps the account package's error codes onto HTTP statuses.
var statusOf = map[string]int{
	account.CodeInvalidInput:       http.StatusBadRequest,
	account.CodeWeakPassword:       http.StatusBadRequest,
	account.CodeInvalidToken:       http.StatusBadRequest,
	account.CodeEmailTaken:         http.StatusConflict,
	account.CodeInvalidCredentials: http.StatusUnauthorized,
	account.CodeUnauthenticated:    http.StatusUnauthorized,
	account.CodeForbidden:          http.StatusForbidden,
	account.CodeNotFound:           http.StatusNotFound,
	account.CodeRateLimited:        http.StatusTooManyRequests,
	account.CodeUserHostsMeetings:  http.StatusConflict,

	account.CodeIndividualAccount: http.StatusConflict,
	account.CodeAlreadyMember:     http.StatusConflict,
	account.CodeOwnerProtected:    http.StatusConflict,
	account.CodeMemberLimit:       http.StatusConflict,
	account.CodeInvalidInvite:     http.StatusBadRequest,

	account.CodeInvisibleCharacters: http.StatusBadRequest,
	topology.CodeUnknownRegion:      http.StatusBadRequest,
	topology.CodeHomeRequired:       http.StatusBadRequest,
	topology.CodeOptInRequired:      http.StatusBadRequest,
	topology.CodePartnerRegion:      http.StatusBadRequest,
	topology.CodeNoHomeRegion:       http.StatusBadRequest,
	topology.CodePlanLocked:         http.StatusForbidden,
	account.CodeHomeRegionElsewhere: http.StatusConflict,

	// The directory of a multi-region deployment (apart, as above).
	account.CodeControlPlaneUnavailable: http.StatusServiceUnavailable,

	// Entry by country on a server without GeoIP (apart, as above).
	account.CodeGeoIPUnavailable: http.StatusConflict,
}

// fail writes err as a JSON error; an error that is not a refusal is logged and answered
// 500 without its details.
func (a *accountAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	if e := (*account.Error)(nil); errors.As(err, &e) && e.Decision != nil {
		writeJSON(w, http.StatusForbidden, toPolicyRefusal(e.Code, e.Message, e.Decision))
		return
	}
	code, msg := account.CodeOf(err)
	status, ok := statusOf[code]
	if !ok {
		a.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		status = http.StatusInternalServerError
	}
	if e := (*account.Error)(nil); errors.As(err, &e) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meridian"`)
	}
	WriteError(w, status, code, msg)
}

// decode reads a JSON request body into dst: Content-Type application/json, at most
// maxBody bytes, one value, no unknown fields. On failure it writes a 400 (415 for another
// content type) and returns false.
func (a *accountAPI) decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		WriteError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = terr
			if err == nil {
				err = errors.New("more than one JSON value")
			}
		}
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		WriteError(w, http.StatusBadRequest, "body_too_large", "the request body is larger than 64 KiB")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		WriteError(w, http.StatusBadRequest, "unknown_field", "the body has a field this endpoint does not take: "+
			strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.EOF):
		WriteError(w, http.StatusBadRequest, "invalid_json", "the request body is empty")
	default:
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			WriteError(w, http.StatusBadRequest, "invalid_json", "the field "+typeErr.Field+" has the wrong type")
			return false
		}
		WriteError(w, http.StatusBadRequest, "invalid_json", "the request body is not one valid JSON object")
	}
	return false
}

func (a *accountAPI) secure(r *http.Request) bool { return r.TLS != nil || a.secureCookies }

func (a *accountAPI) setSessionCookie(w http.ResponseWriter, r *http.Request, tok account.SessionTokens) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: tok.Token, Path: "/", Expires: tok.ExpiresAt, MaxAge: max(int(tok.Lifetime/time.Second), 1),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.secure(r),
	})
}

func clearSessionCookie(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure,
	})
}

// clientIP is the address the request came from. Forwarding headers are not trusted:
// behind a proxy every client shares the proxy's address and rate limits.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func noStore(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store") }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
