package browsertest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/server"
	"github.com/meridian-video/meridian/internal/store"
)

// partnerDomain is an OEM partner's domain; the browser resolves it to the test server.
const partnerDomain = "partner.example"

// One server, two names: on the OEM partner's domain the app shows the partner's name,
// logo slot and colours, and its customer's settings the partner's support; on the
// server's own address the default brand, and a reseller's customer sees the reseller's
// support contact.
func TestBrandingOnAPartnerDomain(t *testing.T) {
	e := newBrowserEnv(t, chromedp.Flag("host-resolver-rules", "MAP "+partnerDomain+" 127.0.0.1"))
	e.DataDir = t.TempDir()
	e.Server = startServer(t, e.DataDir, server.Options{})
	e.URL = e.Server.URL()
	ctx := t.Context()
	for _, p := range []store.Partner{
		{ID: "orchid", Kind: store.PartnerOEM, Name: "Orchid Systems",
			Brand:   store.Brand{Name: "Orchid Talk", PrimaryColor: "#7a1f5c", AccentColor: "#f2a900", Domain: partnerDomain},
			Support: store.SupportContact{Email: "help@orchid.example"}},
		{ID: "acme-resell", Kind: store.PartnerReseller, Name: "Acme Resellers", Brand: store.Brand{Name: "Acme Video"},
			Support: store.SupportContact{Email: "support@acme.example", Phone: "+1 555 0199"}},
	} {
		if err := e.Server.Commerce.PutPartner(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	hash, err := account.HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	for email, channel := range map[string]string{"oem-customer@example.com": "orchid", "resold@example.com": "acme-resell"} {
		if _, _, err := e.Server.Store.CreateAccountWithOwner(ctx, store.Account{Type: "business", Name: "Customer", Plan: "free", Channel: channel},
			store.User{Email: email, DisplayName: "Cus Tomer", PasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
	}
	partnerURL := strings.Replace(e.URL, "127.0.0.1", partnerDomain, 1)

	// On the partner's domain: its name in the header and the title, its colours.
	oem := newUser(t, e, "oem-customer")
	oem.Navigate(partnerURL + "/signin")
	oem.WaitText("[data-testid=brand-name]", "Orchid Talk")
	var look struct {
		Title, Accent, Button, Brand string
	}
	oem.Eval(`({
		title: document.title,
		accent: getComputedStyle(document.documentElement).getPropertyValue('--accent').trim(),
		button: getComputedStyle(document.querySelector('form[data-testid=signin-form] button[type=submit]')).backgroundColor,
		brand: document.documentElement.dataset.brand,
	})`, &look)
	if !strings.Contains(look.Title, "Orchid Talk") || strings.Contains(look.Title, "Meridian") || look.Accent != "#7a1f5c" ||
		look.Button != "rgb(122, 31, 92)" || look.Brand != "orchid" {
		t.Errorf("the partner's domain looks like %+v", look)
	}
	if text := oem.Text("main"); strings.Contains(text, "Meridian") {
		t.Errorf("the sign-in page on the partner's domain names Meridian: %q", text)
	}
	signIn(oem, "oem-customer@example.com")
	oem.Navigate(partnerURL + "/settings")
	oem.WaitText("[data-testid=support-name]", "Orchid Talk")
	if got := oem.Text("[data-testid=support-email]"); got != "help@orchid.example" {
		t.Errorf("the OEM customer's support email %q", got)
	}

	// The same server on its own address: the default brand.
	resold := newUser(t, e, "reseller-customer")
	resold.Navigate("/signin")
	resold.WaitText("[data-testid=brand-name]", "Meridian")
	resold.Eval(`({
		title: document.title,
		accent: getComputedStyle(document.documentElement).getPropertyValue('--accent').trim(),
		button: getComputedStyle(document.querySelector('form[data-testid=signin-form] button[type=submit]')).backgroundColor,
		brand: document.documentElement.dataset.brand,
	})`, &look)
	if !strings.Contains(look.Title, "Meridian") || look.Accent == "#7a1f5c" || look.Button == "rgb(122, 31, 92)" || look.Brand != "direct" {
		t.Errorf("the server's own address looks like %+v", look)
	}
	// A reseller's customer: the product's brand, the reseller's support.
	signIn(resold, "resold@example.com")
	resold.Navigate("/settings")
	resold.WaitText("[data-testid=support-name]", "Acme Video")
	if got := resold.Text("[data-testid=support-email]"); got != "support@acme.example" {
		t.Errorf("the reseller customer's support email %q", got)
	}
	if text := resold.Text("[data-testid=support-contact]"); !strings.Contains(text, "+1 555 0199") {
		t.Errorf("the reseller's support card %q lacks its phone", text)
	}
}

// signIn signs u in on the sign-in page it is on, and waits for the dashboard.
func signIn(u *user, email string) {
	u.t.Helper()
	u.Fill("email", email)
	u.Fill("password", "correct horse battery staple")
	u.Click("form[data-testid=signin-form] button[type=submit]")
	u.WaitVisible("[data-testid=schedule-form]")
}

// An operator adds an OEM partner in the console (brand, domain, support) and a price
// book for it; both are listed, and the partner's domain is served under its brand at once.
func TestConsolePartnersAndPriceBooks(t *testing.T) {
	e := newBrowserEnv(t, chromedp.Flag("host-resolver-rules", "MAP "+partnerDomain+" 127.0.0.1"))
	e.DataDir = t.TempDir()
	e.Server = startServer(t, e.DataDir, server.Options{}, func(c *config.Config) { c.Operators = []string{"ops@example.com"} })
	e.URL = e.Server.URL()

	ops := newUser(t, e, "ops")
	ops.Navigate("/signup")
	ops.Fill("display_name", "Olga Ops")
	ops.Fill("email", "ops@example.com")
	ops.Fill("password", "correct horse battery staple")
	ops.Click("form[data-testid=signup-form] button[type=submit]")
	ops.WaitVisible("[data-testid=schedule-form]")
	ops.Click(`a[href="/console"]`)
	ops.WaitText("[data-testid=partners-table]", "No partners")

	form := "form[data-testid=partner-form] "
	ops.FillSelector(form+"[name=id]", "orchid")
	ops.FillSelector(form+"[name=name]", "Orchid Systems")
	ops.FillSelector(form+"[name=brand_name]", "Orchid Talk")
	ops.FillSelector(form+"[name=domain]", partnerDomain)
	ops.FillSelector(form+"[name=primary_color]", "#7a1f5c")
	ops.FillSelector(form+"[name=support_email]", "help@orchid.example")
	ops.Click(form + "button[type=submit]")
	row := ops.WaitText("[data-testid=partners-table] tbody tr", "orchid")
	for _, want := range []string{"oem", "Orchid Talk", partnerDomain, "help@orchid.example"} {
		if !strings.Contains(row, want) {
			t.Errorf("the partner's row %q lacks %q", row, want)
		}
	}
	// A colour that is not #rrggbb is refused before it is sent, naming the field.
	ops.FillSelector(form+"[name=primary_color]", "#7a1f5")
	ops.Click(form + "button[type=submit]")
	ops.WaitText("[data-testid=console-partners] [data-testid=error]", "Primary colour")

	books := "form[data-testid=price-book-form] "
	ops.FillSelector(books+"[name=channel]", "orchid")
	ops.FillSelector(books+"[name=currency]", "EUR")
	ops.FillSelector(books+"textarea[name=prices]", "pro month 900\nbusiness year 19000")
	ops.Click(books + "button[type=submit]")
	if got := ops.WaitText("[data-testid=price-books-table] tbody tr", "orchid"); !strings.Contains(got, "EUR") || !strings.Contains(got, "pro monthly") {
		t.Errorf("the price book's row %q", got)
	}
	ops.WaitText("[data-testid=subscriptions-table]", "No subscriptions.")

	visitor := newUser(t, e, "visitor")
	visitor.Navigate(strings.Replace(e.URL, "127.0.0.1", partnerDomain, 1) + "/")
	visitor.WaitText("[data-testid=brand-name]", "Orchid Talk")
}
