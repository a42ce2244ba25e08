package sfu

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-video/meridian/internal/bwe"
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

// A subscriber's keyframe is asked for once its connection is up, not before: a keyframe
// sent earlier would be lost, and its request would hold back, for keyframeInterval, the
// one that counts.
func TestKeyframeAskedOnlyOnceSubscriberIsReady(t *testing.T) {
	tr := benchTrack(0)
	tr.owner = &Participant{} // no publisher connection: the request goes nowhere
	l := &layer{rank: 0, ssrc: 1234}
	tr.layers[0] = l
	sub := &Participant{bwe: bwe.New(1_000_000)}
	d := newDownTrack(tr, sub)
	d.writer = nopWriter{}

	d.setTarget(0)
	d.keepWaiting()
	if n := testutil.ToFloat64(tr.metrics.PLIs); n != 0 {
		t.Fatalf("%v keyframe requests for a subscriber whose connection is not up", n)
	}
	sub.subReady.Store(true)
	d.keepWaiting()
	if n := testutil.ToFloat64(tr.metrics.PLIs); n != 1 {
		t.Fatalf("%v keyframe requests once the connection is up, want 1", n)
	}
}
