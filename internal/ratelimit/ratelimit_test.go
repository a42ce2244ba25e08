package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"
)

var t0 = time.Unix(1_900_000_000, 0)

// A ceiling never refuses: past its burst an attempt is told to wait its turn, attempts
// in flight queue behind each other, and no wait is longer than the bound.
func TestSlowNeverRefusesAndBoundsTheWait(t *testing.T) {
	ls := NewSet(Rate{Every: time.Second, Burst: 2}, 10)
	for range 2 {
		b, wait := ls.Slow("m", t0, 3*time.Second)
		if b == nil || wait != 0 {
			t.Fatalf("within the burst: bucket %v, wait %v", b, wait)
		}
		ls.End(b, t0, true)
	}
	var held []*Bucket
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second} {
		b, wait := ls.Slow("m", t0, 3*time.Second)
		if b == nil || wait != want {
			t.Fatalf("attempt %d past the burst: bucket %v, wait %v; want %v", i, b, wait, want)
		}
		held = append(held, b)
	}
	for _, b := range held {
		ls.End(b, t0, false)
	}
	// Begin, over the same kind of bucket, refuses instead.
	if b, wait := ls.Begin("m", t0); b != nil || wait != time.Second {
		t.Fatalf("Begin on an empty bucket: %v, %v", b, wait)
	}
	if b, wait := ls.Slow("m", t0.Add(time.Second), 3*time.Second); b == nil || wait != 0 {
		t.Fatalf("after a refill: %v, %v", b, wait)
	}
}

func TestPairKeyAndIPKey(t *testing.T) {
	if PairKey("m1", "2001:db8::1") != PairKey("m1", "2001:db8::ffff:2") {
		t.Error("an IPv6 /64 is two clients")
	}
	if PairKey("m1", "192.0.2.1") == PairKey("m2", "192.0.2.1") || PairKey("m1", "192.0.2.1") == PairKey("m1", "192.0.2.2") {
		t.Error("pairs of other targets or addresses share a key")
	}
	if IPKey("::ffff:192.0.2.1") != "192.0.2.1" || IPKey("2001:db8:1:2:3::4") != "2001:db8:1:2::/64" {
		t.Errorf("IPKey: %q %q", IPKey("::ffff:192.0.2.1"), IPKey("2001:db8:1:2:3::4"))
	}
}

func TestSiteKey(t *testing.T) {
	a, ok1 := SiteKey("2001:db8:1:2::1")
	b, ok2 := SiteKey("2001:db8:1:ffff::1")
	c, _ := SiteKey("2001:db8:2::1")
	if !ok1 || !ok2 || a != b || a == c || a != "2001:db8:1::/48" {
		t.Errorf("IPv6 sites: %q %q %q", a, b, c)
	}
	for _, addr := range []string{"192.0.2.1", "::ffff:192.0.2.1", "not an address", ""} {
		if k, ok := SiteKey(addr); ok {
			t.Errorf("SiteKey(%q) = %q", addr, k)
		}
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sleep: %v", err)
	}
	if err := Sleep(ctx, 0); err != nil {
		t.Fatalf("no wait: %v", err)
	}
}
