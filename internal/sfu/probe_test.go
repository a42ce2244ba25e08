package sfu

import (
	"testing"
	"time"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"

	"github.com/meridian-video/meridian/internal/bwe"
)

// feedback tells est that of n packets sent from `at` on, 1 ms apart, those for which
// received returns true arrived.
func feedback(t *testing.T, est *bwe.Estimator, at int64, n int, received func(i int) bool) int64 {
	t.Helper()
	rec := twcc.NewRecorder(1)
	for i := range n {
		seq := est.Sent(1200, at)
		if received(i) {
			rec.Record(7, seq, at/1000+20_000)
		}
		at += int64(time.Millisecond)
	}
	for _, p := range rec.BuildFeedbackPacket() {
		if fb, ok := p.(*rtcp.TransportLayerCC); ok {
			est.Feedback(fb, at)
		}
	}
	return at
}

// A probe that meets congestion returns the estimate to where it was before the probe: the
// overshoot was the probe's own, and cutting below would drop the subscriber's other layers
// too. The next probe then waits for the backoff.
func TestFailedProbeRestoresTheEstimate(t *testing.T) {
	est := bwe.New(1_000_000)
	now := int64(time.Second)
	// The loss controller judges over at least 300 ms: a clean interval first.
	now = feedback(t, est, now, 40, func(int) bool { return true })
	var pr layerProbe
	d := &downTrack{}
	before := est.Target()
	pr.start(est, d, 2, now)
	now += int64(400 * time.Millisecond)
	now = feedback(t, est, now, 40, func(i int) bool { return i%2 == 0 })
	if !est.CongestedSince(pr.started) || est.Target() >= before {
		t.Fatalf("setup: 50%% loss during the probe left the estimate at %d (was %d), congested %v",
			est.Target(), before, est.CongestedSince(pr.started))
	}
	pr.judge(est, now)
	if pr.d != nil {
		t.Fatal("the failed probe is still running")
	}
	if got := est.Target(); got < before {
		t.Errorf("after the failed probe the estimate is %d, want back at %d", got, before)
	}
	if pr.next < now+int64(probeBackoffMin) || pr.ready(est, now+int64(probeBackoffMin)-1) {
		t.Errorf("next probe allowed at %d, want no earlier than %d", pr.next, now+int64(probeBackoffMin))
	}
}

// A probe that runs its course without congestion raises the estimate to what got through.
func TestSucceededProbeRaisesTheEstimate(t *testing.T) {
	est := bwe.New(300_000)
	now := int64(time.Second)
	var pr layerProbe
	pr.start(est, &downTrack{}, 1, now)
	// 1200-byte packets 1 ms apart: ~9.6 Mbit/s acknowledged, no loss.
	for range 5 {
		now = feedback(t, est, now, 100, func(int) bool { return true })
	}
	now = max(now, pr.started+int64(probeDuration))
	before := est.Target()
	pr.judge(est, now)
	if pr.d != nil {
		t.Fatal("the probe is still running after probeDuration")
	}
	if got := est.Target(); got <= before || got < est.Acked() {
		t.Errorf("after a clean probe the estimate is %d (was %d, acknowledged %d)", got, before, est.Acked())
	}
}
