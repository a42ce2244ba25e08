package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
)

type meetingsFixture struct {
	*apiFixture
	tokens *token.Issuer
	audit  *auditlog.Log
}

// newMeetingsAPI serves New's handler with real account and meeting services over a real
// SQLite store.
func newMeetingsAPI(t *testing.T, limits meeting.Limits) *meetingsFixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Region: "local"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	audit := auditlog.New(st, auditlog.Options{Log: log})
	accounts, err := account.New(st, &recordingSender{}, account.Options{Log: log, Audit: audit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accounts.Close(context.Background()) })
	secret := []byte("0123456789abcdef0123456789abcdef")
	key, err := token.GenerateKey("local")
	if err != nil {
		t.Fatal(err)
	}
	tokens := token.NewIssuer(key, nil)
	meetings, err := meeting.New(st, tokens, secret, meeting.Options{Log: log, Limits: limits, Audit: audit})
	if err != nil {
		t.Fatal(err)
	}
	f := &apiFixture{st: st, mail: &recordingSender{}}
	f.srv = httptest.NewServer(New(Deps{
		Log: log, Accounts: accounts, ResetURL: "https://meet.example/reset",
		Meetings: meetings, PublicURL: "https://meet.example/",
	}))
	t.Cleanup(f.srv.Close)
	return &meetingsFixture{apiFixture: f, tokens: tokens, audit: audit}
}

// signUpAs signs up an individual account.
func (f *meetingsFixture) signUpAs(t *testing.T, email string) session {
	t.Helper()
	body := fmt.Sprintf(`{"account_type":"individual","email":%q,"display_name":"Bob","password":"correct horse battery"}`, email)
	r := f.call(t, "POST", "/api/signup", body)
	if r.status != http.StatusCreated {
		t.Fatalf("sign-up: %d %s", r.status, r.body)
	}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	c := r.cookie(t)
	return session{cookie: c.Name + "=" + c.Value, csrf: out.CSRFToken}
}

type meetingOut struct {
	ID             string     `json:"id"`
	DisplayID      string     `json:"display_id"`
	Topic          string     `json:"topic"`
	Kind           string     `json:"kind"`
	Status         string     `json:"status"`
	StartsAt       *time.Time `json:"starts_at"`
	NextStart      *time.Time `json:"next_start"`
	Duration       int        `json:"duration_minutes"`
	TimeZone       string     `json:"time_zone"`
	Recurrence     string     `json:"recurrence"`
	Passcode       string     `json:"passcode"`
	JoinURL        string     `json:"join_url"`
	WaitingRoom    bool       `json:"waiting_room"`
	JoinBeforeHost bool       `json:"join_before_host"`
	RequireSignIn  bool       `json:"require_sign_in"`
	StartedAt      *time.Time `json:"started_at"`
	EndsAt         *time.Time `json:"ends_at"`
	EndedAt        *time.Time `json:"ended_at"`
}

type ticketOut struct {
	Token     string    `json:"token"`
	WSPath    string    `json:"ws_path"`
	Room      string    `json:"room"`
	Identity  string    `json:"identity"`
	Host      bool      `json:"host"`
	Waiting   bool      `json:"waiting"`
	ExpiresAt time.Time `json:"expires_at"`
}

func decodeAs[T any](t *testing.T, r reply, status int) T {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return v
}

func (f *meetingsFixture) schedule(t *testing.T, s session, body string) meetingOut {
	t.Helper()
	r := f.call(t, "POST", "/api/meetings", body, s.auth(true)...)
	m := decodeAs[meetingOut](t, r, http.StatusCreated)
	if r.header.Get("Location") != "/api/meetings/"+m.ID {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}
	return m
}

func (f *meetingsFixture) startMeeting(t *testing.T, s session, id string) ticketOut {
	t.Helper()
	return decodeAs[ticketOut](t, f.call(t, "POST", "/api/meetings/"+id+"/start", "", s.auth(true)...), http.StatusOK)
}

func joinBody(fields ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(fields); i += 2 {
		m[fields[i]] = fields[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestMeetingsHappyPathOverHTTP(t *testing.T) {
	f := newMeetingsAPI(t, meeting.Limits{})
	s := f.signUp(t)

	starts := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	body := fmt.Sprintf(`{"topic":"Launch review","starts_at":%q,"duration_minutes":30,"time_zone":"Europe/Berlin","recurrence":"weekly"}`,
		starts.Format(time.RFC3339))
	if r := f.call(t, "POST", "/api/meetings", body, s.auth(false)...); r.status != http.StatusForbidden || r.code(t) != "csrf_failed" {
		t.Fatalf("schedule without CSRF token: %d %s", r.status, r.body)
	}
	m := f.schedule(t, s, body)
	if len(m.ID) != 11 || strings.ReplaceAll(m.DisplayID, " ", "") != m.ID || m.Topic != "Launch review" ||
		m.Kind != "scheduled" || m.Status != "scheduled" || m.TimeZone != "Europe/Berlin" || m.Recurrence != "weekly" ||
		m.StartsAt == nil || !m.StartsAt.Equal(starts) || m.NextStart == nil || !m.NextStart.Equal(starts) {
		t.Fatalf("scheduled meeting %+v", m)
	}
	if len(m.Passcode) != meeting.PasscodeLength || !m.WaitingRoom || m.JoinBeforeHost || m.RequireSignIn {
		t.Fatalf("defaults %+v", m)
	}
	linkToken, ok := strings.CutPrefix(m.JoinURL, "https://meet.example/j/")
	if !ok || len(linkToken) < 40 {
		t.Fatalf("join url %q", m.JoinURL)
	}
	instant := f.schedule(t, s, `{}`)
	if instant.Kind != "instant" || instant.StartsAt != nil || instant.ID == m.ID || instant.Passcode == m.Passcode {
		t.Fatalf("instant meeting %+v", instant)
	}

	list := decodeAs[struct{ Meetings []meetingOut }](t, f.call(t, "GET", "/api/meetings", "", s.auth(false)...), http.StatusOK)
	if len(list.Meetings) != 2 {
		t.Fatalf("list %+v", list)
	}
	got := decodeAs[meetingOut](t, f.call(t, "GET", "/api/meetings/"+m.ID, "", s.auth(false)...), http.StatusOK)
	if got.Passcode != m.Passcode || got.JoinURL != m.JoinURL {
		t.Fatalf("get %+v, scheduled %+v", got, m)
	}

	// Not started: guests wait for the host.
	r := f.call(t, "POST", "/api/join", joinBody("meeting_id", m.DisplayID, "passcode", m.Passcode, "display_name", "Grace"))
	if r.status != http.StatusConflict || r.code(t) != "waiting_for_host" {
		t.Fatalf("join before the host: %d %s", r.status, r.body)
	}

	before := time.Now().Truncate(time.Second)
	host := decodeAs[struct {
		ticketOut
		Meeting meetingOut `json:"meeting"`
	}](t, f.call(t, "POST", "/api/meetings/"+m.ID+"/start", "", s.auth(true)...), http.StatusOK)
	c, err := f.tokens.Verify(t.Context(), host.Token)
	if err != nil || c.Room != "m-"+m.ID || !c.Host || !c.Publish || !c.Subscribe || host.WSPath != "/ws" || !host.Host || host.Waiting {
		t.Fatalf("host ticket %+v claims %+v %v", host, c, err)
	}
	if host.Meeting.Status != "live" || host.Meeting.StartedAt == nil || host.Meeting.EndsAt == nil ||
		host.Meeting.EndsAt.Sub(*host.Meeting.StartedAt) != 40*time.Minute || host.Meeting.StartedAt.Before(before) {
		t.Fatalf("live meeting %+v", host.Meeting)
	}

	type joined struct {
		ticketOut
		Meeting map[string]any `json:"meeting"`
	}
	r = f.call(t, "POST", "/api/join", joinBody("meeting_id", m.DisplayID, "passcode", m.Passcode, "display_name", "Grace"))
	g := decodeAs[joined](t, r, http.StatusOK)
	c, err = f.tokens.Verify(t.Context(), g.Token)
	if err != nil || c.Room != "m-"+m.ID || c.Host || !c.Publish || !c.Subscribe || c.Name != "Grace" ||
		!strings.HasPrefix(g.Identity, "guest-") || c.Identity != g.Identity || !g.Waiting || g.Host || g.WSPath != "/ws" {
		t.Fatalf("guest ticket %+v claims %+v %v", g, c, err)
	}
	if len(g.Meeting) != 2 || g.Meeting["id"] != m.ID || g.Meeting["topic"] != "Launch review" || strings.Contains(string(r.body), m.Passcode) {
		t.Fatalf("a guest learns %s", r.body)
	}
	if d := time.Until(g.ExpiresAt); d <= 0 || d > meeting.DefaultTokenTTL {
		t.Fatalf("guest token expires in %v", d)
	}
	byLink := decodeAs[joined](t, f.call(t, "POST", "/api/join", joinBody("link_token", linkToken, "display_name", "Linus")), http.StatusOK)
	if byLink.Identity == g.Identity || !byLink.Waiting {
		t.Fatalf("join by link %+v", byLink)
	}
	// The whole pasted link works as well.
	decodeAs[joined](t, f.call(t, "POST", "/api/join", joinBody("link_token", " "+m.JoinURL+" ", "display_name", "Linus")), http.StatusOK)

	ended := decodeAs[meetingOut](t, f.call(t, "POST", "/api/meetings/"+instant.ID+"/end", "", s.auth(true)...), http.StatusOK)
	if ended.Status != "ended" || ended.EndedAt == nil {
		t.Fatalf("ended %+v", ended)
	}
	r = f.call(t, "POST", "/api/join", joinBody("meeting_id", instant.ID, "passcode", instant.Passcode, "display_name", "Grace"))
	if r.status != http.StatusGone || r.code(t) != "meeting_ended" {
		t.Fatalf("join an ended meeting: %d %s", r.status, r.body)
	}
	r = f.call(t, "POST", "/api/meetings/"+instant.ID+"/start", "", s.auth(true)...)
	if r.status != http.StatusGone || r.code(t) != "meeting_ended" {
		t.Fatalf("start an ended meeting: %d %s", r.status, r.body)
	}
}

func TestMeetingRefusalsOverHTTP(t *testing.T) {
	f := newMeetingsAPI(t, meeting.Limits{})
	s := f.signUp(t)
	m := f.schedule(t, s, `{"topic":"Board"}`)
	f.startMeeting(t, s, m.ID)

	for _, c := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"unknown id", joinBody("meeting_id", "123 4567 8901", "passcode", "x", "display_name", "M"), 404, "not_found"},
		{"wrong passcode", joinBody("meeting_id", m.ID, "passcode", "wrongwrong", "display_name", "M"), 403, "wrong_passcode"},
		{"no passcode", joinBody("meeting_id", m.ID, "display_name", "M"), 403, "wrong_passcode"},
		{"forged link", joinBody("link_token", m.ID+strings.Repeat("A", 43), "display_name", "M"), 404, "not_found"},
		{"malformed id", joinBody("meeting_id", "12", "display_name", "M"), 400, "invalid_input"},
		{"no name", joinBody("meeting_id", m.ID, "passcode", m.Passcode), 400, "invalid_input"},
		{"invisible name", joinBody("meeting_id", m.ID, "passcode", m.Passcode, "display_name", "M\u200b"), 400, "invisible_characters"},
		{"unknown field", `{"meeting_id":"x","pin":"1"}`, 400, "unknown_field"},
	} {
		r := f.call(t, "POST", "/api/join", c.body)
		if r.status != c.status || r.code(t) != c.code {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
	}
	for _, c := range []struct{ name, body string }{
		{"time zone", `{"time_zone":"Atlantis/Capital"}`},
		{"starts_at", `{"starts_at":"tomorrow at nine"}`},
		{"past", `{"starts_at":"2001-01-01T09:00:00Z"}`},
		{"recurrence", `{"starts_at":"` + time.Now().Add(time.Hour).Format(time.RFC3339) + `","recurrence":"hourly"}`},
	} {
		r := f.call(t, "POST", "/api/meetings", c.body, s.auth(true)...)
		if r.status != http.StatusBadRequest || r.code(t) != "invalid_input" {
			t.Errorf("schedule with a bad %s: %d %s", c.name, r.status, r.body)
		}
	}
	if r := f.call(t, "GET", "/api/meetings?limit=0", "", s.auth(false)...); r.status != http.StatusBadRequest {
		t.Errorf("limit=0: %d %s", r.status, r.body)
	}
	if r := f.call(t, "GET", "/api/meetings", ""); r.status != http.StatusUnauthorized || r.code(t) != "unauthenticated" {
		t.Errorf("anonymous list: %d %s", r.status, r.body)
	}

	// Another account sees nothing of it.
	bob := f.signUpAs(t, "bob@example.com")
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/meetings/" + m.ID}, {"POST", "/api/meetings/" + m.ID + "/start"}, {"POST", "/api/meetings/" + m.ID + "/end"},
	} {
		if r := f.call(t, c.method, c.path, "", bob.auth(true)...); r.status != http.StatusNotFound || r.code(t) != "not_found" {
			t.Errorf("bob %s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}

	// Sign-in required: a guest is refused, a signed-in user joins as themselves.
	closed := f.schedule(t, s, `{"require_sign_in":true,"waiting_room":false}`)
	f.startMeeting(t, s, closed.ID)
	r := f.call(t, "POST", "/api/join", joinBody("meeting_id", closed.ID, "passcode", closed.Passcode, "display_name", "Eve"))
	if r.status != http.StatusUnauthorized || r.code(t) != "sign_in_required" {
		t.Fatalf("guest in a sign-in meeting: %d %s", r.status, r.body)
	}
	tk := decodeAs[ticketOut](t, f.call(t, "POST", "/api/join", joinBody("meeting_id", closed.ID, "passcode", closed.Passcode),
		"Cookie", bob.cookie), http.StatusOK)
	if c, err := f.tokens.Verify(t.Context(), tk.Token); err != nil || strings.HasPrefix(tk.Identity, "guest-") || c.Name != "Bob" || tk.Waiting {
		t.Fatalf("signed-in join %+v %v", tk, err)
	}

	// API keys read meetings but cannot host.
	_, reader := f.createKey(t, s, "meetings:read")
	bearer := []string{"Authorization", "Bearer " + reader}
	if r := f.call(t, "GET", "/api/meetings/"+m.ID, "", bearer...); r.status != http.StatusOK {
		t.Fatalf("read by key: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/meetings/"+m.ID+"/end", "", bearer...); r.status != http.StatusForbidden || r.code(t) != "forbidden" {
		t.Fatalf("end by a read-only key: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/meetings", `{}`, bearer...); r.status != http.StatusForbidden || r.code(t) != "forbidden" {
		t.Fatalf("schedule by key: %d %s", r.status, r.body)
	}
}

func TestJoinRateLimitedOverHTTP(t *testing.T) {
	f := newMeetingsAPI(t, meeting.Limits{JoinPerIP: meeting.RateLimit{Every: time.Hour, Burst: 3}, JoinPerMeeting: meeting.RateLimit{Every: time.Hour, Burst: 100}})
	s := f.signUp(t)
	m := f.schedule(t, s, `{}`)
	f.startMeeting(t, s, m.ID)
	for range 3 {
		if r := f.call(t, "POST", "/api/join", joinBody("meeting_id", m.ID, "passcode", "guessguess", "display_name", "M")); r.status != http.StatusForbidden {
			t.Fatalf("guess: %d %s", r.status, r.body)
		}
	}
	r := f.call(t, "POST", "/api/join", joinBody("meeting_id", m.ID, "passcode", m.Passcode, "display_name", "M"))
	if r.status != http.StatusTooManyRequests || r.code(t) != "rate_limited" {
		t.Fatalf("after 3 guesses: %d %s", r.status, r.body)
	}
	if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	f.audit.Flush(t.Context())
	es, err := f.st.ListAudit(t.Context(), store.AuditQuery{Subject: m.ID})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, e := range es {
		if e.Action == "meeting.join" {
			for range e.Count { // repeated refusals are one entry with their count
				outcomes = append(outcomes, e.Outcome)
			}
			if !strings.Contains(e.Detail, "ip=127.0.0.1") {
				t.Errorf("audit entry without the address: %+v", e)
			}
		}
	}
	if strings.Count(strings.Join(outcomes, " "), "wrong_passcode") != 3 || strings.Count(strings.Join(outcomes, " "), "rate_limited") != 1 {
		t.Fatalf("audit %v", outcomes)
	}
}

func TestMeetingRoutesWithoutMeetingService(t *testing.T) {
	f := newAPI(t, false)
	r := f.call(t, "POST", "/api/join", joinBody("meeting_id", "12345678901", "display_name", "M"))
	if r.status != http.StatusNotFound || r.code(t) != "not_found" {
		t.Fatalf("join on a server without meetings: %d %s", r.status, r.body)
	}
}
