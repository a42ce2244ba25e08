package store

import (
	"testing"
	"time"
)

// No two partners may claim one domain, whatever its case.
func TestPartnerDomainsAreUnique(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		if _, err := s.PutPartner(ctx, testPartner("lotus", PartnerOEM)); err != nil {
			t.Fatal(err)
		}
		other := testPartner("peony", PartnerOEM)
		other.Brand.Domain = "meet.lotus.example"
		_, err := s.PutPartner(ctx, other)
		wantErr(t, err, ErrConflict)
		// Two partners without a domain are fine.
		for _, id := range []string{"a1", "a2"} {
			p := testPartner(id, PartnerReseller)
			p.Brand.Domain = ""
			if _, err := s.PutPartner(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// The console's lists: every price book with its prices, and subscriptions and orders
// newest first, of one channel or of all.
func TestConsoleLists(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		if _, err := s.PutPartner(ctx, testPartner("p1", PartnerReseller)); err != nil {
			t.Fatal(err)
		}
		for _, b := range []PriceBook{
			{Channel: "p1", Currency: "EUR", Prices: []Price{{Plan: "pro", Interval: IntervalMonth, AmountMinor: 900}}},
			{Channel: ChannelDirect, Currency: "USD", Prices: []Price{
				{Plan: "business", Interval: IntervalMonth, AmountMinor: 2999}, {Plan: "pro", Interval: IntervalMonth, AmountMinor: 1499}}},
			{Channel: ChannelDirect, Currency: "EUR"}, // empty
		} {
			if _, err := s.PutPriceBook(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		books, err := s.ListPriceBooks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(books) != 3 || books[0].Channel != ChannelDirect || books[0].Currency != "EUR" || len(books[0].Prices) != 0 ||
			books[1].Currency != "USD" || len(books[1].Prices) != 2 || books[1].Prices[0].Plan != "pro" ||
			books[2].Channel != "p1" || books[2].Prices[0].AmountMinor != 900 {
			t.Fatalf("books %+v", books)
		}

		t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		var accounts []Account
		for i, channel := range []string{ChannelDirect, "p1", "p1"} {
			a, _, err := s.CreateAccountWithOwner(ctx, Account{Type: "business", Name: "A", Plan: "free", Channel: channel},
				User{Email: string(rune('a'+i)) + "@example.com", DisplayName: "X", PasswordHash: "h"})
			if err != nil {
				t.Fatal(err)
			}
			accounts = append(accounts, a)
			at := t0.Add(time.Duration(i) * time.Hour)
			o, err := s.CreateOrder(ctx, Order{AccountID: a.ID, IdempotencyKey: "k", Kind: "new", Channel: channel, Plan: "pro",
				Interval: IntervalMonth, Currency: "USD", AmountMinor: 100, BillingCountry: "US", Status: OrderPending, CreatedAt: at})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.RecordPayment(ctx, Payment{OrderID: o.ID, At: at,
				Subscription: Subscription{AccountID: a.ID, Channel: channel, Plan: "pro", Interval: IntervalMonth, Currency: "USD",
					AmountMinor: 100, BillingCountry: "US", Status: SubscriptionActive, PeriodStart: at, PeriodEnd: at.AddDate(0, 1, 0), CreatedAt: at},
				Invoice: Invoice{SellerChannel: channel, SellerName: channel, Currency: "USD", AmountMinor: 100}}); err != nil {
				t.Fatal(err)
			}
		}
		subs, err := s.ListSubscriptions(ctx, "", 10)
		if err != nil || len(subs) != 3 || subs[0].AccountID != accounts[2].ID || subs[2].AccountID != accounts[0].ID {
			t.Fatalf("all subscriptions %+v, %v", subs, err)
		}
		subs, err = s.ListSubscriptions(ctx, "p1", 1)
		if err != nil || len(subs) != 1 || subs[0].AccountID != accounts[2].ID {
			t.Fatalf("p1's newest subscription %+v, %v", subs, err)
		}
		orders, err := s.ListChannelOrders(ctx, ChannelDirect, 10)
		if err != nil || len(orders) != 1 || orders[0].AccountID != accounts[0].ID || orders[0].Status != OrderPaid {
			t.Fatalf("direct orders %+v, %v", orders, err)
		}
		orders, err = s.ListChannelOrders(ctx, "", 10)
		if err != nil || len(orders) != 3 || orders[0].AccountID != accounts[2].ID {
			t.Fatalf("all orders %+v, %v", orders, err)
		}
	})
}
