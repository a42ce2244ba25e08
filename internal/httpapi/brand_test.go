package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/token"
)

const partnerHost = "talk.orchid.example"

// newBrandAPI serves New's handler with real account, meeting and commerce services over a
// real SQLite store, testOperator as the one operator, an OEM partner with its own domain
// and a reseller.
func newBrandAPI(t *testing.T) *apiFixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Region: "local"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sales := commerce.New(st, commerce.Options{Log: log,
		Operator: commerce.Support{Name: "Meridian", SupportContact: store.SupportContact{Email: "support@meridian.example"}}})
	accounts, err := account.New(st, &recordingSender{}, account.Options{Log: log, Brander: sales})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accounts.Close(context.Background()) })
	key, err := token.GenerateKey("local")
	if err != nil {
		t.Fatal(err)
	}
	meetings, err := meeting.New(st, token.NewIssuer(key, nil), []byte("0123456789abcdef0123456789abcdef"), meeting.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []store.Partner{
		{ID: "orchid", Kind: store.PartnerOEM, Name: "Orchid Systems",
			Brand: store.Brand{Name: "Orchid Talk", LogoURL: "https://cdn.orchid.example/logo.svg", PrimaryColor: "#7a1f5c",
				AccentColor: "#f2a900", Domain: partnerHost},
			Support: store.SupportContact{Email: "help@orchid.example"}},
		{ID: "acme-resell", Kind: store.PartnerReseller, Name: "Acme Resellers", Brand: store.Brand{Name: "Acme Video"},
			Support: store.SupportContact{Email: "support@acme.example", Phone: "+1 555 0199"}},
	} {
		if err := sales.PutPartner(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	f := &apiFixture{st: st, mail: &recordingSender{}}
	f.srv = httptest.NewServer(New(Deps{Log: log, Accounts: accounts, ResetURL: "https://meet.example/reset",
		Meetings: meetings, PublicURL: "https://meet.example", Commerce: sales, Operators: []string{testOperator}}))
	t.Cleanup(f.srv.Close)
	return f
}

// customerOf creates an account of channel with its owner, and signs the owner in.
func (f *apiFixture) customerOf(t *testing.T, channel, email string) session {
	t.Helper()
	hash, err := account.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.CreateAccountWithOwner(t.Context(), store.Account{Type: "business", Name: "Customer", Plan: "free", Channel: channel},
		store.User{Email: email, DisplayName: "Ada", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	return f.signIn(t, email)
}

type brandOut struct {
	Channel      string
	Name         string
	LogoURL      string `json:"logo_url"`
	PrimaryColor string `json:"primary_color"`
	AccentColor  string `json:"accent_color"`
	Domain       string
	Support      struct{ Channel, Name, Email, URL, Phone string }
}

// GET /api/brand is the partner's brand on its domain, whatever the case or port of the
// Host, and the operator's anywhere else.
func TestBrandByHost(t *testing.T) {
	f := newBrandAPI(t)
	for _, host := range []string{partnerHost, "TALK.Orchid.EXAMPLE:8443", partnerHost + "."} {
		b := decodeAs[brandOut](t, f.call(t, "GET", "/api/brand", "", "Host", host), http.StatusOK)
		if b.Channel != "orchid" || b.Name != "Orchid Talk" || b.PrimaryColor != "#7a1f5c" || b.AccentColor != "#f2a900" ||
			b.LogoURL != "https://cdn.orchid.example/logo.svg" || b.Domain != partnerHost ||
			b.Support.Channel != "orchid" || b.Support.Email != "help@orchid.example" {
			t.Errorf("Host %s: %+v", host, b)
		}
	}
	for _, host := range []string{"", "unknown.example", "orchid.example", "meet.example"} {
		var h []string
		if host != "" {
			h = []string{"Host", host}
		}
		b := decodeAs[brandOut](t, f.call(t, "GET", "/api/brand", "", h...), http.StatusOK)
		if b.Channel != "direct" || b.Name != "Meridian" || b.PrimaryColor != "" || b.Domain != "" || b.Support.Email != "support@meridian.example" {
			t.Errorf("Host %q: %+v, want the operator's brand", host, b)
		}
	}
	// The page on the partner's domain may load the partner's logo; elsewhere it may not.
	csp := f.webGet(t, "/", "Host", partnerHost).header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "img-src 'self' https://cdn.orchid.example;") {
		t.Errorf("partner page CSP %q lacks the logo's origin", csp)
	}
	if csp := f.webGet(t, "/").header.Get("Content-Security-Policy"); strings.Contains(csp, "orchid") {
		t.Errorf("operator page CSP %q names the partner", csp)
	}
}

// A signed-in user sees their first-line support: their reseller's, their OEM partner's,
// or the operator's.
func TestMeShowsTheSupportContact(t *testing.T) {
	f := newBrandAPI(t)
	for _, c := range []struct{ channel, email, wantChannel, wantName, wantEmail string }{
		{"acme-resell", "r@example.com", "acme-resell", "Acme Video", "support@acme.example"},
		{"orchid", "o@example.com", "orchid", "Orchid Talk", "help@orchid.example"},
		{store.ChannelDirect, "d@example.com", "direct", "Meridian", "support@meridian.example"},
	} {
		s := f.customerOf(t, c.channel, c.email)
		me := decodeAs[struct {
			Support *struct{ Channel, Name, Email, Phone string }
		}](t, f.call(t, "GET", "/api/me", "", s.auth(false)...), http.StatusOK)
		if me.Support == nil || me.Support.Channel != c.wantChannel || me.Support.Name != c.wantName || me.Support.Email != c.wantEmail {
			t.Errorf("%s customer: support %+v", c.channel, me.Support)
		}
	}
}

// An OEM partner's customers' join links are on the partner's domain; everybody else's on
// the public URL.
func TestJoinLinksOnThePartnersDomain(t *testing.T) {
	f := newBrandAPI(t)
	for _, c := range []struct{ channel, email, prefix string }{
		{"orchid", "o@example.com", "https://" + partnerHost + "/j/"},
		{"acme-resell", "r@example.com", "https://meet.example/j/"},
		{store.ChannelDirect, "d@example.com", "https://meet.example/j/"},
	} {
		s := f.customerOf(t, c.channel, c.email)
		m := decodeAs[meetingOut](t, f.call(t, "POST", "/api/meetings", `{"topic":"Weekly"}`, s.auth(true)...), http.StatusCreated)
		if !strings.HasPrefix(m.JoinURL, c.prefix) || len(m.JoinURL) <= len(c.prefix) {
			t.Errorf("%s customer: join_url %q, want it under %s", c.channel, m.JoinURL, c.prefix)
		}
		list := decodeAs[struct{ Meetings []meetingOut }](t, f.call(t, "GET", "/api/meetings", "", s.auth(false)...), http.StatusOK)
		if len(list.Meetings) != 1 || list.Meetings[0].JoinURL != m.JoinURL {
			t.Errorf("%s customer: listed %+v", c.channel, list.Meetings)
		}
	}
}

var consoleRoutes = []struct{ method, path, body string }{
	{"GET", "/api/operator/partners", ""},
	{"PUT", "/api/operator/partners/lotus", `{"kind":"oem","name":"Lotus","support":{"email":"h@lotus.example"}}`},
	{"GET", "/api/operator/price-books", ""},
	{"PUT", "/api/operator/price-books/direct/USD", `{"prices":[{"plan":"pro","interval":"month","amount_minor":1500}]}`},
	{"GET", "/api/operator/subscriptions", ""},
	{"GET", "/api/operator/orders?channel=direct", ""},
}

// The console's sales routes are for operators only: anyone else signed in is forbidden,
// an operator's API key too, and the anonymous are unauthenticated; nothing changes.
func TestConsoleRoutesAreForOperatorsOnly(t *testing.T) {
	f := newBrandAPI(t)
	user := f.customerOf(t, store.ChannelDirect, "someone@example.com")
	ops := f.customerOf(t, store.ChannelDirect, testOperator)
	_, key := f.createKey(t, ops, "account:read", "billing:read", "billing:write")
	for _, rt := range consoleRoutes {
		if r := f.call(t, rt.method, rt.path, rt.body, user.auth(true)...); r.status != http.StatusForbidden || r.code(t) != "forbidden" {
			t.Errorf("%s %s by a user: %d %s", rt.method, rt.path, r.status, r.body)
		}
		if r := f.call(t, rt.method, rt.path, rt.body, "Authorization", "Bearer "+key); r.status != http.StatusForbidden {
			t.Errorf("%s %s by the operator's API key: %d %s", rt.method, rt.path, r.status, r.body)
		}
		if r := f.call(t, rt.method, rt.path, rt.body); r.status != http.StatusUnauthorized {
			t.Errorf("%s %s anonymous: %d %s", rt.method, rt.path, r.status, r.body)
		}
	}
	if _, err := f.st.GetPartner(t.Context(), "lotus"); err == nil {
		t.Fatal("a refused request stored a partner")
	}
	if _, err := f.st.GetPriceBook(t.Context(), store.ChannelDirect, "USD"); err == nil {
		t.Fatal("a refused request stored a price book")
	}
}

// An operator lists and puts partners (brand and support) and price books, and lists
// subscriptions and orders by channel; bad input is a clear 400 that changes nothing, and
// a partner's new brand is served on its domain at once.
func TestConsoleSales(t *testing.T) {
	f := newBrandAPI(t)
	ops := f.customerOf(t, store.ChannelDirect, testOperator)
	put := `{"kind":"oem","name":"Orchid Systems","brand":{"name":"Orchid Meet","primary_color":"#123456","domain":"Talk.Orchid.Example"},` +
		`"support":{"email":"care@orchid.example","phone":"+1 555 0100"},"jurisdictions":["US"]}`
	got := decodeAs[struct {
		Partner struct {
			ID      string
			Brand   struct{ Name, Domain string }
			Support struct{ Email string }
		}
	}](t, f.call(t, "PUT", "/api/operator/partners/orchid", put, ops.auth(true)...), http.StatusOK).Partner
	if got.ID != "orchid" || got.Brand.Name != "Orchid Meet" || got.Brand.Domain != partnerHost || got.Support.Email != "care@orchid.example" {
		t.Fatalf("put partner: %+v", got)
	}
	b := decodeAs[brandOut](t, f.call(t, "GET", "/api/brand", "", "Host", partnerHost), http.StatusOK)
	if b.Name != "Orchid Meet" || b.PrimaryColor != "#123456" || b.Support.Email != "care@orchid.example" {
		t.Errorf("brand after the put: %+v", b)
	}
	list := decodeAs[struct {
		Partners []struct{ ID, Kind string }
	}](t, f.call(t, "GET", "/api/operator/partners", "", ops.auth(false)...), http.StatusOK)
	if len(list.Partners) != 2 || list.Partners[0].ID != "acme-resell" || list.Partners[1].ID != "orchid" {
		t.Errorf("partners %+v", list.Partners)
	}
	for _, bad := range []string{
		`{"kind":"oem","name":"X","brand":{"primary_color":"red; background: url(x)"},"support":{"email":"h@x.example"}}`,
		`{"kind":"oem","name":"X","brand":{"domain":"` + partnerHost + `"},"support":{"email":"h@x.example"}}`,
		`{"kind":"oem","name":"X","support":{}}`,
	} {
		if r := f.call(t, "PUT", "/api/operator/partners/xpartner", bad, ops.auth(true)...); r.status != http.StatusBadRequest || r.code(t) != "invalid_input" {
			t.Errorf("bad partner %s: %d %s", bad, r.status, r.body)
		}
	}
	if _, err := f.st.GetPartner(t.Context(), "xpartner"); err == nil {
		t.Error("a refused partner was stored")
	}

	book := decodeAs[struct {
		Channel, Currency string
		Prices            []struct{ Plan string }
	}](t, f.call(t, "PUT", "/api/operator/price-books/orchid/EUR",
		`{"prices":[{"plan":"pro","interval":"month","amount_minor":900},{"plan":"business","interval":"year","amount_minor":19000}]}`,
		ops.auth(true)...), http.StatusOK)
	if book.Channel != "orchid" || book.Currency != "EUR" || len(book.Prices) != 2 {
		t.Errorf("put book: %+v", book)
	}
	if r := f.call(t, "PUT", "/api/operator/price-books/orchid/EUR", `{"prices":[{"plan":"pro","interval":"week","amount_minor":1}]}`,
		ops.auth(true)...); r.status != http.StatusBadRequest || r.code(t) != "invalid_input" {
		t.Errorf("bad book: %d %s", r.status, r.body)
	}
	books := decodeAs[struct {
		PriceBooks []struct {
			Channel string
			Prices  []struct {
				AmountMinor int64 `json:"amount_minor"`
			}
		} `json:"price_books"`
	}](t, f.call(t, "GET", "/api/operator/price-books", "", ops.auth(false)...), http.StatusOK)
	if len(books.PriceBooks) != 1 || books.PriceBooks[0].Channel != "orchid" || len(books.PriceBooks[0].Prices) != 2 ||
		books.PriceBooks[0].Prices[0].AmountMinor != 900 {
		t.Errorf("books (the refused put changed nothing) %+v", books)
	}

	for _, path := range []string{"/api/operator/subscriptions?channel=orchid", "/api/operator/orders"} {
		r := f.call(t, "GET", path, "", ops.auth(false)...)
		if r.status != http.StatusOK || (!strings.Contains(string(r.body), `"subscriptions":[]`) && !strings.Contains(string(r.body), `"orders":[]`)) {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	if r := f.call(t, "GET", "/api/operator/orders?channel=Not%20A%20Channel", "", ops.auth(false)...); r.status != http.StatusBadRequest {
		t.Errorf("a bad channel filter: %d %s", r.status, r.body)
	}
}
