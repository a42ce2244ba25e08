package commerce

import (
	"strconv"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/store"
)

// BenchmarkCheckoutRefused is a checkout the policy refuses (CN billing, direct, after
// 2020-08-23): the reads before the decision and the audit entry after it, on SQLite.
func BenchmarkCheckoutRefused(b *testing.B) {
	f := newFixture(b)
	a := f.account(b, store.ChannelDirect)
	ctx := b.Context()
	for i := 0; b.Loop(); i++ {
		if _, err := f.svc.Checkout(ctx, owner(a), buy("k"+strconv.Itoa(i), "CN", "CNY", true)); err == nil {
			b.Fatal("allowed")
		}
	}
}

// BenchmarkCheckoutPaid is a paid new subscription: order, charge (test provider), and
// the transaction of order, subscription, plan and invoice, on SQLite (synchronous=FULL).
func BenchmarkCheckoutPaid(b *testing.B) {
	f := newFixture(b)
	f.now = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	ctx := b.Context()
	for b.Loop() {
		b.StopTimer()
		a := f.account(b, store.ChannelDirect)
		b.StartTimer()
		if _, err := f.svc.Checkout(ctx, owner(a), buy("k", "US", "USD", true)); err != nil {
			b.Fatal(err)
		}
	}
}
