package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/geoip"
	"github.com/meridian-video/meridian/internal/geoip/geoiptest"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
)

// Addresses the test's GeoIP database knows: the clients connect from them (all
// loopback). 127.0.0.1 is in no country.
const (
	fromGermany = "127.0.0.2"
	fromFrance  = "127.0.0.3"
	fromNowhere = "127.0.0.1"
)

// newEntryAPI serves New's handler with real account and meeting services over a real
// SQLite store and, when geo is set, a real GeoIP database built for the test.
func newEntryAPI(t *testing.T, geo bool) *meetingsFixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Region: "local"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	audit := auditlog.New(st, auditlog.Options{Log: log})
	accounts, err := account.New(st, &recordingSender{}, account.Options{Log: log, Audit: audit, GeoIP: geo})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accounts.Close(context.Background()) })
	key, err := token.GenerateKey("local")
	if err != nil {
		t.Fatal(err)
	}
	meetings, err := meeting.New(st, token.NewIssuer(key, nil), []byte("0123456789abcdef0123456789abcdef"), meeting.Options{Log: log, Audit: audit})
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{Log: log, Accounts: accounts, Meetings: meetings, PublicURL: "https://meet.example/"}
	if geo {
		db, err := geoip.Open(geoiptest.File(t,
			geoiptest.Entry{Network: fromGermany + "/32", Country: "DE"},
			geoiptest.Entry{Network: fromFrance + "/32", Country: "FR", Position: geoiptest.At(48.86, 2.35)}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		deps.GeoIP = db
	}
	f := &apiFixture{st: st, mail: &recordingSender{}}
	f.srv = httptest.NewServer(New(deps))
	t.Cleanup(f.srv.Close)
	return &meetingsFixture{apiFixture: f}
}

// callFrom is call from the loopback address ip.
func (f *apiFixture) callFrom(t *testing.T, ip, method, path, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	defer client.CloseIdleConnections()
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

func wantErrorSaying(t *testing.T, r reply, status int, code, says string) {
	t.Helper()
	e := decodeAs[Error](t, r, status)
	if e.Code != code || !strings.Contains(e.Message, says) {
		t.Fatalf("%+v, want %s saying %q", e, code, says)
	}
}

// Entry by country over HTTP: an owner sets a block-list, then an allow-list; guests and
// signed-in participants are let in or refused by the country of the address they
// connect from, a refusal saying why in plain words.
func TestEntryByCountryOverHTTP(t *testing.T) {
	f := newEntryAPI(t, true)
	owner := f.signUp(t)
	bob := f.signUpAs(t, "bob@example.com")
	got := decodeAs[accountEntryJSON](t, f.call(t, "GET", "/api/account/entry", "", owner.auth(false)...), http.StatusOK)
	if got.Mode != "off" || len(got.Countries) != 0 || !got.GeoIP || !got.CanChange {
		t.Fatalf("a new account's entry: %+v", got)
	}
	m := f.schedule(t, owner, `{"passcode":false,"waiting_room":false}`)
	f.startMeeting(t, owner, m.ID)
	join := func(ip string, who ...string) reply {
		return f.callFrom(t, ip, "POST", "/api/join", joinBody("meeting_id", m.ID, "display_name", "P"), who...)
	}

	// Block-list: Germany is kept out; France and an unknown country are let in.
	got = decodeAs[accountEntryJSON](t, f.call(t, "PUT", "/api/account/entry", `{"mode":"block_list","countries":["de"," DE"]}`,
		owner.auth(true)...), http.StatusOK)
	if got.Mode != "block_list" || strings.Join(got.Countries, ",") != "DE" {
		t.Fatalf("block-list: %+v", got)
	}
	wantErrorSaying(t, join(fromGermany), http.StatusForbidden, "entry_country_blocked",
		"does not let participants join from Germany, where your connection comes from")
	wantErrorSaying(t, join(fromGermany, bob.auth(false)...), http.StatusForbidden, "entry_country_blocked", "Germany")
	decodeAs[ticketOut](t, join(fromFrance), http.StatusOK)
	decodeAs[ticketOut](t, join(fromNowhere), http.StatusOK)

	// Allow-list: France alone; an unknown country fails closed.
	decodeAs[accountEntryJSON](t, f.call(t, "PUT", "/api/account/entry", `{"mode":"allow_list","countries":["FR"]}`, owner.auth(true)...), http.StatusOK)
	decodeAs[ticketOut](t, join(fromFrance), http.StatusOK)
	decodeAs[ticketOut](t, join(fromFrance, bob.auth(false)...), http.StatusOK)
	wantErrorSaying(t, join(fromGermany), http.StatusForbidden, "entry_country_blocked", "Germany, where your connection comes from, is not one of them")
	wantErrorSaying(t, join(fromNowhere), http.StatusForbidden, "entry_country_unknown", "cannot tell which country your connection comes from")
	wantErrorSaying(t, join(fromNowhere, bob.auth(false)...), http.StatusForbidden, "entry_country_unknown", "cannot tell")

	// Bad input changes nothing (members and API keys: see package account's tests).
	for body, code := range map[string]string{
		`{"mode":"allow"}`:                           "invalid_input",
		`{"mode":"block_list","countries":["UK"]}`:   "invalid_input",
		`{"mode":"allow_list","countries":[]}`:       "invalid_input",
		`{"mode":"block_list","countries":"DE"}`:     "invalid_json",
		`{"mode":"off","countries":[],"extra":true}`: "unknown_field",
	} {
		if e := decodeAs[Error](t, f.call(t, "PUT", "/api/account/entry", body, owner.auth(true)...), http.StatusBadRequest); e.Code != code {
			t.Errorf("%s: %+v, want %s", body, e, code)
		}
	}
	got = decodeAs[accountEntryJSON](t, f.call(t, "GET", "/api/account/entry", "", owner.auth(false)...), http.StatusOK)
	if got.Mode != "allow_list" || strings.Join(got.Countries, ",") != "FR" {
		t.Fatalf("after refusals: %+v", got)
	}
	if e := decodeAs[Error](t, f.call(t, "PUT", "/api/account/entry", `{"mode":"off"}`, owner.auth(false)...), http.StatusForbidden); e.Code != "csrf_failed" {
		t.Errorf("without the CSRF token: %+v", e)
	}

	// The host is held to the rule too: from an unknown country, not even they may start.
	e := decodeAs[Error](t, f.callFrom(t, fromNowhere, "POST", "/api/meetings/"+m.ID+"/start", "", owner.auth(true)...), http.StatusForbidden)
	if e.Code != "entry_country_unknown" {
		t.Fatalf("the host from nowhere: %+v", e)
	}
	decodeAs[ticketOut](t, f.callFrom(t, fromFrance, "POST", "/api/meetings/"+m.ID+"/start", "", owner.auth(true)...), http.StatusOK)
}

// Without a GeoIP database, joins are as they always were, and a rule other than off
// cannot be set: it could not be enforced.
func TestEntryByCountryNeedsGeoIPOverHTTP(t *testing.T) {
	f := newEntryAPI(t, false)
	owner := f.signUp(t)
	got := decodeAs[accountEntryJSON](t, f.call(t, "GET", "/api/account/entry", "", owner.auth(false)...), http.StatusOK)
	if got.Mode != "off" || got.GeoIP {
		t.Fatalf("entry without GeoIP: %+v", got)
	}
	for _, body := range []string{`{"mode":"block_list","countries":["DE"]}`, `{"mode":"allow_list","countries":["FR"]}`} {
		wantErrorSaying(t, f.call(t, "PUT", "/api/account/entry", body, owner.auth(true)...), http.StatusConflict, "geoip_unavailable", "geoip_file")
	}
	decodeAs[accountEntryJSON](t, f.call(t, "PUT", "/api/account/entry", `{"mode":"off"}`, owner.auth(true)...), http.StatusOK)
	m := f.schedule(t, owner, `{"passcode":false,"waiting_room":false}`)
	f.startMeeting(t, owner, m.ID)
	for _, ip := range []string{fromGermany, fromFrance, fromNowhere} {
		decodeAs[ticketOut](t, f.callFrom(t, ip, "POST", "/api/join", joinBody("meeting_id", m.ID, "display_name", "P")), http.StatusOK)
	}
}
