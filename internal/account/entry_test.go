package account

import (
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/store"
)

// newEntryFixture is a Service over a real SQLite store, on a node with a GeoIP database
// or without.
func newEntryFixture(t *testing.T, geoIP bool) *fixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, mail: &recordingSender{}, clock: &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	f.svc, err = New(st, f.mail, Options{Now: f.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), GeoIP: geoIP})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) entryAudits(t *testing.T, accountID string) []store.AuditEntry {
	t.Helper()
	es, err := f.st.ListAudit(t.Context(), store.AuditQuery{Subject: accountID})
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(es, func(e store.AuditEntry) bool { return e.Action != "account.entry" })
}

func TestEntryRuleAdmits(t *testing.T) {
	allow := EntryRule{Mode: EntryAllowList, Countries: []string{"CA", "US"}}
	block := EntryRule{Mode: EntryBlockList, Countries: []string{"DE", "KP"}}
	off := EntryRule{Mode: EntryOff, Countries: []string{"DE"}}
	for _, c := range []struct {
		rule    EntryRule
		country string
		code    string // "" admitted
		says    string
	}{
		{allow, "US", "", ""},
		{allow, "DE", CodeEntryCountryBlocked, "Germany, where your connection comes from, is not one of them"},
		{allow, "", CodeEntryCountryUnknown, "cannot tell which country your connection comes from"},
		{block, "DE", CodeEntryCountryBlocked, "does not let participants join from Germany"},
		{block, "KP", CodeEntryCountryBlocked, "from North Korea"},
		{block, "US", "", ""},
		{block, "", "", ""}, // unknown is let in by a block-list
		{off, "DE", "", ""},
		{off, "", "", ""},
		{EntryRule{Mode: EntryOff}, "", "", ""},
	} {
		e := c.rule.Admit(c.country)
		switch {
		case c.code == "" && e != nil:
			t.Errorf("%v, %q: refused %v", c.rule, c.country, e)
		case c.code != "" && (e == nil || e.Code != c.code || !strings.Contains(e.Message, c.says)):
			t.Errorf("%v, %q: %v, want %s saying %q", c.rule, c.country, e, c.code, c.says)
		}
	}
}

// An owner sets a block-list, then an allow-list, each change audited with its before and
// after; the codes are read as people type them.
func TestSetEntry(t *testing.T) {
	f := newEntryFixture(t, true)
	p := f.onPlan(t, "biz@example.com", Business)
	s, err := f.svc.Entry(t.Context(), p)
	if err != nil || s.Mode != EntryOff || len(s.Countries) != 0 || !s.GeoIP || !s.CanChange {
		t.Fatalf("a new account's entry: %+v, %v", s, err)
	}
	s, err = f.svc.SetEntry(t.Context(), p, EntryRule{Mode: EntryBlockList, Countries: []string{" kp", "DE", "de"}})
	if err != nil || s.Mode != EntryBlockList || !slices.Equal(s.Countries, []string{"DE", "KP"}) {
		t.Fatalf("set a block-list: %+v, %v", s, err)
	}
	// A second later, so that the audit trail (ordered by time) orders the two changes.
	f.clock.Advance(time.Second)
	if _, err = f.svc.SetEntry(t.Context(), p, EntryRule{Mode: EntryAllowList, Countries: []string{"US", "XK"}}); err != nil {
		t.Fatal(err)
	}
	if s, _ = f.svc.Entry(t.Context(), p); s.Mode != EntryAllowList || !slices.Equal(s.Countries, []string{"US", "XK"}) {
		t.Fatalf("stored %+v", s)
	}
	// The same again changes nothing and writes no audit entry.
	if _, err = f.svc.SetEntry(t.Context(), p, EntryRule{Mode: EntryAllowList, Countries: []string{"XK", "US"}}); err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, e := range f.entryAudits(t, p.Account.ID) {
		details = append(details, e.Outcome+": "+e.Detail)
	}
	want := []string{"ok: off -> block_list DE,KP", "ok: block_list DE,KP -> allow_list US,XK"}
	if !slices.Equal(details, want) {
		t.Fatalf("audit %q, want %q", details, want)
	}
	// Turned off, the list is kept for later.
	if s, err = f.svc.SetEntry(t.Context(), p, EntryRule{Mode: EntryOff, Countries: s.Countries}); err != nil || s.Mode != EntryOff {
		t.Fatalf("off: %+v, %v", s, err)
	}
	stored, _ := f.st.GetAccountEntry(t.Context(), p.Account.ID)
	if r, err := EntryRuleOf(stored); err != nil || r.Admit("FR") != nil || !slices.Equal(r.Countries, []string{"US", "XK"}) {
		t.Fatalf("an off rule %+v, %v", r, err)
	}
}

func TestSetEntryRefused(t *testing.T) {
	f := newEntryFixture(t, true)
	p := f.onPlan(t, "biz@example.com", Business)
	for _, tc := range []struct {
		in   EntryRule
		code string
	}{
		{EntryRule{Mode: "allow"}, CodeInvalidInput},
		{EntryRule{Mode: ""}, CodeInvalidInput},
		{EntryRule{Mode: EntryAllowList}, CodeInvalidInput},
		{EntryRule{Mode: EntryBlockList, Countries: []string{}}, CodeInvalidInput},
		{EntryRule{Mode: EntryBlockList, Countries: []string{"Germany"}}, CodeInvalidInput},
		{EntryRule{Mode: EntryBlockList, Countries: []string{"UK"}}, CodeInvalidInput}, // GeoIP says GB
		{EntryRule{Mode: EntryBlockList, Countries: []string{"EU"}}, CodeInvalidInput}, // not a country
		{EntryRule{Mode: EntryBlockList, Countries: []string{"ZZ"}}, CodeInvalidInput},
		{EntryRule{Mode: EntryBlockList, Countries: []string{"D3"}}, CodeInvalidInput},
		{EntryRule{Mode: EntryBlockList, Countries: make([]string, 251)}, CodeInvalidInput},
	} {
		_, err := f.svc.SetEntry(t.Context(), p, tc.in)
		wantCode(t, err, tc.code)
	}
	member := p
	member.User.Role = RoleMember
	_, err := f.svc.SetEntry(t.Context(), member, EntryRule{Mode: EntryBlockList, Countries: []string{"DE"}})
	wantCode(t, err, CodeForbidden)
	if s, err := f.svc.Entry(t.Context(), member); err != nil || s.CanChange {
		t.Fatalf("a member reads the rule (%v) but may not change it (%+v)", err, s.CanChange)
	}
	key := Principal{Account: p.Account, APIKey: APIKey{ID: "k1", Scopes: Scopes}}
	_, err = f.svc.SetEntry(t.Context(), key, EntryRule{Mode: EntryBlockList, Countries: []string{"DE"}})
	wantCode(t, err, CodeForbidden)
	if _, err := f.svc.Entry(t.Context(), Principal{Account: p.Account, APIKey: APIKey{ID: "k2"}}); err == nil {
		t.Fatal("a key without account:read read the rule")
	}
	if s, _ := f.svc.Entry(t.Context(), p); s.Mode != EntryOff || len(s.Countries) != 0 {
		t.Fatalf("refusals changed the rule: %+v", s)
	}
	if n := len(f.entryAudits(t, p.Account.ID)); n != 12 {
		t.Fatalf("%d refusals audited, want 12", n)
	}
}

// Without a GeoIP database a rule could not be enforced, so only off can be set.
func TestSetEntryNeedsGeoIP(t *testing.T) {
	f := newEntryFixture(t, false)
	p := f.onPlan(t, "biz@example.com", Business)
	for _, mode := range []string{EntryAllowList, EntryBlockList} {
		_, err := f.svc.SetEntry(t.Context(), p, EntryRule{Mode: mode, Countries: []string{"DE"}})
		wantCode(t, err, CodeGeoIPUnavailable)
	}
	s, err := f.svc.SetEntry(t.Context(), p, EntryRule{Mode: EntryOff})
	if err != nil || s.GeoIP || s.Mode != EntryOff {
		t.Fatalf("off without GeoIP: %+v, %v", s, err)
	}
	if stored, _ := f.st.GetAccountEntry(t.Context(), p.Account.ID); stored.Mode != EntryOff || stored.Countries != "" {
		t.Fatalf("stored %+v", stored)
	}
}

func TestEntryRuleOfRefusesUnknownModes(t *testing.T) {
	if _, err := EntryRuleOf(store.AccountEntry{Mode: "allow-all"}); err == nil {
		t.Fatal("an unknown stored mode was read")
	}
}
