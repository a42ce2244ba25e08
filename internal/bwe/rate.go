package bwe

import "math"

const (
	ackedBinNs   = 50_000_000  // arrival-time bin width
	ackedBins    = 10          // window = 500 ms: long enough to smooth, short enough to follow a drop
	ackedMinSpan = 250_000_000 // less arrival time than this says little about the rate

	increasePerSecond = 1.08
	decreaseFactor    = 0.85
	decreaseHold      = 250_000_000 // ns; lets the queue start draining before judging again
	ackedCapFactor    = 1.5         // increase no further than this above what gets through
	ackedCapHeadroom  = 10_000

	// Loss is judged over at least this many packets and this much time: fewer packets make
	// one loss look like 5 %, and one loss episode is reported by several feedbacks, which
	// must not each cut the rate.
	lossMinPackets = 20
	lossInterval   = 300_000_000 // ns
	lossHigh       = 0.10
	lossLow        = 0.02
)

// ackedRate measures the receive rate of acknowledged packets over a sliding window of
// receiver arrival time, in fixed bins so that adding a packet is O(1) and allocation-free.
type ackedRate struct {
	bins    [ackedBins]struct{ k, bytes int64 }
	first   int64 // earliest arrival since the window was (re)started
	latest  int64
	started bool
}

func (a *ackedRate) add(arrival int64, size int) {
	if !a.started || arrival < a.latest-maxArrivalGap {
		// A jump this far back is a receiver clock restart, not reordering.
		*a = ackedRate{first: arrival, latest: arrival, started: true}
	}
	a.latest = max(a.latest, arrival)
	a.first = min(a.first, arrival)
	k := floorDiv(arrival, ackedBinNs)
	if k <= floorDiv(a.latest, ackedBinNs)-ackedBins {
		return // older than the window
	}
	i := k % ackedBins
	if i < 0 {
		i += ackedBins
	}
	b := &a.bins[i]
	if b.k != k {
		b.k, b.bytes = k, 0
	}
	b.bytes += int64(size)
}

// rate is the acknowledged bitrate in bits per second, or 0 while unknown.
func (a *ackedRate) rate() float64 {
	if !a.started {
		return 0
	}
	lk := floorDiv(a.latest, ackedBinNs)
	start := max((lk-ackedBins+1)*ackedBinNs, a.first)
	span := a.latest - start
	if span < ackedMinSpan {
		return 0
	}
	var bytes int64
	for _, b := range a.bins {
		if b.k > lk-ackedBins && b.k <= lk {
			bytes += b.bytes
		}
	}
	return float64(bytes) * 8e9 / float64(span)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// aimd is the delay-based rate controller: multiplicative increase while the delay is
// steady, a cut to a fraction of what actually got through when the queue grows.
type aimd struct {
	rate         float64
	lastUpdate   int64
	lastDecrease int64
	started      bool
	decreased    bool
}

func (c *aimd) update(sig usage, acked float64, at int64) float64 {
	if !c.started {
		c.started, c.lastUpdate = true, at
	}
	dt := min(max(float64(at-c.lastUpdate)/1e9, 0), 1)
	c.lastUpdate = at
	holding := c.decreased && at-c.lastDecrease < decreaseHold
	switch {
	case holding:
	case sig == overusing:
		// Cut relative to the measured throughput, not the old estimate: after an
		// overshoot the estimate may be far above what the link carries.
		base := c.rate
		if acked > 0 {
			base = acked
		}
		c.rate = min(c.rate, decreaseFactor*base)
		c.lastDecrease, c.decreased = at, true
	case sig == normal:
		r := c.rate * math.Pow(increasePerSecond, dt)
		if acked > 0 {
			// An estimate far above what the sender actually uses is untested; keep it
			// close so that when the source speeds up it does not flood the link.
			r = min(r, max(c.rate, ackedCapFactor*acked+ackedCapHeadroom))
		}
		c.rate = r
	}
	// underusing: the queue is draining; hold until the delay settles.
	c.rate = clampRate(c.rate)
	return c.rate
}

// lossControl caps the delay-based rate when the receiver reports heavy loss, which the
// delay signal misses on links that drop instead of queuing (policers, radio, short buffers).
type lossControl struct {
	// cap is maxBitrate while loss is low, so that the delay-based rate alone decides and
	// is not held back between loss evaluations.
	cap         float64
	lost, total int
	lastEval    int64
	started     bool
}

// update returns the rate and whether this evaluation found loss above lossLow.
func (l *lossControl) update(lost, received int, delayRate float64, at int64) (float64, bool) {
	lossy := false
	if !l.started {
		l.started, l.lastEval, l.cap = true, at, maxBitrate
	}
	l.lost += lost
	l.total += lost + received
	if l.total >= lossMinPackets && at-l.lastEval >= lossInterval {
		f := float64(l.lost) / float64(l.total)
		lossy = f >= lossLow
		switch {
		case f > lossHigh:
			// Cut from what is being sent now, not from a stale higher cap.
			l.cap = min(l.cap, delayRate) * (1 - 0.5*f)
		case f < lossLow:
			// dt is not capped: at low rates evaluations are seconds apart.
			l.cap *= math.Pow(increasePerSecond, float64(at-l.lastEval)/1e9)
			if l.cap >= delayRate {
				l.cap = maxBitrate
			}
		default:
			l.cap = min(l.cap, delayRate)
		}
		l.lost, l.total, l.lastEval = 0, 0, at
	}
	return clampRate(min(l.cap, delayRate)), lossy
}
