package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

type commerceFixture struct {
	*apiFixture
	svc *commerce.Service
	pay *commerce.TestProvider
	now time.Time
}

// newCommerceAPI serves New's handler with real account and commerce services over a real
// SQLite store, the 2020 China example policy, a test payment provider and a fixed clock.
func newCommerceAPI(t *testing.T) *commerceFixture {
	t.Helper()
	return newCommerceFixture(t, true)
}

// newCommerceFixture is newCommerceAPI, with or without the payment provider.
func newCommerceFixture(t *testing.T, payments bool) *commerceFixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir()}) // the account service's default region
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	accounts, err := account.New(st, &recordingSender{}, account.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	data, err := fs.ReadFile(policy.Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load("china-2020.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	f := &commerceFixture{apiFixture: &apiFixture{st: st, mail: &recordingSender{}}, pay: &commerce.TestProvider{DeclineToken: "tok_decline"}}
	opts := commerce.Options{Now: func() time.Time { return f.now }, Log: log, Policy: policy.NewHolder(pol),
		Operator: commerce.Support{Name: "Meridian", SupportContact: store.SupportContact{Email: "support@meridian.example"}}}
	if payments {
		opts.Payments = f.pay
	}
	f.svc = commerce.New(st, opts)
	for _, cur := range []string{"USD", "CNY"} {
		if err := f.svc.PutPriceBook(t.Context(), commerce.PriceBook{Channel: store.ChannelDirect, Currency: cur, Prices: []store.Price{
			{Plan: "pro", Interval: store.IntervalMonth, AmountMinor: 1500}, {Plan: "business", Interval: store.IntervalMonth, AmountMinor: 3100}}}); err != nil {
			t.Fatal(err)
		}
	}
	f.srv = httptest.NewServer(New(Deps{Log: log, Accounts: accounts, Commerce: f.svc}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *commerceFixture) signUpAs(t *testing.T, email string) session {
	t.Helper()
	r := f.call(t, "POST", "/api/signup", fmt.Sprintf(
		`{"account_type":"business","account_name":"Acme","email":%q,"display_name":"Ada","password":"correct horse battery"}`, email))
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

func (f *commerceFixture) checkout(t *testing.T, s session, key, body string) reply {
	t.Helper()
	return f.call(t, "POST", "/api/checkout", body, append(s.auth(true), IdempotencyHeader, key)...)
}

func buyBody(country, currency, token string) string {
	return fmt.Sprintf(`{"kind":"new","plan":"pro","currency":%q,"billing_country":%q,"payment_token":%q}`, currency, country, token)
}

type refusalOut struct {
	Code          string    `json:"code"`
	Message       string    `json:"message"`
	RuleID        string    `json:"rule_id"`
	Jurisdiction  string    `json:"jurisdiction"`
	EffectiveFrom time.Time `json:"effective_from"`
	PolicyVersion string    `json:"policy_version"`
	Alternatives  []struct {
		Kind    string `json:"kind"`
		Text    string `json:"text"`
		Partner *struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			Contact struct {
				Email string `json:"email"`
				URL   string `json:"url"`
			} `json:"contact"`
		} `json:"partner"`
	} `json:"alternatives"`
}

func refusalOf(t *testing.T, r reply) refusalOut {
	t.Helper()
	if r.status != http.StatusForbidden {
		t.Fatalf("status %d, body %s; want 403", r.status, r.body)
	}
	var out refusalOut
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

type subscriptionOut struct {
	Subscription *struct {
		Plan, Status, Channel string
		AmountMinor           int64 `json:"amount_minor"`
	} `json:"subscription"`
	Support struct{ Channel, Name, Email string } `json:"support"`
}

func (f *commerceFixture) subscription(t *testing.T, s session) subscriptionOut {
	t.Helper()
	r := f.call(t, "GET", "/api/subscription", "", s.auth(false)...)
	var out subscriptionOut
	if r.status != http.StatusOK || json.Unmarshal(r.body, &out) != nil {
		t.Fatalf("subscription: %d %s", r.status, r.body)
	}
	return out
}

// The 2020 China timeline through the API: on 24 August a CN billing address checking out
// directly is refused with the rule and the three partners and their contacts; on 22
// August online self-service is already refused (since 1 May) while an assisted direct
// sale still goes through; a US address buys and gets an invoice.
func TestCheckoutChina2020API(t *testing.T) {
	f := newCommerceAPI(t)
	f.now = time.Date(2020, 8, 24, 9, 0, 0, 0, time.UTC)
	cn := f.signUpAs(t, "cn@example.com")
	out := refusalOf(t, f.checkout(t, cn, "k1", buyBody("CN", "CNY", "tok_visa")))
	if out.Code != "direct_sales_closed_cn" || out.RuleID != "cn-buy-via-partner" || out.Jurisdiction != "CN" ||
		!out.EffectiveFrom.Equal(time.Date(2020, 8, 23, 0, 0, 0, 0, time.UTC)) || out.PolicyVersion != "china-2020.1" || out.Message == "" {
		t.Fatalf("refusal %+v", out)
	}
	var partners []string
	for _, a := range out.Alternatives {
		if a.Kind != "partner" || a.Partner == nil || a.Text == "" {
			t.Fatalf("alternative %+v", a)
		}
		partners = append(partners, a.Partner.ID)
	}
	if fmt.Sprint(partners) != "[lotus-bridge jade-harbor red-lantern]" || out.Alternatives[0].Partner.Contact.Email != "sales@lotus-bridge.example.com" {
		t.Fatalf("partners %v, first %+v", partners, out.Alternatives[0].Partner)
	}

	f.now = time.Date(2020, 8, 22, 9, 0, 0, 0, time.UTC)
	out = refusalOf(t, f.checkout(t, cn, "k2", buyBody("CN", "CNY", "tok_visa")))
	if out.Code != "self_service_closed_cn" || out.RuleID != "cn-buy-no-self-service" ||
		!out.EffectiveFrom.Equal(time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)) || len(out.Alternatives) != 1 || out.Alternatives[0].Kind != "contact_sales" {
		t.Fatalf("refusal on 2020-08-22 %+v", out)
	}
	if got := f.subscription(t, cn); got.Subscription != nil || len(f.pay.Charges()) != 0 {
		t.Fatalf("a refused checkout left %+v", got.Subscription)
	}
	// A sales person sells to the same account on the same day (assisted, not online).
	a, err := f.st.GetUserByEmail(t.Context(), "cn@example.com")
	if err != nil {
		t.Fatal(err)
	}
	acct, err := f.st.GetAccount(t.Context(), a.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Checkout(t.Context(), commerce.Buyer{Account: acct, Actor: "sales:1"}, commerce.CheckoutInput{Kind: commerce.KindNew,
		Plan: "pro", Currency: "CNY", BillingCountry: "CN", IdempotencyKey: "sales-1", PaymentToken: "tok_visa"}); err != nil {
		t.Fatalf("assisted direct sale on 2020-08-22: %v", err)
	}
	if got := f.subscription(t, cn); got.Subscription == nil || got.Subscription.Plan != "pro" || got.Support.Channel != "direct" {
		t.Fatalf("after the assisted sale: %+v", got)
	}

	f.now = time.Date(2020, 8, 24, 9, 0, 0, 0, time.UTC)
	us := f.signUpAs(t, "us@example.com")
	r := f.checkout(t, us, "k3", buyBody("US", "USD", "tok_visa"))
	if r.status != http.StatusCreated {
		t.Fatalf("US checkout: %d %s", r.status, r.body)
	}
	var paid struct {
		Order   struct{ Status string }
		Invoice struct {
			AmountMinor int64 `json:"amount_minor"`
			Currency    string
			Seller      struct{ Channel, Name string }
		}
	}
	if err := json.Unmarshal(r.body, &paid); err != nil || paid.Order.Status != "paid" || paid.Invoice.AmountMinor != 1500 ||
		paid.Invoice.Currency != "USD" || paid.Invoice.Seller.Name != "Meridian" {
		t.Fatalf("checkout body %s", r.body)
	}
	r = f.call(t, "GET", "/api/invoices", "", us.auth(false)...)
	var invs struct {
		Invoices []struct {
			AmountMinor int64 `json:"amount_minor"`
		}
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &invs) != nil || len(invs.Invoices) != 1 || invs.Invoices[0].AmountMinor != 1500 {
		t.Fatalf("invoices: %d %s", r.status, r.body)
	}
	if got := f.subscription(t, us); got.Subscription == nil || got.Subscription.Status != "active" || got.Support.Email != "support@meridian.example" {
		t.Fatalf("US subscription %+v", got)
	}
}

// A retried checkout with the same idempotency key charges once; a declined card records
// no subscription.
func TestCheckoutRetryAndDeclineAPI(t *testing.T) {
	f := newCommerceAPI(t)
	f.now = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	s := f.signUpAs(t, "retry@example.com")
	first := f.checkout(t, s, "same-key", buyBody("US", "USD", "tok_visa"))
	again := f.checkout(t, s, "same-key", buyBody("US", "USD", "tok_visa"))
	if first.status != http.StatusCreated || again.status != http.StatusOK {
		t.Fatalf("first %d %s, retry %d %s", first.status, first.body, again.status, again.body)
	}
	var o1, o2 struct {
		Order    struct{ ID string }
		Replayed bool
	}
	_ = json.Unmarshal(first.body, &o1)
	_ = json.Unmarshal(again.body, &o2)
	if o1.Order.ID == "" || o1.Order.ID != o2.Order.ID || !o2.Replayed || len(f.pay.Charges()) != 1 {
		t.Fatalf("orders %s then %s (replayed %t), %d charges", o1.Order.ID, o2.Order.ID, o2.Replayed, len(f.pay.Charges()))
	}
	if r := f.checkout(t, s, "same-key", `{"kind":"new","plan":"business","currency":"USD","billing_country":"US","payment_token":"tok_visa"}`); r.status != http.StatusConflict || r.code(t) != "idempotency_key_reused" {
		t.Fatalf("reused key: %d %s", r.status, r.body)
	}
	if r := f.checkout(t, s, "", buyBody("US", "USD", "tok_visa")); r.status != http.StatusBadRequest || r.code(t) != "invalid_input" {
		t.Fatalf("no key: %d %s", r.status, r.body)
	}

	d := f.signUpAs(t, "declined@example.com")
	if r := f.checkout(t, d, "d1", buyBody("US", "USD", "tok_decline")); r.status != http.StatusPaymentRequired || r.code(t) != "payment_declined" {
		t.Fatalf("declined: %d %s", r.status, r.body)
	}
	if got := f.subscription(t, d); got.Subscription != nil {
		t.Fatalf("a declined card got %+v", got.Subscription)
	}
	r := f.call(t, "GET", "/api/me", "", d.auth(false)...)
	var me struct{ Account struct{ Plan string } }
	if json.Unmarshal(r.body, &me) != nil || me.Account.Plan != "free" || len(f.pay.Charges()) != 1 {
		t.Fatalf("after a decline: %s, %d charges", r.body, len(f.pay.Charges()))
	}
}

// The price book of the caller's channel; bad currencies; keys need the billing scopes.
func TestPlansAPI(t *testing.T) {
	f := newCommerceAPI(t)
	f.now = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	s := f.signUpAs(t, "plans@example.com")
	r := f.call(t, "GET", "/api/plans?currency=USD", "", s.auth(false)...)
	var book struct {
		Channel, Currency string
		Prices            []struct {
			Plan        string
			AmountMinor int64 `json:"amount_minor"`
		}
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &book) != nil || book.Channel != "direct" || len(book.Prices) != 2 ||
		book.Prices[0].Plan != "pro" || book.Prices[0].AmountMinor != 1500 {
		t.Fatalf("plans: %d %s", r.status, r.body)
	}
	if r := f.call(t, "GET", "/api/plans?currency=usd", "", s.auth(false)...); r.status != http.StatusBadRequest || r.code(t) != "invalid_input" {
		t.Fatalf("lower-case currency: %d %s", r.status, r.body)
	}
	if r := f.call(t, "GET", "/api/plans?currency=EUR", "", s.auth(false)...); r.status != http.StatusNotFound || r.code(t) != "no_price" {
		t.Fatalf("no EUR book: %d %s", r.status, r.body)
	}
	_, meetingsKey := f.createKey(t, s, "meetings:read")
	bearer := []string{"Authorization", "Bearer " + meetingsKey}
	if r := f.call(t, "GET", "/api/plans", "", bearer...); r.status != http.StatusForbidden || r.code(t) != "forbidden" {
		t.Fatalf("key without billing:read: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/api/checkout", buyBody("US", "USD", "tok_visa"), append(bearer, IdempotencyHeader, "x")...); r.status != http.StatusForbidden {
		t.Fatalf("key without billing:write checked out: %d %s", r.status, r.body)
	}
	_, billingKey := f.createKey(t, s, "billing:read")
	if r := f.call(t, "GET", "/api/plans", "", "Authorization", "Bearer "+billingKey); r.status != http.StatusOK {
		t.Fatalf("key with billing:read: %d %s", r.status, r.body)
	}
	if len(f.pay.Charges()) != 0 {
		t.Fatal("charged without billing:write")
	}
}

// The price book says whether this server takes payments online, so that the browser app
// can say so before anyone fills in a form: true with a payment provider, false without,
// when a checkout is payments_unavailable and charges nothing.
func TestPlansSayWhetherPaymentsAreTaken(t *testing.T) {
	for _, payments := range []bool{true, false} {
		f := newCommerceFixture(t, payments)
		f.now = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
		s := f.signUpAs(t, "payments@example.com")
		r := f.call(t, "GET", "/api/plans", "", s.auth(false)...)
		var book struct {
			Payments *bool `json:"payments"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &book) != nil || book.Payments == nil || *book.Payments != payments {
			t.Fatalf("with a provider %t, plans: %d %s", payments, r.status, r.body)
		}
		r = f.checkout(t, s, "k1", buyBody("US", "USD", "tok_visa"))
		if payments && r.status != http.StatusCreated {
			t.Fatalf("checkout with a provider: %d %s", r.status, r.body)
		}
		if !payments && (r.status != http.StatusServiceUnavailable || r.code(t) != "payments_unavailable" || len(f.pay.Charges()) != 0) {
			t.Fatalf("checkout without a provider: %d %s", r.status, r.body)
		}
	}
}
