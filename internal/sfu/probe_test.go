package sfu

import (
	"log/slog"
	"testing"
	"time"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/prometheus/client_golang/prometheus/testutil"

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
	pr.start(est, d, 2, 500_000, now)
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
	d := &downTrack{}
	pr.start(est, d, 1, 500_000, now)
	// 1200-byte packets 1 ms apart: ~9.6 Mbit/s acknowledged, no loss.
	for range 5 {
		now = feedback(t, est, now, 100, func(int) bool { return true })
	}
	now = max(now, pr.started+int64(probeDuration))
	d.padSent = 500_000 / 8 * int64(probeDuration/time.Second) // the padding went out
	before := est.Target()
	pr.judge(est, now)
	if pr.d != nil {
		t.Fatal("the probe is still running after probeDuration")
	}
	if got := est.Target(); got <= before || got < est.Acked() {
		t.Errorf("after a clean probe the estimate is %d (was %d, acknowledged %d)", got, before, est.Acked())
	}
}

// A subscriber held on the middle layer by its estimate, while its window wants the top one.
func probingSubscriber(t *testing.T, now int64) (*Participant, *downTrack, *PublishedTrack) {
	t.Helper()
	tr := benchTrack(0)
	tr.info.Simulcast = true
	tr.owner = &Participant{} // no publisher connection: keyframe requests are only counted
	for rank, rate := range []int64{150_000, 500_000, 1_500_000} {
		l := &layer{rank: rank, ssrc: uint32(100 + rank)}
		l.height.Store(int32(nominalHeight(rank)))
		l.bitrate.Store(rate)
		l.lastPacket.Store(now)
		tr.layers[rank] = l
	}
	sub := readySubscriber()
	sub.bwe = bwe.New(700_000)
	sub.room = &Room{sfu: &SFU{metrics: tr.metrics, log: slog.New(slog.DiscardHandler)}}
	d := newDownTrack(tr, sub)
	d.writer = nopWriter{}
	d.twccID = benchTWCCID
	d.current, d.target = 1, 1
	sub.downs = map[string]*downTrack{tr.info.ID: d}
	return sub, d, tr
}

// cleanProbe lets probeDuration pass from now with the subscriber's link acknowledging
// everything (1200-byte packets 1 ms apart, ~9.6 Mbit/s) and the publisher's layers
// active, and returns the time at its end.
func cleanProbe(t *testing.T, sub *Participant, tr *PublishedTrack, now int64) int64 {
	t.Helper()
	for end := now + int64(probeDuration); now < end; {
		now = feedback(t, sub.bwe, now, 100, func(int) bool { return true })
		for _, l := range tr.layers {
			if l != nil {
				l.lastPacket.Store(now)
			}
		}
	}
	return now
}

func (d *downTrack) probeState() (padRate, target int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.padRate, d.target
}

// A probe adds padding to the subscriber's stream, as much as the next layer up would add,
// and keeps it on its layer. When the link turns out not to carry it, the padding stops, and
// the subscriber has neither left its layer nor cost the publisher a keyframe.
func TestFailedProbeKeepsTheLayer(t *testing.T) {
	now := int64(time.Hour)
	sub, d, tr := probingSubscriber(t, now)
	// The loss controller judges over at least 300 ms: a clean interval first.
	now = feedback(t, sub.bwe, now, 40, func(int) bool { return true })
	sub.allocate(now)
	if pad, target := d.probeState(); pad != 1_000_000 || target != 1 {
		t.Fatalf("probe started with %d bit/s of padding on layer %d; want 1,000,000 on layer 1", pad, target)
	}
	now += int64(400 * time.Millisecond)
	now = feedback(t, sub.bwe, now, 40, func(i int) bool { return i%2 == 0 })
	sub.allocate(now)
	if pad, target := d.probeState(); pad != 0 || target != 1 {
		t.Fatalf("after the failed probe: %d bit/s of padding, layer %d; want none, layer 1", pad, target)
	}
	if n := testutil.ToFloat64(tr.metrics.Probes.WithLabelValues(probeFailed)); n != 1 {
		t.Fatalf("%v failed probes counted, want 1", n)
	}
	if n := testutil.ToFloat64(tr.metrics.PLIs); n != 0 {
		t.Fatalf("the failed probe asked the publisher for %v keyframes", n)
	}
}

// A probe the link carries raises the estimate, and the subscriber then moves up: one
// keyframe, of the layer it now receives.
func TestSucceededProbeMovesTheSubscriberUp(t *testing.T) {
	now := int64(time.Hour)
	sub, d, tr := probingSubscriber(t, now)
	now = feedback(t, sub.bwe, now, 40, func(int) bool { return true })
	sub.allocate(now)
	now = cleanProbe(t, sub, tr, now)
	d.mu.Lock()
	d.padSent = 1_000_000 / 8 * int64(probeDuration/time.Second) // the padding went out
	d.mu.Unlock()
	sub.allocate(now)
	if pad, target := d.probeState(); pad != 0 || target != 2 {
		t.Fatalf("after the probe: %d bit/s of padding, target layer %d; want none, layer 2", pad, target)
	}
	if n := testutil.ToFloat64(tr.metrics.Probes.WithLabelValues(probeSucceeded)); n != 1 {
		t.Fatalf("%v succeeded probes counted, want 1", n)
	}
	if n := testutil.ToFloat64(tr.metrics.PLIs); n != 1 {
		t.Fatalf("%v keyframes asked for, want 1 (the top layer's)", n)
	}
}

// A probe that could not send its padding (the stream's frames far apart, or a gap to wait
// out) shows nothing: the subscriber is not moved up as if the link had carried what it was
// never sent.
func TestProbeWithoutPaddingIsInconclusive(t *testing.T) {
	now := int64(time.Hour)
	sub, d, tr := probingSubscriber(t, now)
	now = feedback(t, sub.bwe, now, 40, func(int) bool { return true })
	sub.allocate(now)
	now = cleanProbe(t, sub, tr, now)
	sub.allocate(now)
	if pad, target := d.probeState(); pad != 0 || target != 1 {
		t.Fatalf("after the probe: %d bit/s of padding, layer %d; want none, layer 1", pad, target)
	}
	if n := testutil.ToFloat64(tr.metrics.Probes.WithLabelValues(probeInconclusive)); n != 1 {
		t.Fatalf("%v inconclusive probes counted, want 1", n)
	}
}

// Without transport-wide feedback from the subscriber nothing shows whether padding got
// through: its link is not probed.
func TestNoProbeWithoutFeedback(t *testing.T) {
	now := int64(time.Hour)
	sub, d, _ := probingSubscriber(t, now)
	d.twccID = 0
	now = feedback(t, sub.bwe, now, 40, func(int) bool { return true })
	sub.allocate(now)
	if pad, _ := d.probeState(); pad != 0 {
		t.Fatalf("probing a link that sends no feedback, with %d bit/s of padding", pad)
	}
}
