package sfu

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-video/meridian/internal/bwe"
)

// Requests made while the keyframe asked for is on its way are served by it: nothing more
// goes to the publisher, and nothing is retried later.
func TestKeyThrottleInFlightKeyframeServesLaterRequests(t *testing.T) {
	var k keyThrottle
	retried := make(chan struct{}, 4)
	retry := func() { retried <- struct{}{} }
	start := time.Now().UnixNano()
	if !k.admit(start, retry) {
		t.Fatal("first request throttled")
	}
	for i := 1; i <= 3; i++ {
		if k.admit(start+int64(i)*int64(10*time.Millisecond), retry) {
			t.Fatalf("request %d admitted while the keyframe was on its way", i)
		}
	}
	// The keyframe arrives; a request long enough after it goes at once.
	k.sawKeyframe(start + int64(40*time.Millisecond))
	if !k.admit(start+int64(keyframeInterval)+1, retry) {
		t.Fatal("request after the keyframe and the interval throttled")
	}
	select {
	case <-retried:
		t.Fatal("a request served by the keyframe on its way was retried")
	case <-time.After(2 * keyframeInterval):
	}
}

// A request after the keyframe went by but inside the interval is deferred, not dropped:
// one retry at the end of the interval serves everyone who asked meanwhile.
func TestKeyThrottleDefersInsteadOfDropping(t *testing.T) {
	var k keyThrottle
	var retries atomic.Int32
	fired := make(chan time.Time, 4)
	retry := func() { retries.Add(1); fired <- time.Now() }

	start := time.Now()
	if !k.admit(start.UnixNano(), retry) {
		t.Fatal("first request throttled")
	}
	k.sawKeyframe(start.Add(5 * time.Millisecond).UnixNano())
	for i := 1; i <= 3; i++ {
		if k.admit(start.Add(time.Duration(i)*10*time.Millisecond).UnixNano(), retry) {
			t.Fatalf("request %d inside the interval admitted", i)
		}
	}
	select {
	case at := <-fired:
		if d := at.Sub(start); d < keyframeInterval-15*time.Millisecond {
			t.Fatalf("retry fired %v after the first request, before the interval ended", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("deferred request never retried")
	}
	time.Sleep(2 * keyframeInterval)
	if n := retries.Load(); n != 1 {
		t.Fatalf("%d retries, want 1 for the whole interval", n)
	}
}

// A deferred request whose keyframe comes by anyway (say, the publisher's periodic one) is
// not retried; a keyframe that never comes is asked for again after keyframeTimeout.
func TestKeyThrottleSkipsServedRetryAndRecoversLostRequest(t *testing.T) {
	var k keyThrottle
	retried := make(chan struct{}, 4)
	retry := func() { retried <- struct{}{} }
	start := time.Now()
	k.admit(start.UnixNano(), retry)
	k.sawKeyframe(start.Add(5 * time.Millisecond).UnixNano())
	if k.admit(start.Add(20*time.Millisecond).UnixNano(), retry) {
		t.Fatal("request inside the interval admitted")
	}
	k.sawKeyframe(start.Add(30 * time.Millisecond).UnixNano())
	select {
	case <-retried:
		t.Fatal("retried although a keyframe came after the request")
	case <-time.After(2 * keyframeInterval):
	}

	// Asked at t, no keyframe ever comes: requests are absorbed until the timeout, then go.
	t0 := start.Add(time.Second).UnixNano()
	if !k.admit(t0, retry) {
		t.Fatal("request after a quiet second throttled")
	}
	if k.admit(t0+int64(keyframeTimeout)-1, retry) {
		t.Fatal("request admitted while the keyframe could still be on its way")
	}
	if !k.admit(t0+int64(keyframeTimeout)+1, retry) {
		t.Fatal("request after the timeout throttled: a lost keyframe request is never repeated")
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
