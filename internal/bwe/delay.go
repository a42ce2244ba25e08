package bwe

import "math"

type usage int8

const (
	normal usage = iota
	overusing
	underusing
)

const (
	// Packets sent within this span form one group: a pacer or encoder burst leaves
	// together, so only the spacing between bursts says anything about the queue.
	burstSpan = 5_000_000 // ns
	// A larger gap between group arrivals is a pause or a receiver clock jump, not queuing.
	maxArrivalGap = 3_000_000_000 // ns

	trendWindow = 20 // points in the least-squares fit
	// Fit once half the window is there: at startup the first 20 groups can take half a
	// second to arrive through a congested bottleneck, and an early fit is scaled down by
	// the small delta count anyway.
	trendMinPoints = trendWindow / 2
	trendSmoothing = 0.9  // weight of the previous smoothed delay
	trendGain      = 4.0  // scales the slope into the threshold's units
	maxTrendDeltas = 60   // the slope is trusted more as deltas accumulate, up to this many
	overuseTimeMs  = 10.0 // how long the trend must stay above the threshold

	thresholdInit  = 12.5
	thresholdMin   = 6.0
	thresholdMax   = 600.0
	thresholdUp    = 0.0087 // adapt slowly upward so a real overuse is not learned away
	thresholdDown  = 0.039
	maxAdaptOffset = 15.0 // outliers this far above the threshold do not move it
	maxAdaptStepMs = 100.0
)

type group struct {
	firstSend, lastSend int64
	lastArrival         int64
}

type point struct{ x, y float64 }

// delayDetector turns (send time, arrival time) pairs into an over/underuse signal from
// the slope of the smoothed one-way delay variation between packet groups.
type delayDetector struct {
	cur, prev group
	groups    int // how many of cur, prev are valid

	origin    int64 // arrival time of the first point, so x stays small
	acc       float64
	smoothed  float64
	pts       [trendWindow]point
	npts      int
	numDeltas int
	prevTrend float64

	threshold    float64
	lastAdapt    int64
	adapted      bool
	overuseMs    float64
	overuseCount int
	signal       usage
}

func (d *delayDetector) reset() {
	*d = delayDetector{threshold: thresholdInit, overuseMs: -1}
}

func (d *delayDetector) add(sendAt, arrival int64) {
	switch {
	case d.groups == 0:
		d.cur = group{sendAt, sendAt, arrival}
		d.groups = 1
		return
	case sendAt < d.cur.firstSend:
		return // sent before the current burst: reordered, would corrupt the deltas
	case sendAt-d.cur.firstSend <= burstSpan:
		d.cur.lastSend = max(d.cur.lastSend, sendAt)
		d.cur.lastArrival = max(d.cur.lastArrival, arrival)
		return
	}
	if d.groups == 2 {
		sendDelta := d.cur.lastSend - d.prev.lastSend
		arrivalDelta := d.cur.lastArrival - d.prev.lastArrival
		switch {
		case arrivalDelta > maxArrivalGap || arrivalDelta < -maxArrivalGap:
			th := d.threshold
			d.reset()
			d.threshold = th
		case arrivalDelta >= 0:
			d.update(float64(arrivalDelta-sendDelta)/1e6, float64(sendDelta)/1e6, d.cur.lastArrival)
		}
	}
	d.prev, d.cur = d.cur, group{sendAt, sendAt, arrival}
	d.groups = 2
}

// update feeds one delay variation sample (ms) into the trendline and the detector.
func (d *delayDetector) update(variation, sendDeltaMs float64, arrival int64) {
	if d.npts == 0 {
		d.origin = arrival
	}
	d.numDeltas = min(d.numDeltas+1, maxTrendDeltas)
	d.acc += variation
	d.smoothed = trendSmoothing*d.smoothed + (1-trendSmoothing)*d.acc
	p := point{float64(arrival-d.origin) / 1e6, d.smoothed}
	if d.npts < trendWindow {
		d.pts[d.npts] = p
		d.npts++
	} else {
		copy(d.pts[:], d.pts[1:])
		d.pts[trendWindow-1] = p
	}
	trend := d.prevTrend
	if d.npts >= trendMinPoints {
		trend = slope(d.pts[:])
	}
	d.detect(trend, sendDeltaMs, arrival)
}

// slope is the least-squares slope of y over x; 0 if x does not vary.
func slope(pts []point) float64 {
	var sx, sy float64
	for _, p := range pts {
		sx += p.x
		sy += p.y
	}
	mx, my := sx/float64(len(pts)), sy/float64(len(pts))
	var num, den float64
	for _, p := range pts {
		num += (p.x - mx) * (p.y - my)
		den += (p.x - mx) * (p.x - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

func (d *delayDetector) detect(trend, sendDeltaMs float64, arrival int64) {
	m := float64(d.numDeltas) * trend * trendGain
	switch {
	case m > d.threshold:
		if d.overuseMs < 0 {
			d.overuseMs = sendDeltaMs / 2
		} else {
			d.overuseMs += sendDeltaMs
		}
		d.overuseCount++
		// A falling trend means the queue is already shrinking; signalling would only
		// make the rate controller cut twice for one episode.
		if d.overuseMs > overuseTimeMs && d.overuseCount > 1 && trend >= d.prevTrend {
			d.overuseMs, d.overuseCount = 0, 0
			d.signal = overusing
		}
	case m < -d.threshold:
		d.overuseMs, d.overuseCount = -1, 0
		d.signal = underusing
	default:
		d.overuseMs, d.overuseCount = -1, 0
		d.signal = normal
	}
	d.prevTrend = trend
	d.adapt(m, arrival)
}

// adapt moves the threshold toward |m| so that the detector neither starves against
// loss-based flows (threshold too low) nor ignores real queues (too high).
func (d *delayDetector) adapt(m float64, arrival int64) {
	if !d.adapted {
		d.adapted, d.lastAdapt = true, arrival
	}
	a := math.Abs(m)
	if a > d.threshold+maxAdaptOffset {
		d.lastAdapt = arrival
		return
	}
	k := thresholdUp
	if a < d.threshold {
		k = thresholdDown
	}
	dt := min(max(float64(arrival-d.lastAdapt)/1e6, 0), maxAdaptStepMs)
	d.threshold = min(max(d.threshold+k*(a-d.threshold)*dt, thresholdMin), thresholdMax)
	d.lastAdapt = arrival
}
