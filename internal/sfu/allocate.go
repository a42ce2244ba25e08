package sfu

import (
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meridian-video/meridian/internal/bwe"
)

// audioBitrateReserve is the bandwidth kept back for each audio track a subscriber
// receives before the rest is shared among video tracks.
const audioBitrateReserve = 64_000

// allocate shares the subscriber's estimated bandwidth among the video tracks it receives
// and picks each one's simulcast layer, probing the link for a higher layer when the
// estimate holds a track below the size it is shown at (see layerProbe).
func (p *Participant) allocate(now int64) {
	p.mu.Lock()
	var video []*downTrack
	audio := 0
	for _, d := range p.downs {
		if d.kind == webrtc.RTPCodecTypeVideo {
			video = append(video, d)
		} else {
			audio++
		}
	}
	p.mu.Unlock()
	if len(video) == 0 {
		p.probe.stop()
		return
	}
	if result := p.probe.judge(p.bwe, now); result != "" {
		p.room.sfu.metrics.Probes.WithLabelValues(result).Inc()
		p.room.sfu.log.Debug("probe ended", "participant", p.info.ID, "result", result, "estimate", p.bwe.Target())
	}
	budget := max(1, (p.bwe.Target()-audio*audioBitrateReserve)/len(video))
	var candidate *downTrack
	candidateRank, candidateGap := -1, 0
	for _, d := range video {
		t := d.source()
		if t == nil {
			continue
		}
		if !t.info.Simulcast {
			d.setTarget(0)
			d.keepWaiting()
			continue
		}
		states := t.layerStates(now)
		maxHeight := int(d.maxHeight.Load())
		rank := selectLayer(states, maxHeight, budget)
		want := selectLayer(states, maxHeight, 0)
		switch {
		case p.probe.d == d && (p.probe.rank > want || rank >= p.probe.rank):
			p.probe.stop() // shown smaller now, or the estimate fits the layer: nothing to probe for
		case p.probe.d == d:
		case candidate == nil && rank >= 0 && want > rank && d.canProbe():
			if up := nextActive(states, rank); up <= want {
				candidate, candidateRank = d, up
				candidateGap = states[up].bitrate - states[rank].bitrate
			}
		}
		if rank >= 0 {
			d.setTarget(rank)
		}
		d.keepWaiting()
	}
	if candidate != nil && p.probe.ready(p.bwe, now) {
		p.probe.start(p.bwe, candidate, candidateRank, max(candidateGap, minProbeRate), now)
	}
}

// nextActive is the first active layer above rank, or len(states) if none.
func nextActive(states []layerState, rank int) int {
	for i := rank + 1; i < len(states); i++ {
		if states[i].active {
			return i
		}
	}
	return len(states)
}

// Layer probing. The bandwidth estimate grows only toward rates the SFU has actually sent
// (bwe: an estimate far above what was tested is a guess), so a subscriber moved down to a
// low layer would never earn its way back up: the low layer is all it is sent, and the
// estimate stays near it. Instead, when the link has been calm, the SFU sends one track's
// stream with padding added, as much as the next layer up would add (downTrack.setProbe),
// for probeDuration. If no congestion shows, the link carried it: the estimate is raised to
// match and the allocator moves the track up at its next tick. If it does, the padding
// stops and the estimate returns to where it was before the probe; the subscriber never
// left its layer, so the failed probe cost it no picture and the publisher no keyframe.
// The next probe waits twice as long (probeBackoffMin … probeBackoffMax). A probe that could
// not send at least half its padding (the stream had a gap to wait out, or its frames were
// far apart) proved nothing either way: it is inconclusive.
const (
	probeDuration   = 3 * time.Second
	probeCalm       = 2 * time.Second // no congestion this long before a probe starts
	probeBackoffMin = 2 * time.Second
	probeBackoffMax = 30 * time.Second

	// minProbeRate is the least padding a probe sends, bits per second: a layer whose rate
	// is not measured yet still needs room.
	minProbeRate = 100_000
)

// layerProbe is a participant's probe state; the room tick, allocate's only caller, is its
// only user.
type layerProbe struct {
	d       *downTrack // the track sent with padding, nil when no probe runs
	rank    int        // the layer the probe is for
	rate    int        // the padding asked for, bits per second
	started int64      // unix ns
	before  int        // the estimate when the probe started, bits per second
	next    int64      // earliest start of the next probe
	backoff time.Duration
}

// Probe results, the result label of meridian_sfu_probes_total.
const (
	probeSucceeded    = "succeeded"
	probeFailed       = "failed"
	probeInconclusive = "inconclusive"
)

// judge ends a running probe that has failed (congestion since it started), succeeded
// (probeDuration without congestion, its padding sent) or was inconclusive (too little
// padding sent), and reports which, or "" if it runs on or none ran.
func (pr *layerProbe) judge(est *bwe.Estimator, now int64) string {
	switch {
	case pr.d == nil:
	case pr.d.closed.Load():
		pr.stop()
	case est.CongestedSince(pr.started):
		// The probe's own overshoot is what the estimator reacted to: the link carried
		// what was sent before it, so the estimate goes back there rather than below,
		// which would drop the subscriber's other layers too.
		est.Raise(pr.before)
		pr.backoff = min(max(2*pr.backoff, probeBackoffMin), probeBackoffMax)
		pr.next = now + int64(pr.backoff)
		pr.stop()
		return probeFailed
	case now-pr.started >= int64(probeDuration) &&
		pr.d.paddingSent()*8 < int64(pr.rate)*(now-pr.started)/int64(time.Second)/2:
		pr.next = now + int64(probeBackoffMin)
		pr.stop()
		return probeInconclusive
	case now-pr.started >= int64(probeDuration):
		// What got through while probing is proven; the estimator itself allows up to
		// 1.5 times what it has seen acknowledged.
		est.Raise(est.Acked() * 3 / 2)
		pr.backoff = 0
		pr.next = now + int64(probeBackoffMin)
		pr.stop()
		return probeSucceeded
	}
	return ""
}

// ready reports whether a new probe may start.
func (pr *layerProbe) ready(est *bwe.Estimator, now int64) bool {
	return pr.d == nil && now >= pr.next && !est.CongestedSince(now-int64(probeCalm))
}

// start sends d's stream with rate bits per second of padding, to try the link for the
// layer rank.
func (pr *layerProbe) start(est *bwe.Estimator, d *downTrack, rank, rate int, now int64) {
	pr.d, pr.rank, pr.rate, pr.started, pr.before = d, rank, rate, now, est.Target()
	d.setProbe(rate)
}

// stop ends the probe's padding, if one runs.
func (pr *layerProbe) stop() {
	if pr.d != nil {
		pr.d.setProbe(0)
		pr.d = nil
	}
}
