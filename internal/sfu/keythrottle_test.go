package sfu

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyThrottleDefersInsteadOfDropping(t *testing.T) {
	const interval = 100 * time.Millisecond
	var k keyThrottle
	var retries atomic.Int32
	fired := make(chan time.Time, 4)
	retry := func() { retries.Add(1); fired <- time.Now() }

	start := time.Now()
	if !k.admit(start.UnixNano(), interval, retry) {
		t.Fatal("first request throttled")
	}
	// Three more inside the interval: none goes now, and one retry is scheduled for all.
	for i := 1; i <= 3; i++ {
		if k.admit(start.Add(time.Duration(i)*10*time.Millisecond).UnixNano(), interval, retry) {
			t.Fatalf("request %d inside the interval admitted", i)
		}
	}
	select {
	case at := <-fired:
		if d := at.Sub(start); d < interval-15*time.Millisecond {
			t.Fatalf("retry fired %v after the first request, before the interval ended", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("deferred request never retried")
	}
	time.Sleep(2 * interval)
	if n := retries.Load(); n != 1 {
		t.Fatalf("%d retries, want 1 for the whole interval", n)
	}
	// After the interval a request goes at once.
	if !k.admit(time.Now().UnixNano(), interval, retry) {
		t.Fatal("request after the interval throttled")
	}
}
