package store

import (
	"testing"
	"time"
)

func testPartner(id, kind string) Partner {
	return Partner{ID: id, Kind: kind, Name: id + " Ltd",
		Brand:         Brand{Name: id + " Meet", LogoURL: "https://" + id + ".example/logo.svg", PrimaryColor: "#123456", AccentColor: "#abcdef", Domain: "meet." + id + ".example"},
		Support:       SupportContact{Email: "help@" + id + ".example", URL: "https://" + id + ".example/help", Phone: "+1 555 0100"},
		Jurisdictions: []string{"CN", "HK"}}
}

func TestPartners(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		p, err := s.PutPartner(ctx, testPartner("lotus", PartnerOEM))
		if err != nil {
			t.Fatal(err)
		}
		if p.Region != testRegion || p.Brand.Domain != "meet.lotus.example" || p.Support.Phone != "+1 555 0100" ||
			len(p.Jurisdictions) != 2 || p.Jurisdictions[1] != "HK" {
			t.Fatalf("stored %+v", p)
		}
		// Putting it again replaces it and keeps when it was created.
		q := testPartner("lotus", PartnerReseller)
		q.Name, q.CreatedAt = "Lotus Two", time.Now().Add(time.Hour)
		q2, err := s.PutPartner(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if q2.Name != "Lotus Two" || q2.Kind != PartnerReseller || !q2.CreatedAt.Equal(p.CreatedAt) {
			t.Fatalf("replaced %+v, first %+v", q2, p)
		}
		if _, err := s.PutPartner(ctx, testPartner("bad", "distributor")); err == nil {
			t.Fatal("a partner of an unknown kind was stored")
		}
		if _, err := s.GetPartner(ctx, "nobody"); err == nil {
			t.Fatal("an unknown partner was found")
		}
		wantErr(t, func() error { _, err := s.GetPartner(ctx, "nobody"); return err }(), ErrNotFound)
		all, err := s.ListPartners(ctx)
		if err != nil || len(all) != 1 {
			t.Fatalf("partners %v, %v", all, err)
		}
		wrong := testPartner("x", PartnerOEM)
		wrong.Region = "elsewhere"
		_, err = s.PutPartner(ctx, wrong)
		wantErr(t, err, ErrWrongRegion)
	})
}

func TestPriceBookIsReplacedWhole(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		b, err := s.PutPriceBook(ctx, PriceBook{Channel: ChannelDirect, Currency: "USD", Prices: []Price{
			{Plan: "pro", Interval: IntervalMonth, AmountMinor: 1499}, {Plan: "business", Interval: IntervalMonth, AmountMinor: 2999}}})
		if err != nil {
			t.Fatal(err)
		}
		b2, err := s.PutPriceBook(ctx, PriceBook{Channel: ChannelDirect, Currency: "USD", Prices: []Price{
			{Plan: "pro", Interval: IntervalYear, AmountMinor: 14990}}})
		if err != nil {
			t.Fatal(err)
		}
		if b2.ID != b.ID {
			t.Errorf("the book of a channel and currency changed id: %s then %s", b.ID, b2.ID)
		}
		got, err := s.GetPriceBook(ctx, ChannelDirect, "USD")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Prices) != 1 || got.Prices[0] != (Price{Plan: "pro", Interval: IntervalYear, AmountMinor: 14990}) {
			t.Fatalf("prices %+v, want only the new book's", got.Prices)
		}
		_, err = s.GetPriceBook(ctx, ChannelDirect, "EUR")
		wantErr(t, err, ErrNotFound)
		_, err = s.PutPriceBook(ctx, PriceBook{Channel: "r1", Currency: "EUR", Prices: []Price{{Plan: "pro", Interval: IntervalMonth, AmountMinor: -1}}})
		if err == nil {
			t.Fatal("a negative price was stored")
		}
		if _, err := s.GetPriceBook(ctx, "r1", "EUR"); err == nil {
			t.Fatal("a refused book was left half-stored")
		}
	})
}

// A checkout's order, its payment (subscription, plan, invoice together), an upgrade of
// the same subscription, and its expiry.
func TestOrdersPaymentsAndExpiry(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, _ := newOwner(t, s, "buyer@example.com")
		t0 := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
		order := Order{AccountID: a.ID, IdempotencyKey: "k1", Kind: "new", Channel: ChannelDirect, Plan: "business",
			Interval: IntervalMonth, Currency: "USD", AmountMinor: 2999, BillingCountry: "US", Status: OrderPending, CreatedAt: t0}
		o, err := s.CreateOrder(ctx, order)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.CreateOrder(ctx, order)
		wantErr(t, err, ErrConflict)
		got, err := s.GetOrderByKey(ctx, a.ID, "k1")
		if err != nil || got.ID != o.ID || got.AmountMinor != 2999 || got.Currency != "USD" {
			t.Fatalf("order by key %+v, %v", got, err)
		}
		sub := Subscription{AccountID: a.ID, Channel: ChannelDirect, Plan: "business", Interval: IntervalMonth, Currency: "USD",
			AmountMinor: 2999, BillingCountry: "US", Status: SubscriptionActive, PeriodStart: t0, PeriodEnd: t0.AddDate(0, 1, 0)}
		inv := Invoice{SellerChannel: ChannelDirect, SellerName: "Meridian", BuyerName: a.Name, BillingCountry: "US",
			Description: "Subscription", Currency: "USD", AmountMinor: 2999, PeriodStart: t0, PeriodEnd: t0.AddDate(0, 1, 0)}
		stored, invoice, err := s.RecordPayment(ctx, Payment{OrderID: o.ID, ChargeID: "ch_1", Subscription: sub, Invoice: inv, At: t0})
		if err != nil {
			t.Fatal(err)
		}
		if invoice.OrderID != o.ID || invoice.AccountID != a.ID || stored.Region != testRegion {
			t.Fatalf("invoice %+v subscription %+v", invoice, stored)
		}
		if acc, _ := s.GetAccount(ctx, a.ID); acc.Plan != "business" {
			t.Errorf("plan %q after paying for business", acc.Plan)
		}
		// The same order cannot be paid twice.
		_, _, err = s.RecordPayment(ctx, Payment{OrderID: o.ID, ChargeID: "ch_2", Subscription: sub, Invoice: inv, At: t0})
		wantErr(t, err, ErrConflict)
		// A second current subscription is refused, and nothing of its payment stays.
		o2, err := s.CreateOrder(ctx, Order{AccountID: a.ID, IdempotencyKey: "k2", Kind: "new", Channel: ChannelDirect, Plan: "pro",
			Interval: IntervalMonth, Currency: "USD", AmountMinor: 1499, BillingCountry: "US", Status: OrderPending})
		if err != nil {
			t.Fatal(err)
		}
		second := sub
		second.Plan = "pro"
		_, _, err = s.RecordPayment(ctx, Payment{OrderID: o2.ID, ChargeID: "ch_3", Subscription: second, Invoice: inv, At: t0})
		wantErr(t, err, ErrConflict)
		if got, _ := s.GetOrderByKey(ctx, a.ID, "k2"); got.Status != OrderPending {
			t.Errorf("order of a refused payment is %s", got.Status)
		}
		if acc, _ := s.GetAccount(ctx, a.ID); acc.Plan != "business" {
			t.Errorf("plan %q after a refused payment", acc.Plan)
		}
		if err := s.SetOrderStatus(ctx, o2.ID, OrderDeclined, "ch_3", "card_declined", t0); err != nil {
			t.Fatal(err)
		}
		invs, err := s.ListInvoices(ctx, a.ID, 10)
		if err != nil || len(invs) != 1 || invs[0].AmountMinor != 2999 || !invs[0].PeriodEnd.Equal(t0.AddDate(0, 1, 0)) {
			t.Fatalf("invoices %+v, %v", invs, err)
		}
		cur, err := s.GetCurrentSubscription(ctx, a.ID)
		if err != nil || cur.ID != stored.ID || cur.Status != SubscriptionActive {
			t.Fatalf("current %+v, %v", cur, err)
		}
		// Not yet due: nothing expires; at the period's end it does, and the plan goes.
		if done, err := s.ExpireSubscriptions(ctx, t0.AddDate(0, 1, 0).Add(-time.Second), 10); err != nil || len(done) != 0 {
			t.Fatalf("expired early: %v, %v", done, err)
		}
		done, err := s.ExpireSubscriptions(ctx, t0.AddDate(0, 1, 0), 10)
		if err != nil || len(done) != 1 || done[0].ID != stored.ID {
			t.Fatalf("expired %v, %v", done, err)
		}
		_, err = s.GetCurrentSubscription(ctx, a.ID)
		wantErr(t, err, ErrNotFound)
		if acc, _ := s.GetAccount(ctx, a.ID); acc.Plan != "free" {
			t.Errorf("plan %q after the subscription expired", acc.Plan)
		}
	})
}

// Queries for a channel see only that channel's accounts and subscriptions.
func TestChannelScoping(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		for _, id := range []string{"p1", "p2"} {
			if _, err := s.PutPartner(ctx, testPartner(id, PartnerReseller)); err != nil {
				t.Fatal(err)
			}
		}
		mk := func(channel, email string) Account {
			a, _, err := s.CreateAccountWithOwner(ctx, Account{Type: "business", Name: email, Plan: "free", Channel: channel},
				User{Email: email, DisplayName: "X", PasswordHash: "h"})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		a1, a2 := mk("p1", "one@p1.example"), mk("p2", "two@p2.example")
		mk(ChannelDirect, "direct@example.com")
		if got, err := s.GetAccountInChannel(ctx, "p1", a1.ID); err != nil || got.ID != a1.ID {
			t.Fatalf("own customer: %+v, %v", got, err)
		}
		_, err := s.GetAccountInChannel(ctx, "p1", a2.ID)
		wantErr(t, err, ErrNotFound)
		list, err := s.ListAccountsInChannel(ctx, "p1", 10)
		if err != nil || len(list) != 1 || list[0].ID != a1.ID {
			t.Fatalf("p1's accounts %+v, %v", list, err)
		}
		for _, a := range []Account{a1, a2} {
			o, err := s.CreateOrder(ctx, Order{AccountID: a.ID, IdempotencyKey: "k", Kind: "new", Channel: a.Channel, Plan: "pro",
				Interval: IntervalYear, Currency: "CNY", AmountMinor: 100, BillingCountry: "CN", Status: OrderPending})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			if _, _, err := s.RecordPayment(ctx, Payment{OrderID: o.ID, At: now,
				Subscription: Subscription{AccountID: a.ID, Channel: a.Channel, Plan: "pro", Interval: IntervalYear, Currency: "CNY",
					AmountMinor: 100, BillingCountry: "CN", Status: SubscriptionActive, PeriodStart: now, PeriodEnd: now.AddDate(1, 0, 0)},
				Invoice: Invoice{SellerChannel: a.Channel, SellerName: a.Channel, Currency: "CNY", AmountMinor: 100}}); err != nil {
				t.Fatal(err)
			}
		}
		subs, err := s.ListSubscriptionsInChannel(ctx, "p2", 10)
		if err != nil || len(subs) != 1 || subs[0].AccountID != a2.ID {
			t.Fatalf("p2's subscriptions %+v, %v", subs, err)
		}
	})
}

// An account has one pending order at a time; a failed or stale pending order can be
// claimed to be charged again, a fresh pending or a paid one cannot.
func TestOnePendingOrderAndClaim(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		a, _ := newOwner(t, s, "claim@example.com")
		t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
		mk := func(key string) (Order, error) {
			return s.CreateOrder(ctx, Order{AccountID: a.ID, IdempotencyKey: key, Kind: "new", Channel: ChannelDirect, Plan: "pro",
				Interval: IntervalMonth, Currency: "USD", AmountMinor: 1, BillingCountry: "US", Status: OrderPending, CreatedAt: t0})
		}
		o1, err := mk("k1")
		if err != nil {
			t.Fatal(err)
		}
		_, err = mk("k2")
		wantErr(t, err, ErrConflict)
		// Fresh: not claimable. Stale: claimable.
		wantErr(t, s.ClaimOrder(ctx, o1.ID, t0, t0), ErrNotFound)
		if err := s.ClaimOrder(ctx, o1.ID, t0.Add(time.Minute), t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetOrderStatus(ctx, o1.ID, OrderFailed, "", "", t0); err != nil {
			t.Fatal(err)
		}
		o2, err := mk("k2") // the slot is free once o1 failed
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, s.ClaimOrder(ctx, o1.ID, t0, t0), ErrConflict) // o2 is pending
		if err := s.SetOrderStatus(ctx, o2.ID, OrderDeclined, "c", "card_declined", t0); err != nil {
			t.Fatal(err)
		}
		wantErr(t, s.ClaimOrder(ctx, o2.ID, t0.Add(time.Hour), t0), ErrNotFound) // declined stays declined
		if err := s.ClaimOrder(ctx, o1.ID, t0, t0); err != nil {
			t.Fatal(err)
		}
		wantErr(t, s.SetOrderStatus(ctx, o2.ID, OrderFailed, "", "", t0), ErrNotFound)
	})
}
