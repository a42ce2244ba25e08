package commerce

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/decisionlog"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/store"
)

// fixture is a Service over a real SQLite store, with the 2020 China example policy, a
// test payment provider and a clock the test sets.
type fixture struct {
	st  *store.Store
	dl  *decisionlog.Log
	svc *Service
	pay *TestProvider
	now time.Time
}

const declineToken, failToken, goodToken = "tok_decline", "tok_fail", "tok_visa"

func chinaPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	data, err := fs.ReadFile(policy.Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load("china-2020.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir(), Region: "us-east"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, pay: &TestProvider{DeclineToken: declineToken, FailToken: failToken},
		now: time.Date(2020, 8, 24, 10, 0, 0, 0, time.UTC)}
	f.dl = decisionlog.New(st, decisionlog.Options{Now: func() time.Time { return f.now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { f.dl.Close(context.Background()) })
	f.svc = New(st, Options{
		Now: func() time.Time { return f.now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Policy: policy.NewHolder(chinaPolicy(t)), Payments: f.pay,
		Decisions: f.dl,
		Operator:  Support{Name: "Meridian", SupportContact: store.SupportContact{Email: "support@meridian.example"}},
	})
	ctx := t.Context()
	for _, p := range []store.Partner{
		{ID: "lotus-bridge", Kind: store.PartnerOEM, Name: "Lotus Bridge Networks", Brand: store.Brand{Name: "Lotus Meet"},
			Support: store.SupportContact{Email: "help@lotus-bridge.example.com"}, Jurisdictions: []string{"CN"}},
		{ID: "jade-harbor", Kind: store.PartnerOEM, Name: "Jade Harbor Communications",
			Support: store.SupportContact{Phone: "+86 10 0000 0202"}, Jurisdictions: []string{"CN"}},
		{ID: "acme-resell", Kind: store.PartnerReseller, Name: "Acme Resellers", Brand: store.Brand{Name: "Acme Video"},
			Support: store.SupportContact{Email: "support@acme.example", Phone: "+1 555 0199"}, Jurisdictions: []string{"US"}},
	} {
		if err := f.svc.PutPartner(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []PriceBook{
		{Channel: store.ChannelDirect, Currency: "USD", Prices: []store.Price{
			{Plan: "pro", Interval: store.IntervalMonth, AmountMinor: 1500}, {Plan: "business", Interval: store.IntervalMonth, AmountMinor: 3100},
			{Plan: "enterprise", Interval: store.IntervalMonth, AmountMinor: 6200}, {Plan: "pro", Interval: store.IntervalYear, AmountMinor: 15000}}},
		{Channel: store.ChannelDirect, Currency: "CNY", Prices: []store.Price{{Plan: "pro", Interval: store.IntervalMonth, AmountMinor: 9900}}},
		{Channel: "lotus-bridge", Currency: "CNY", Prices: []store.Price{{Plan: "pro", Interval: store.IntervalMonth, AmountMinor: 8800}}},
		{Channel: "jade-harbor", Currency: "CNY", Prices: []store.Price{{Plan: "pro", Interval: store.IntervalMonth, AmountMinor: 9100}}},
		{Channel: "acme-resell", Currency: "USD", Prices: []store.Price{{Plan: "pro", Interval: store.IntervalMonth, AmountMinor: 1299}}},
	} {
		if err := f.svc.PutPriceBook(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// account creates a business account of a channel.
func (f *fixture) account(t testing.TB, channel string) store.Account {
	t.Helper()
	a, _, err := f.st.CreateAccountWithOwner(t.Context(),
		store.Account{Type: "business", Name: "Customer " + channel, Plan: "free", Channel: channel},
		store.User{Email: rand.Text() + "@example.com", DisplayName: "Owner", PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fixture) plan(t *testing.T, id string) string {
	t.Helper()
	a, err := f.st.GetAccount(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a.Plan
}

func owner(a store.Account) Buyer { return Buyer{Account: a, Actor: "user-1", Role: "owner"} }

func buy(key, country, currency string, online bool) CheckoutInput {
	return CheckoutInput{Kind: KindNew, Plan: "pro", Currency: currency, BillingCountry: country,
		IdempotencyKey: key, PaymentToken: goodToken, Online: online}
}

func wantCode(t *testing.T, err error, code string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	return e
}

func partnerIDs(d *policy.Decision) []string {
	var ids []string
	for _, a := range d.Alternatives {
		if a.Partner != nil {
			ids = append(ids, a.Partner.ID)
		}
	}
	return ids
}

// The 2020 timeline at checkout: on 22 August a CN billing address cannot buy online but a
// sales person still sells to it; from 23 August direct sales are closed too and the
// buyer is sent to the three partners, through whom the sale goes ahead; a US address buys
// on every date.
func TestChina2020Checkout(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()

	f.now = time.Date(2020, 8, 22, 10, 0, 0, 0, time.UTC)
	cn := f.account(t, store.ChannelDirect)
	_, err := f.svc.Checkout(ctx, owner(cn), buy("k1", "CN", "CNY", true))
	e := wantCode(t, err, "self_service_closed_cn")
	if e.Decision.RuleID != "cn-buy-no-self-service" || e.Decision.Jurisdiction != "CN" ||
		!e.Decision.EffectiveFrom.Equal(time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("decision %+v", e.Decision)
	}
	r, err := f.svc.Checkout(ctx, owner(cn), buy("k2", "CN", "CNY", false))
	if err != nil {
		t.Fatalf("assisted direct sale on 2020-08-22: %v", err)
	}
	if r.Invoice.AmountMinor != 9900 || r.Invoice.SellerChannel != store.ChannelDirect || f.plan(t, cn.ID) != "pro" {
		t.Fatalf("receipt %+v", r)
	}

	f.now = time.Date(2020, 8, 24, 10, 0, 0, 0, time.UTC)
	cn2 := f.account(t, store.ChannelDirect)
	for _, online := range []bool{true, false} {
		_, err = f.svc.Checkout(ctx, owner(cn2), buy("k3", "CN", "CNY", online))
		e = wantCode(t, err, "direct_sales_closed_cn")
		if e.Decision.RuleID != "cn-buy-via-partner" ||
			!slices.Equal(partnerIDs(e.Decision), []string{"lotus-bridge", "jade-harbor", "red-lantern"}) {
			t.Fatalf("online=%t: decision %+v", online, e.Decision)
		}
	}
	if _, ok, _ := f.svc.Subscription(ctx, cn2); ok || len(f.pay.Charges()) != 1 {
		t.Fatalf("a refused checkout recorded or charged something (charges %d)", len(f.pay.Charges()))
	}
	// Each refusal is in the audit trail with its rule and policy version.
	entries, err := f.st.ListAudit(ctx, store.AuditQuery{Subject: cn2.ID})
	if err != nil || len(entries) != 2 || entries[0].Action != "commerce.checkout.new" || entries[0].Outcome != "direct_sales_closed_cn" ||
		!strings.Contains(entries[0].Detail, "rule=cn-buy-via-partner policy=china-2020.1") {
		t.Fatalf("audit %+v, %v", entries, err)
	}

	// Each decision is in the decision log with its facts, by account id.
	ds, err := f.dl.List(ctx, store.DecisionQuery{RuleID: "cn-buy-via-partner"})
	if err != nil || len(ds) != 2 || ds[0].Subject != cn2.ID || ds[0].Question != "buy" || ds[0].Allowed ||
		!strings.Contains(ds[0].Facts, `"billing_country":"CN"`) || ds[0].PolicyVersion != "china-2020.1" {
		t.Fatalf("decision log %+v, %v", ds, err)
	}

	// Through an authorized partner, at its prices, invoiced by it.
	lotus, err := f.svc.ForPartner(ctx, "lotus-bridge")
	if err != nil {
		t.Fatal(err)
	}
	cust := f.account(t, "lotus-bridge")
	r, err = lotus.Checkout(ctx, cust.ID, buy("k4", "CN", "CNY", true))
	if err != nil {
		t.Fatalf("partner sale on 2020-08-24: %v", err)
	}
	if r.Invoice.AmountMinor != 8800 || r.Invoice.SellerChannel != "lotus-bridge" || r.Invoice.SellerName != "Lotus Meet" {
		t.Fatalf("partner invoice %+v", r.Invoice)
	}

	us := f.account(t, store.ChannelDirect)
	if _, err := f.svc.Checkout(ctx, owner(us), buy("k5", "US", "USD", true)); err != nil {
		t.Fatalf("US buyer on 2020-08-24: %v", err)
	}
}

// A retried checkout with the same idempotency key charges once and answers as the
// first; the key cannot be reused for another purchase.
func TestCheckoutIsIdempotent(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a := f.account(t, store.ChannelDirect)
	first, err := f.svc.Checkout(ctx, owner(a), buy("same", "US", "USD", true))
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.Checkout(ctx, owner(a), buy("same", "US", "USD", true))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.Order.ID != first.Order.ID || again.Subscription.ID != first.Subscription.ID {
		t.Fatalf("retry %+v, first %+v", again, first)
	}
	if n := len(f.pay.Charges()); n != 1 {
		t.Fatalf("%d charges for one checkout retried", n)
	}
	other := buy("same", "US", "USD", true)
	other.Plan = "business"
	_, err = f.svc.Checkout(ctx, owner(a), other)
	wantCode(t, err, CodeIdempotencyMismatch)
	if inv, _ := f.svc.Invoices(ctx, a); len(inv) != 1 {
		t.Fatalf("%d invoices, want 1", len(inv))
	}
}

// A declined card records no subscription, no invoice and no plan; a retry with its key
// is declined again without charging; a new key with another card buys.
func TestDeclinedCardRecordsNoSubscription(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a := f.account(t, store.ChannelDirect)
	in := buy("d1", "US", "USD", true)
	in.PaymentToken = declineToken
	for range 2 {
		_, err := f.svc.Checkout(ctx, owner(a), in)
		wantCode(t, err, CodePaymentDeclined)
	}
	if _, ok, _ := f.svc.Subscription(ctx, a); ok {
		t.Fatal("a declined card got a subscription")
	}
	if inv, _ := f.svc.Invoices(ctx, a); len(inv) != 0 || f.plan(t, a.ID) != "free" || len(f.pay.Charges()) != 0 {
		t.Fatalf("after a decline: invoices %v, plan %s, charges %d", inv, f.plan(t, a.ID), len(f.pay.Charges()))
	}
	if _, err := f.svc.Checkout(ctx, owner(a), buy("d2", "US", "USD", true)); err != nil {
		t.Fatal(err)
	}
}

// A charge that could not be made is retried under the same order, so that the provider
// sees one idempotency key; it is paid once.
func TestFailedChargeIsRetriedAsTheSameOrder(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a := f.account(t, store.ChannelDirect)
	in := buy("f1", "US", "USD", true)
	in.PaymentToken = failToken
	_, err := f.svc.Checkout(ctx, owner(a), in)
	wantCode(t, err, CodePaymentFailed)
	in.PaymentToken = goodToken
	r, err := f.svc.Checkout(ctx, owner(a), in)
	if err != nil {
		t.Fatal(err)
	}
	ch := f.pay.Charges()
	if len(ch) != 1 || ch[0].IdempotencyKey != r.Order.ID {
		t.Fatalf("charges %+v for order %s", ch, r.Order.ID)
	}
}

// No payment provider: nothing is sold (fail closed).
func TestNoPaymentProviderSellsNothing(t *testing.T) {
	f := newFixture(t)
	f.svc.payments = nil
	a := f.account(t, store.ChannelDirect)
	_, err := f.svc.Checkout(t.Context(), owner(a), buy("n1", "US", "USD", true))
	wantCode(t, err, CodePaymentsUnavailable)
	if _, ok, _ := f.svc.Subscription(t.Context(), a); ok || f.plan(t, a.ID) != "free" {
		t.Fatal("a sale was recorded without a payment provider")
	}
}

// An upgrade charges the price difference for the time left and keeps the renewal date;
// the account's plan changes.
func TestUpgradeIsProrated(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.now = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a := f.account(t, store.ChannelDirect)
	in := buy("u1", "US", "USD", true)
	in.Plan = "business"
	first, err := f.svc.Checkout(ctx, owner(a), in)
	if err != nil {
		t.Fatal(err)
	}
	// 31 days in March; 10 days left on 22 March: (6200 - 3100) * 10/31 = 1000.
	f.now = time.Date(2026, 3, 22, 0, 0, 0, 0, time.UTC)
	up := CheckoutInput{Kind: KindUpgrade, Plan: "enterprise", BillingCountry: "US", IdempotencyKey: "u2", PaymentToken: goodToken, Online: true}
	r, err := f.svc.Checkout(ctx, owner(a), up)
	if err != nil {
		t.Fatal(err)
	}
	if r.Order.AmountMinor != 1000 || r.Invoice.AmountMinor != 1000 {
		t.Errorf("upgrade charged %d, want 1000", r.Order.AmountMinor)
	}
	if r.Subscription.ID != first.Subscription.ID || !r.Subscription.PeriodEnd.Equal(first.Subscription.PeriodEnd) ||
		r.Subscription.AmountMinor != 6200 || f.plan(t, a.ID) != "enterprise" {
		t.Errorf("after upgrade %+v (plan %s), before %+v", r.Subscription, f.plan(t, a.ID), first.Subscription)
	}
	up.IdempotencyKey, up.Plan = "u3", "pro"
	_, err = f.svc.Checkout(ctx, owner(a), up)
	wantCode(t, err, CodeNotAnUpgrade)
}

// An existing direct subscription in CN runs to its renewal date after 23 August; renewing
// it directly is refused with the partners; unrenewed, it expires and the plan goes. A US
// subscription renews from its end date.
func TestRenewalDecidedAtRenewal(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.now = time.Date(2020, 8, 20, 0, 0, 0, 0, time.UTC)
	cn := f.account(t, store.ChannelDirect)
	if _, err := f.svc.Checkout(ctx, owner(cn), buy("r1", "CN", "CNY", false)); err != nil {
		t.Fatal(err)
	}
	us := f.account(t, store.ChannelDirect)
	first, err := f.svc.Checkout(ctx, owner(us), buy("r2", "US", "USD", true))
	if err != nil {
		t.Fatal(err)
	}
	f.now = time.Date(2020, 9, 10, 0, 0, 0, 0, time.UTC)
	if n, err := f.svc.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("expired %d before the renewal date, %v", n, err)
	}
	if sub, ok, _ := f.svc.Subscription(ctx, cn); !ok || sub.Status != store.SubscriptionActive || f.plan(t, cn.ID) != "pro" {
		t.Fatal("the CN subscription did not run to its renewal date")
	}
	renew := CheckoutInput{Kind: KindRenew, BillingCountry: "CN", IdempotencyKey: "r3", PaymentToken: goodToken, Online: true}
	_, err = f.svc.Checkout(ctx, owner(cn), renew)
	e := wantCode(t, err, "direct_renewal_closed_cn")
	if len(partnerIDs(e.Decision)) != 3 {
		t.Fatalf("renewal refusal offers %v", partnerIDs(e.Decision))
	}
	renew.BillingCountry, renew.IdempotencyKey = "US", "r4"
	r, err := f.svc.Checkout(ctx, owner(us), renew)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Subscription.PeriodStart.Equal(first.Subscription.PeriodEnd) || !r.Subscription.PeriodEnd.Equal(time.Date(2020, 10, 20, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("renewed period %s to %s", r.Subscription.PeriodStart, r.Subscription.PeriodEnd)
	}
	f.now = time.Date(2020, 9, 20, 0, 0, 0, 0, time.UTC)
	if n, err := f.svc.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("expired %d at the renewal date, %v", n, err)
	}
	if _, ok, _ := f.svc.Subscription(ctx, cn); ok || f.plan(t, cn.ID) != "free" {
		t.Error("the unrenewed CN subscription did not expire")
	}
	if _, ok, _ := f.svc.Subscription(ctx, us); !ok || f.plan(t, us.ID) != "pro" {
		t.Error("the renewed US subscription expired")
	}
}

// A renewal opens two weeks before the renewal date; one whose card is declined leaves
// the subscription past due until its end.
func TestDeclinedRenewalIsPastDue(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a := f.account(t, store.ChannelDirect)
	if _, err := f.svc.Checkout(ctx, owner(a), buy("p1", "US", "USD", true)); err != nil {
		t.Fatal(err)
	}
	renew := CheckoutInput{Kind: KindRenew, BillingCountry: "US", IdempotencyKey: "p2", PaymentToken: declineToken}
	_, err := f.svc.Checkout(ctx, owner(a), renew)
	wantCode(t, err, CodeRenewalNotDue) // a month ahead: the period is paid for
	f.now = f.now.AddDate(0, 1, -3)
	_, err = f.svc.Checkout(ctx, owner(a), renew)
	wantCode(t, err, CodePaymentDeclined)
	if sub, ok, _ := f.svc.Subscription(ctx, a); !ok || sub.Status != store.SubscriptionPastDue || f.plan(t, a.ID) != "pro" {
		t.Fatalf("after a declined renewal: %+v", sub)
	}
}

// A reseller sells from its own price book, its invoices name it as the seller, and its
// customers see its support contact; direct customers see the operator's.
func TestResellerBillsAndSupportsItsCustomers(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.now = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	a := f.account(t, "acme-resell")
	book, err := f.svc.PlansFor(ctx, a, "USD")
	if err != nil || book.Channel != "acme-resell" || len(book.Prices) != 1 || book.Prices[0].AmountMinor != 1299 {
		t.Fatalf("reseller's book %+v, %v", book, err)
	}
	_, err = f.svc.PlansFor(ctx, a, "EUR")
	wantCode(t, err, CodeNoPrice)
	in := buy("s1", "US", "USD", true)
	in.Plan = "business" // the direct book has it, the reseller's does not
	_, err = f.svc.Checkout(ctx, owner(a), in)
	e := wantCode(t, err, CodeNoPrice)
	if e.Message != `the plan "business" has no monthly price in the USD price book of channel acme-resell` {
		t.Errorf("message %q", e.Message)
	}
	r, err := f.svc.Checkout(ctx, owner(a), buy("s2", "US", "USD", true))
	if err != nil {
		t.Fatal(err)
	}
	if r.Invoice.SellerName != "Acme Video" || r.Invoice.SellerChannel != "acme-resell" ||
		r.Invoice.SellerContact != "support@acme.example, +1 555 0199" || r.Invoice.AmountMinor != 1299 {
		t.Fatalf("reseller invoice %+v", r.Invoice)
	}
	sup, err := f.svc.SupportContact(ctx, a)
	if err != nil || sup.Channel != "acme-resell" || sup.Email != "support@acme.example" {
		t.Fatalf("reseller customer's support %+v, %v", sup, err)
	}
	sup, err = f.svc.SupportContact(ctx, f.account(t, store.ChannelDirect))
	if err != nil || sup.Channel != store.ChannelDirect || sup.Email != "support@meridian.example" {
		t.Fatalf("direct customer's support %+v, %v", sup, err)
	}
}

// A partner sees and changes only its own customers: another partner's customer is
// not_found exactly as an id nobody has, in reads, lists, checkouts and cancels.
func TestPartnerIsolation(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	lotus, err := f.svc.ForPartner(ctx, "lotus-bridge")
	if err != nil {
		t.Fatal(err)
	}
	jade, err := f.svc.ForPartner(ctx, "jade-harbor")
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := f.account(t, "lotus-bridge"), f.account(t, "jade-harbor")
	f.account(t, store.ChannelDirect)
	if _, err := lotus.Checkout(ctx, mine.ID, buy("i1", "CN", "CNY", false)); err != nil {
		t.Fatal(err)
	}
	if _, err := jade.Checkout(ctx, theirs.ID, buy("i2", "CN", "CNY", false)); err != nil {
		t.Fatal(err)
	}
	charges := len(f.pay.Charges())

	_, errTheirs := lotus.Account(ctx, theirs.ID)
	_, errNobody := lotus.Account(ctx, "NOSUCHACCOUNT0000000000000")
	wantCode(t, errTheirs, CodeNotFound)
	if errTheirs.Error() != errNobody.Error() {
		t.Errorf("another partner's customer %q and an unknown id %q answer differently", errTheirs, errNobody)
	}
	_, _, err = lotus.Subscription(ctx, theirs.ID)
	wantCode(t, err, CodeNotFound)
	_, err = lotus.Invoices(ctx, theirs.ID)
	wantCode(t, err, CodeNotFound)
	up := CheckoutInput{Kind: KindUpgrade, Plan: "business", BillingCountry: "CN", IdempotencyKey: "i3", PaymentToken: goodToken}
	_, err = lotus.Checkout(ctx, theirs.ID, up)
	wantCode(t, err, CodeNotFound)
	wantCode(t, lotus.Cancel(ctx, theirs.ID), CodeNotFound)
	if sub, ok, _ := jade.Subscription(ctx, theirs.ID); !ok || sub.Status != store.SubscriptionActive || len(f.pay.Charges()) != charges {
		t.Fatal("a partner changed another partner's customer")
	}

	accts, err := lotus.Accounts(ctx)
	if err != nil || len(accts) != 1 || accts[0].ID != mine.ID {
		t.Fatalf("lotus's accounts %v, %v", accts, err)
	}
	subs, err := lotus.Subscriptions(ctx)
	if err != nil || len(subs) != 1 || subs[0].AccountID != mine.ID {
		t.Fatalf("lotus's subscriptions %v, %v", subs, err)
	}
	if err := lotus.Cancel(ctx, mine.ID); err != nil {
		t.Fatal(err)
	}
	if sub, _, _ := lotus.Subscription(ctx, mine.ID); sub.Status != store.SubscriptionCancelled {
		t.Errorf("own customer's subscription %s after cancel", sub.Status)
	}
	_, err = f.svc.ForPartner(ctx, "nobody")
	wantCode(t, err, CodeNotFound)
}

// A channel naming a partner that has no record is an error, not a direct sale.
func TestUnknownChannelIsNotDirect(t *testing.T) {
	f := newFixture(t)
	a := f.account(t, "ghost-partner")
	if _, err := f.svc.Checkout(t.Context(), owner(a), buy("g1", "US", "USD", true)); err == nil || errors.As(err, new(*Error)) {
		t.Fatalf("checkout for an unknown channel: %v", err)
	}
	if len(f.pay.Charges()) != 0 {
		t.Fatal("charged an account of an unknown channel")
	}
}

// Bad input is refused with invalid_input and changes nothing; a member may not buy.
func TestCheckoutRefusesBadInput(t *testing.T) {
	f := newFixture(t)
	a := f.account(t, store.ChannelDirect)
	good := buy("b1", "US", "USD", true)
	for name, mut := range map[string]func(*CheckoutInput){
		"kind":     func(in *CheckoutInput) { in.Kind = "gift" },
		"plan":     func(in *CheckoutInput) { in.Plan = "platinum" },
		"free":     func(in *CheckoutInput) { in.Plan = "free" },
		"interval": func(in *CheckoutInput) { in.Interval = "week" },
		"currency": func(in *CheckoutInput) { in.Currency = "usd" },
		"country":  func(in *CheckoutInput) { in.BillingCountry = "USA" },
		"no key":   func(in *CheckoutInput) { in.IdempotencyKey = "" },
		"long key": func(in *CheckoutInput) { in.IdempotencyKey = string(make([]byte, 129)) },
		"ctl key":  func(in *CheckoutInput) { in.IdempotencyKey = "a\nb" },
		"no token": func(in *CheckoutInput) { in.PaymentToken = "" },
	} {
		in := good
		mut(&in)
		_, err := f.svc.Checkout(t.Context(), owner(a), in)
		if e := (*Error)(nil); !errors.As(err, &e) || e.Code != CodeInvalidInput {
			t.Errorf("%s: %v, want invalid_input", name, err)
		}
	}
	_, err := f.svc.Checkout(t.Context(), Buyer{Account: a, Actor: "u2", Role: "member"}, good)
	wantCode(t, err, CodeForbidden)
	_, err = f.svc.Checkout(t.Context(), owner(a), CheckoutInput{Kind: KindRenew, BillingCountry: "US", IdempotencyKey: "b2", PaymentToken: goodToken})
	wantCode(t, err, CodeNoSubscription)
	if _, ok, _ := f.svc.Subscription(t.Context(), a); ok || len(f.pay.Charges()) != 0 {
		t.Fatal("refused input changed something")
	}
}

func TestProrate(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		diff        int64
		left, total time.Duration
		want        int64
	}{
		{3100, 10 * day, 31 * day, 1000},
		{100, day, 3 * day, 34}, // rounded up
		{100, 0, 30 * day, 0},
		{-500, 10 * day, 30 * day, 0},
		{100, 40 * day, 30 * day, 100}, // never more than the whole difference
		{99_999_999_999, 366 * day, 366 * day, 99_999_999_999},
	} {
		if got := prorate(c.diff, c.left, c.total); got != c.want {
			t.Errorf("prorate(%d, %s, %s) = %d, want %d", c.diff, c.left, c.total, got, c.want)
		}
	}
}

// One checkout of an account is charged at a time: while one is pending, another (with
// another key) is refused, and two buyers at once cannot both sell it a subscription. A
// pending order whose process died is charged again by a retry with its key, after a
// while, under its own id.
func TestOneCheckoutAtATime(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a := f.account(t, store.ChannelDirect)
	// A checkout that died after recording its order, before charging.
	stuck, err := f.st.CreateOrder(ctx, store.Order{AccountID: a.ID, IdempotencyKey: "dead", Kind: KindNew, Channel: store.ChannelDirect,
		Plan: "pro", Interval: store.IntervalMonth, Currency: "USD", AmountMinor: 1500, BillingCountry: "US",
		Status: store.OrderPending, CreatedAt: f.now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Checkout(ctx, owner(a), buy("other", "US", "USD", true))
	wantCode(t, err, CodeInProgress)
	_, err = f.svc.Checkout(ctx, owner(a), buy("dead", "US", "USD", true))
	wantCode(t, err, CodeInProgress) // fresh: it may still be charging
	if len(f.pay.Charges()) != 0 {
		t.Fatal("charged while another checkout was pending")
	}
	f.now = f.now.Add(staleAfter + time.Second)
	r, err := f.svc.Checkout(ctx, owner(a), buy("dead", "US", "USD", true))
	if err != nil {
		t.Fatal(err)
	}
	if ch := f.pay.Charges(); r.Order.ID != stuck.ID || len(ch) != 1 || ch[0].IdempotencyKey != stuck.ID {
		t.Fatalf("retried order %s, charges %+v", r.Order.ID, ch)
	}

	// Two buyers at once, with keys of their own: one subscription, one charge.
	b := f.account(t, store.ChannelDirect)
	errs := make(chan error, 2)
	for _, key := range []string{"x1", "x2"} {
		go func() {
			_, err := f.svc.Checkout(ctx, owner(b), buy(key, "US", "USD", true))
			errs <- err
		}()
	}
	paid := 0
	for range 2 {
		err := <-errs
		switch {
		case err == nil:
			paid++
		case errors.Is(err, ErrInProgress), errors.Is(err, ErrSubscriptionExists):
		default:
			t.Fatalf("concurrent checkout: %v", err)
		}
	}
	if n := len(f.pay.Charges()); paid != 1 || n != 2 {
		t.Fatalf("%d paid, %d charges in all (want 1 and 2)", paid, n)
	}
}

// A partner record is checked before it is stored, and may not contradict the policy's
// kind for the same partner.
func TestPutPartnerChecksTheRecord(t *testing.T) {
	f := newFixture(t)
	good := store.Partner{ID: "new-partner", Kind: store.PartnerReseller, Name: "New Partner",
		Brand:   store.Brand{Name: "NP Meet", LogoURL: "https://np.example/logo.svg", PrimaryColor: "#112233", Domain: "meet.np.example"},
		Support: store.SupportContact{Email: "help@np.example"}}
	if err := f.svc.PutPartner(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*store.Partner){
		"id":          func(p *store.Partner) { p.ID = "Bad ID" },
		"direct":      func(p *store.Partner) { p.ID = "direct" },
		"kind":        func(p *store.Partner) { p.Kind = "distributor" },
		"name":        func(p *store.Partner) { p.Name = "" },
		"no support":  func(p *store.Partner) { p.Support = store.SupportContact{} },
		"logo http":   func(p *store.Partner) { p.Brand.LogoURL = "http://np.example/logo.svg" },
		"colour":      func(p *store.Partner) { p.Brand.PrimaryColor = "red" },
		"email":       func(p *store.Partner) { p.Support.Email = "not an address" },
		"domain":      func(p *store.Partner) { p.Brand.Domain = "https://meet.np.example/" },
		"policy kind": func(p *store.Partner) { p.ID = "lotus-bridge" }, // an oem in the policy
	} {
		p := good
		mut(&p)
		if err := f.svc.PutPartner(t.Context(), p); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %v, want invalid_input", name, err)
		}
	}
	if p, err := f.st.GetPartner(t.Context(), "lotus-bridge"); err != nil || p.Kind != store.PartnerOEM {
		t.Fatalf("a refused record changed the partner: %+v, %v", p, err)
	}
}

// A server without a jurisdiction policy stores partner records too (no policy sets a
// partner's kind), and an operator's put is audited.
func TestPutPartnerWithoutAPolicy(t *testing.T) {
	st, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := New(st, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p, err := svc.PutPartnerAs(t.Context(), "op-1", store.Partner{ID: "solo", Kind: store.PartnerOEM, Name: "Solo",
		Support: store.SupportContact{Email: "help@solo.example"}})
	if err != nil || p.ID != "solo" || p.Region != st.Region() {
		t.Fatalf("PutPartnerAs = %+v, %v", p, err)
	}
	es, err := st.ListAudit(t.Context(), store.AuditQuery{Actor: "op-1"})
	if err != nil || len(es) != 1 || es[0].Action != "partner.put" || es[0].Subject != "solo" || es[0].Outcome != "ok" {
		t.Fatalf("audit %+v, %v", es, err)
	}
}
