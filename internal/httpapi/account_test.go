package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/mail"
	"github.com/meridian-video/meridian/internal/store"
)

// recordingSender is a test double for mail.Sender that keeps what it is given.
type recordingSender struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (r *recordingSender) Send(_ context.Context, m mail.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recordingSender) sent() []mail.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// wait returns the messages once there are at least n (reset mails go out after the
// request returns), or fails the test after 10 s.
func (r *recordingSender) wait(t *testing.T, n int) []mail.Message {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(r.sent()) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d mails sent, want %d", len(r.sent()), n)
		}
	}
	return r.sent()
}

type apiFixture struct {
	srv  *httptest.Server
	st   *store.Store
	mail *recordingSender
}

// newAPI serves New's handler, with a real account service over a real SQLite store, on
// an httptest server (TLS if asked).
func newAPI(t *testing.T, tls bool) *apiFixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &apiFixture{st: st, mail: &recordingSender{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := account.New(st, f.mail, account.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(context.Background()) })
	h := New(Deps{Log: log, Accounts: svc, ResetURL: "https://meet.example/reset", InviteURL: "https://meet.example/accept-invite"})
	if tls {
		f.srv = httptest.NewTLSServer(h)
	} else {
		f.srv = httptest.NewServer(h)
	}
	t.Cleanup(f.srv.Close)
	return f
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// code is the error code of a JSON error reply.
func (r reply) code(t *testing.T) string {
	t.Helper()
	var e Error
	if err := json.Unmarshal(r.body, &e); err != nil || e.Code == "" || e.Message == "" {
		t.Fatalf("status %d, body %q is not a JSON error", r.status, r.body)
	}
	return e.Code
}

func (r reply) cookie(t *testing.T) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", SessionCookie, r.header["Set-Cookie"])
	return nil
}

// call makes a request and does not follow redirects; headers are name, value pairs. A body
// is sent as application/json unless a Content-Type header is given.
func (f *apiFixture) call(t *testing.T, method, path, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" { // the client sends req.Host, not a Host header
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	client := *f.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// session is a signed-in browser: its cookie and CSRF token.
type session struct {
	cookie string // "meridian_session=..."
	csrf   string
}

func (s session) auth(csrf bool) []string {
	h := []string{"Cookie", s.cookie}
	if csrf {
		h = append(h, CSRFHeader, s.csrf)
	}
	return h
}

const signUpBody = `{"account_type":"business","account_name":"Acme","email":"ada@example.com","display_name":"Ada","password":"correct horse battery"}`

func (f *apiFixture) signUp(t *testing.T) session {
	t.Helper()
	r := f.call(t, "POST", "/api/signup", signUpBody)
	if r.status != http.StatusCreated {
		t.Fatalf("sign-up: %d %s", r.status, r.body)
	}
	var out struct {
		CSRFToken string `json:"csrf_token"`
		User      struct{ Role string }
		Account   struct{ Plan string }
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.CSRFToken == "" {
		t.Fatalf("sign-up body %s: %v", r.body, err)
	}
	if out.User.Role != "owner" || out.Account.Plan != "free" {
		t.Fatalf("sign-up body %s", r.body)
	}
	c := r.cookie(t)
	return session{cookie: c.Name + "=" + c.Value, csrf: out.CSRFToken}
}

func (f *apiFixture) createKey(t *testing.T, s session, scopes ...string) (id, secret string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": "ci", "scopes": scopes})
	r := f.call(t, "POST", "/api/keys", string(body), s.auth(true)...)
	if r.status != http.StatusCreated {
		t.Fatalf("create key: %d %s", r.status, r.body)
	}
	var out struct {
		Key    struct{ ID string }
		Secret string
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.Secret == "" {
		t.Fatalf("create key body %s: %v", r.body, err)
	}
	return out.Key.ID, out.Secret
}

func (f *apiFixture) keyCount(t *testing.T, s session) int {
	t.Helper()
	r := f.call(t, "GET", "/api/keys", "", s.auth(false)...)
	if r.status != http.StatusOK {
		t.Fatalf("list keys: %d %s", r.status, r.body)
	}
	var out struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return len(out.Keys)
}

func TestSessionCookieFlags(t *testing.T) {
	for _, tls := range []bool{false, true} {
		f := newAPI(t, tls)
		r := f.call(t, "POST", "/api/signup", signUpBody)
		if r.status != http.StatusCreated {
			t.Fatalf("sign-up: %d %s", r.status, r.body)
		}
		for _, c := range []*http.Cookie{r.cookie(t), f.call(t, "POST", "/api/signin",
			`{"email":"ada@example.com","password":"correct horse battery"}`).cookie(t)} {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != tls || c.Value == "" {
				t.Errorf("tls=%v: cookie %+v", tls, c)
			}
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q on a response with a CSRF token", cc)
		}
	}
}

func TestSignInErrorsAreJSON(t *testing.T) {
	f := newAPI(t, false)
	f.signUp(t)
	wrong := f.call(t, "POST", "/api/signin", `{"email":"ada@example.com","password":"not the password"}`)
	unknown := f.call(t, "POST", "/api/signin", `{"email":"nobody@example.com","password":"not the password"}`)
	if wrong.status != http.StatusUnauthorized || wrong.code(t) != "invalid_credentials" || string(wrong.body) != string(unknown.body) {
		t.Fatalf("wrong password %d %s; unknown email %d %s", wrong.status, wrong.body, unknown.status, unknown.body)
	}
	if r := f.call(t, "GET", "/api/me", ""); r.status != http.StatusUnauthorized || r.code(t) != "unauthenticated" {
		t.Fatalf("anonymous /api/me: %d %s", r.status, r.body)
	}
	if r := f.call(t, "GET", "/api/nothing", ""); r.status != http.StatusNotFound || r.code(t) != "not_found" {
		t.Fatalf("unknown route: %d %s", r.status, r.body)
	}
	if r := f.call(t, "PUT", "/api/keys/x", ""); r.status != http.StatusMethodNotAllowed || r.code(t) != "method_not_allowed" ||
		r.header.Get("Allow") != "DELETE" {
		t.Fatalf("wrong method: %d %v %s", r.status, r.header, r.body)
	}
}

func TestCSRFRequiredOnCookieRequestsThatChangeThings(t *testing.T) {
	f := newAPI(t, false)
	s := f.signUp(t)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/keys", `{"name":"ci","scopes":["account:read"]}`},
		{"DELETE", "/api/keys/anything", ""},
		{"POST", "/api/password", `{"current_password":"correct horse battery","new_password":"another long password"}`},
		{"POST", "/api/signout", ""},
	} {
		for name, hdr := range map[string][]string{
			"no header":    s.auth(false),
			"wrong token":  {"Cookie", s.cookie, CSRFHeader, "not-the-token"},
			"cookie value": {"Cookie", s.cookie, CSRFHeader, strings.TrimPrefix(s.cookie, SessionCookie+"=")},
		} {
			r := f.call(t, c.method, c.path, c.body, hdr...)
			if r.status != http.StatusForbidden || r.code(t) != "csrf_failed" {
				t.Errorf("%s %s, %s: %d %s", c.method, c.path, name, r.status, r.body)
			}
		}
	}
	// Nothing happened: no key, the password and the session unchanged.
	if n := f.keyCount(t, s); n != 0 {
		t.Fatalf("%d keys after refused requests", n)
	}
	if r := f.call(t, "GET", "/api/me", "", s.auth(false)...); r.status != http.StatusOK {
		t.Fatalf("reading needs no CSRF token, and the session should still work: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/signin", `{"email":"ada@example.com","password":"correct horse battery"}`); r.status != http.StatusOK {
		t.Fatalf("password changed by a refused request: %d %s", r.status, r.body)
	}

	// With the token, the same requests go through.
	id, _ := f.createKey(t, s, "account:read")
	if r := f.call(t, "DELETE", "/api/keys/"+id, "", s.auth(true)...); r.status != http.StatusNoContent {
		t.Fatalf("revoke with CSRF token: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/signout", "", s.auth(true)...); r.status != http.StatusNoContent {
		t.Fatalf("sign-out with CSRF token: %d %s", r.status, r.body)
	} else if c := r.cookie(t); c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("sign-out did not clear the cookie: %+v", c)
	}
	if r := f.call(t, "GET", "/api/me", "", s.auth(false)...); r.status != http.StatusUnauthorized {
		t.Fatalf("signed-out session still works: %d %s", r.status, r.body)
	}
}

func TestCrossOriginRequestsRefused(t *testing.T) {
	f := newAPI(t, false)
	f.signUp(t)
	r := f.call(t, "POST", "/api/signin", `{"email":"ada@example.com","password":"correct horse battery"}`,
		"Sec-Fetch-Site", "cross-site")
	if r.status != http.StatusForbidden || r.code(t) != "csrf_failed" {
		t.Fatalf("cross-site sign-in: %d %s", r.status, r.body)
	}
	r = f.call(t, "POST", "/api/signin", `{"email":"ada@example.com","password":"correct horse battery"}`,
		"Sec-Fetch-Site", "same-origin")
	if r.status != http.StatusOK {
		t.Fatalf("same-origin sign-in: %d %s", r.status, r.body)
	}
}

func TestAPIKeyAuthNeedsNoCSRF(t *testing.T) {
	f := newAPI(t, false)
	s := f.signUp(t)
	id, secret := f.createKey(t, s, "account:read", "keys:read", "keys:write")
	bearer := []string{"Authorization", "Bearer " + secret}

	r := f.call(t, "GET", "/api/me", "", bearer...)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"api_key"`) || strings.Contains(string(r.body), `"user"`) {
		t.Fatalf("/api/me by key: %d %s", r.status, r.body)
	}
	// State-changing requests by key: no CSRF token, no cookie.
	r = f.call(t, "POST", "/api/keys", `{"name":"child","scopes":["account:read"]}`, bearer...)
	if r.status != http.StatusCreated {
		t.Fatalf("create by key: %d %s", r.status, r.body)
	}
	var child struct {
		Key    struct{ ID string }
		Secret string
	}
	_ = json.Unmarshal(r.body, &child)
	if r := f.call(t, "POST", "/api/keys", `{"name":"escalate","scopes":["meetings:write"]}`, bearer...); r.status != http.StatusForbidden || r.code(t) != "forbidden" {
		t.Fatalf("a key granting a scope it lacks: %d %s", r.status, r.body)
	}
	if r := f.call(t, "GET", "/api/keys", "", "Authorization", "Bearer "+child.Secret); r.status != http.StatusForbidden {
		t.Fatalf("listing without keys:read: %d %s", r.status, r.body)
	}
	if r := f.call(t, "DELETE", "/api/keys/"+child.Key.ID, "", bearer...); r.status != http.StatusNoContent {
		t.Fatalf("revoke by key: %d %s", r.status, r.body)
	}
	if r := f.call(t, "GET", "/api/me", "", "Authorization", "Bearer "+child.Secret); r.status != http.StatusUnauthorized || r.code(t) != "unauthenticated" {
		t.Fatalf("revoked key: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/signout", "", bearer...); r.status != http.StatusBadRequest {
		t.Fatalf("sign-out by key: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/password", `{"current_password":"x","new_password":"another long password"}`, bearer...); r.status != http.StatusForbidden {
		t.Fatalf("password change by key: %d %s", r.status, r.body)
	}
	for _, h := range []string{"Bearer mk_nope", "Basic " + secret, "Bearer " + secret + "x"} {
		if r := f.call(t, "GET", "/api/me", "", "Authorization", h); r.status != http.StatusUnauthorized || r.code(t) != "unauthenticated" {
			t.Errorf("%q: %d %s", h, r.status, r.body)
		}
	}
	// The list never shows a secret.
	r = f.call(t, "GET", "/api/keys", "", bearer...)
	_, secretPart, _ := strings.Cut(strings.TrimPrefix(secret, "mk_"), "_")
	if r.status != http.StatusOK || strings.Contains(string(r.body), secretPart) || !strings.Contains(string(r.body), id) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
}

func TestBadBodiesChangeNothing(t *testing.T) {
	f := newAPI(t, false)
	s := f.signUp(t)
	big := `{"name":"` + strings.Repeat("x", maxBody) + `","scopes":["account:read"]}`
	cases := []struct {
		name, body, code string
		status           int
		headers          []string
	}{
		{"malformed", `{"name":"ci","scopes":["account:read"]`, "invalid_json", 400, nil},
		{"not an object", `["account:read"]`, "invalid_json", 400, nil},
		{"wrong type", `{"name":1,"scopes":["account:read"]}`, "invalid_json", 400, nil},
		{"unknown field", `{"name":"ci","scopes":["account:read"],"admin":true}`, "unknown_field", 400, nil},
		{"two values", `{"name":"ci","scopes":["account:read"]} {}`, "invalid_json", 400, nil},
		{"oversize", big, "body_too_large", 400, nil},
		{"form", `name=ci`, "unsupported_media_type", 415, []string{"Content-Type", "application/x-www-form-urlencoded"}},
	}
	for _, c := range cases {
		r := f.call(t, "POST", "/api/keys", c.body, append(s.auth(true), c.headers...)...)
		if r.status != c.status || r.code(t) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.body, c.status, c.code)
		}
	}
	if r := f.call(t, "POST", "/api/keys", "", s.auth(true)...); r.status != 415 {
		t.Errorf("no body: %d %s", r.status, r.body)
	}
	if n := f.keyCount(t, s); n != 0 {
		t.Fatalf("%d keys created by bad bodies", n)
	}

	// A sign-up with an unknown field creates no account.
	r := f.call(t, "POST", "/api/signup",
		`{"account_type":"individual","email":"eve@example.com","display_name":"Eve","password":"correct horse battery","plan":"enterprise"}`)
	if r.status != 400 || r.code(t) != "unknown_field" {
		t.Fatalf("sign-up with plan: %d %s", r.status, r.body)
	}
	if _, err := f.st.GetUserByEmail(t.Context(), "eve@example.com"); err == nil {
		t.Fatal("a refused sign-up created a user")
	}

	// A display name with a right-to-left override is a 400 with its own code.
	r = f.call(t, "POST", "/api/signup",
		`{"account_type":"individual","email":"eve@example.com","display_name":"Eve\u202e","password":"correct horse battery"}`)
	if r.status != 400 || r.code(t) != "invisible_characters" {
		t.Fatalf("sign-up with an override: %d %s", r.status, r.body)
	}
	if _, err := f.st.GetUserByEmail(t.Context(), "eve@example.com"); err == nil {
		t.Fatal("a refused sign-up created a user")
	}
}

func TestPasswordChangeAndResetOverHTTP(t *testing.T) {
	f := newAPI(t, false)
	s := f.signUp(t)
	r := f.call(t, "POST", "/api/password", `{"current_password":"correct horse battery","new_password":"second long password"}`, s.auth(true)...)
	if r.status != http.StatusOK {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	_ = json.Unmarshal(r.body, &out)
	c := r.cookie(t)
	s2 := session{cookie: c.Name + "=" + c.Value, csrf: out.CSRFToken}
	if r := f.call(t, "GET", "/api/me", "", s.auth(false)...); r.status != http.StatusUnauthorized {
		t.Fatalf("old session after change: %d", r.status)
	}
	if r := f.call(t, "GET", "/api/me", "", s2.auth(false)...); r.status != http.StatusOK {
		t.Fatalf("new session after change: %d %s", r.status, r.body)
	}

	known := f.call(t, "POST", "/api/password/reset", `{"email":"ada@example.com"}`)
	unknown := f.call(t, "POST", "/api/password/reset", `{"email":"nobody@example.com"}`)
	if known.status != http.StatusAccepted || unknown.status != known.status || string(known.body) != string(unknown.body) {
		t.Fatalf("reset requests differ: %d %s / %d %s", known.status, known.body, unknown.status, unknown.body)
	}
	msgs := f.mail.wait(t, 1)
	if len(msgs) != 1 || msgs[0].To != "ada@example.com" {
		t.Fatalf("mails: %+v", msgs)
	}
	var token string
	for _, w := range strings.Fields(msgs[0].Body) {
		if u, err := url.Parse(w); err == nil && strings.HasPrefix(w, "https://meet.example/reset?") {
			token = u.Query().Get("token")
		}
	}
	body, _ := json.Marshal(map[string]string{"token": token, "new_password": "third long password"})
	if r := f.call(t, "POST", "/api/password/reset/confirm", string(body)); r.status != http.StatusNoContent {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/password/reset/confirm", string(body)); r.status != 400 || r.code(t) != "invalid_token" {
		t.Fatalf("second use: %d %s", r.status, r.body)
	}
	if r := f.call(t, "GET", "/api/me", "", s2.auth(false)...); r.status != http.StatusUnauthorized {
		t.Fatalf("session survived the reset: %d", r.status)
	}
	if r := f.call(t, "POST", "/api/signin", `{"email":"ada@example.com","password":"third long password"}`); r.status != http.StatusOK {
		t.Fatalf("sign-in with the reset password: %d %s", r.status, r.body)
	}
}

func TestSignInRateLimitedOverHTTP(t *testing.T) {
	f := newAPI(t, false)
	f.signUp(t)
	var r reply
	for range account.DefaultLimits().SignInPerEmailIP.Burst + 1 {
		r = f.call(t, "POST", "/api/signin", `{"email":"ada@example.com","password":"wrong password 1"}`)
	}
	if r.status != http.StatusTooManyRequests || r.code(t) != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Fatalf("after repeated failures: %d %v %s", r.status, r.header, r.body)
	}
}
