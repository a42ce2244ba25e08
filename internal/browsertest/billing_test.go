package browsertest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/server"
	"github.com/meridian-video/meridian/internal/store"
)

// china2020 writes the 2020 China example policy to a file for a server's policy_file.
func china2020(t *testing.T) string {
	t.Helper()
	doc, err := fs.ReadFile(policy.Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// putPrices gives the direct channel a USD price book.
func putPrices(t *testing.T, e *env) {
	t.Helper()
	if err := e.Server.Commerce.PutPriceBook(t.Context(), commerce.PriceBook{Channel: store.ChannelDirect, Currency: "USD", Prices: []store.Price{
		{Plan: "pro", Interval: store.IntervalMonth, AmountMinor: 1500},
		{Plan: "business", Interval: store.IntervalMonth, AmountMinor: 3100},
		{Plan: "enterprise", Interval: store.IntervalMonth, AmountMinor: 9900},
	}}); err != nil {
		t.Fatal(err)
	}
}

// signUp fills in the sign-up page; accountName empty signs up an individual.
func signUp(u *user, name, email, country, accountName string) {
	u.Navigate("/signup")
	u.Fill("display_name", name)
	u.Fill("email", email)
	u.Fill("password", "correct horse battery staple")
	if accountName != "" {
		u.Fill("account_type", "business")
		u.Fill("account_name", accountName)
	}
	u.Fill("country", country)
	u.Click("form[data-testid=signup-form] button[type=submit]")
	u.WaitVisible("[data-testid=schedule-form]")
}

// The 2020 mainland China timeline in the browser, with a fixed clock and the test double
// of a payment processor. On 2 May a free individual account in CN (opened 30 April) may
// not host, but joins a meeting a US user hosts, through the invitation. On 22 August a
// CN business's owner cannot subscribe online with a CN billing address (self-service
// closed, contact sales); on 24 August the same is refused naming the three authorized
// partners and their contacts; with a US billing address it is sold: the card shows the
// subscription and its invoice, and the provider charged once.
func TestBillingChina2020InTheBrowser(t *testing.T) {
	clock := &fixedClock{t: time.Date(2020, 4, 30, 12, 0, 0, 0, time.UTC)}
	pay := &commerce.TestProvider{}
	policyFile := china2020(t)
	env := newEnvWith(t, server.Options{Now: clock.Now, Payments: pay}, func(c *config.Config) { c.PolicyFile = policyFile })
	putPrices(t, env)

	li := newUser(t, env, "li")
	signUp(li, "Li Wei", "li@example.com", "CN", "")
	host := newUser(t, env, "host")
	signUp(host, "Hester Host", "hester@example.com", "US", "")

	clock.set(time.Date(2020, 5, 2, 9, 0, 0, 0, time.UTC))
	li.Click("[data-testid=instant-meeting]")
	li.WaitText("[data-testid=error]", "can no longer host them")
	if got := li.Attr("[data-testid=error]", "data-code"); got != "free_plan_cannot_host_cn" {
		t.Fatalf("hosting refusal code %q", got)
	}
	host.Click("[data-testid=instant-meeting]")
	host.WaitVisible("[data-testid=invite-card]") // alone in the meeting: how to invite
	link := host.Attr("[data-testid=invite-url]", "value")
	li.Navigate(link)
	li.Click("[data-testid=join-button]") // signed in: the name is the account's
	li.WaitVisible("[data-testid=waiting-room]")
	host.Click("[data-testid=participants-toggle]")
	host.WaitText("[data-testid=lobby-entry]", "Li Wei")
	host.Click("[data-testid=lobby-entry] [data-action=admit]")
	li.WaitVisible("[data-testid=meeting]")
	liID := li.Attr("[data-testid=tile][data-self=true]", "data-participant-id")
	host.WaitVisible(`[data-testid=tile][data-participant-id="` + liID + `"]`)

	clock.set(time.Date(2020, 8, 22, 9, 0, 0, 0, time.UTC))
	chen := newUser(t, env, "chen")
	signUp(chen, "Chen Jing", "chen@example.com", "CN", "Shanghai Tea Co")
	chen.Navigate("/settings")
	card := "[data-testid=billing-card] "
	chen.WaitText(card+"[data-testid=billing-plan-name]", "Free")
	if got := chen.Attr(card+"[name=billing_country]", "value"); got != "CN" {
		t.Fatalf("billing country prefilled %q, want the account's CN", got)
	}
	if n := chen.Count(card + "[data-testid=billing-buy][data-kind=new]"); n != 3 {
		t.Fatalf("%d Subscribe buttons, want one per plan", n)
	}
	chen.FillSelector(card+"[name=payment_token]", "tok_test_visa")
	business := card + `[data-testid=billing-prices] tr[data-plan=business][data-interval=month] [data-testid=billing-buy]`
	chen.Click(business)
	text := chen.WaitText(card+"[data-testid=error]", "can no longer be bought online")
	if !strings.Contains(text, "cn-buy-no-self-service") || chen.Attr(card+"[data-testid=error]", "data-code") != "self_service_closed_cn" {
		t.Errorf("the refusal on 22 August: %q", text)
	}

	clock.set(time.Date(2020, 8, 24, 9, 0, 0, 0, time.UTC))
	chen.Click(business)
	text = chen.WaitText(card+"[data-testid=error]", "sold only by our authorized partners")
	for _, want := range []string{
		"Subscriptions billed to an address in mainland China are sold only by our authorized partners.",
		"This is rule cn-buy-via-partner for CN, in effect since",
		"What you can do instead:",
		"Lotus Bridge Networks (fictional)", "https://lotus-bridge.example.com/meetings", "sales@lotus-bridge.example.com", "+86 10 0000 0101",
		"Jade Harbor Communications (fictional)", "https://jade-harbor.test/", "business@jade-harbor.test",
		"Red Lantern Cloud (fictional)", "https://red-lantern.example.com/", "+86 21 0000 0303",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the refusal on 24 August lacks %q: %q", want, text)
		}
	}
	if n := chen.Count(card + "[data-testid=policy-alternatives] li[data-kind=partner]"); n != 3 {
		t.Errorf("%d partners offered, want 3", n)
	}
	if n := len(pay.Charges()); n != 0 {
		t.Fatalf("refused checkouts charged %d times", n)
	}

	chen.FillSelector(card+"[name=billing_country]", "US")
	chen.Click(business)
	chen.WaitText(card+"[data-testid=billing-status]", "You are subscribed to Business.")
	chen.WaitGone(card + "[data-testid=error]")
	if got := chen.Text(card + "[data-testid=billing-plan-name]"); got != "Business" {
		t.Errorf("plan shown %q", got)
	}
	if got := chen.Text(card + "[data-testid=billing-subscription]"); !strings.Contains(got, "Business") || !strings.Contains(got, "31.00") ||
		!strings.Contains(got, "billed to US") || !strings.Contains(got, "Renews on") || !strings.Contains(got, "2020") {
		t.Errorf("subscription shown %q", got)
	}
	invoices := chen.Texts(card + "[data-testid=invoice]")
	if len(invoices) != 1 || !strings.Contains(invoices[0], "Subscription to business (monthly)") || !strings.Contains(invoices[0], "31.00") ||
		!strings.Contains(invoices[0], "Meridian") || !strings.Contains(invoices[0], "2020") {
		t.Errorf("invoices shown %q", invoices)
	}
	// Subscribed, the bigger plan is an upgrade and the smaller one is not offered.
	if n, up := chen.Count(card+"[data-testid=billing-buy]"), chen.Count(card+"tr[data-plan=enterprise] [data-testid=billing-buy][data-kind=upgrade]"); n != 1 || up != 1 {
		t.Errorf("after subscribing: %d buttons, %d upgrade to enterprise; want just that one", n, up)
	}
	charges := pay.Charges()
	if len(charges) != 1 || charges[0].AmountMinor != 3100 || charges[0].Currency != "USD" || charges[0].PaymentToken != "tok_test_visa" {
		t.Fatalf("charges %+v, want one of 3100 USD with the token typed", charges)
	}
}

// A server without a payment provider says so in the card, and whom to contact, and
// offers no form to fill in: nothing can be bought online there.
func TestBillingWithoutPaymentsInTheBrowser(t *testing.T) {
	env := newEnv(t)
	putPrices(t, env)
	ada := newUser(t, env, "ada")
	signUp(ada, "Ada Lovelace", "ada@example.com", "US", "Analytical Engines")
	ada.Navigate("/settings")
	card := "[data-testid=billing-card] "
	text := ada.WaitText(card+"[data-testid=payments-unavailable]", "Online payment is not set up on this server")
	if !strings.Contains(text, "contact Meridian") {
		t.Errorf("the notice does not say whom to contact: %q", text)
	}
	if got := ada.Texts(card + "[data-testid=billing-prices] tbody tr"); len(got) != 3 || !strings.Contains(got[0], "15.00") {
		t.Errorf("prices shown %q", got)
	}
	if n := ada.Count(card+"[data-testid=billing-buy]") + ada.Count(card+"[name=payment_token]"); n != 0 {
		t.Errorf("%d buttons and payment fields offered without payments", n)
	}
	ada.WaitText(card+"[data-testid=invoices]", "No invoices yet.")
}
