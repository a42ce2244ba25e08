package sfu

import (
	"math"
	"time"
)

// Simulcast layers are ranked from 0 (lowest resolution) upward. Browsers name them by RID;
// the names used by Meridian's web app and by most SFUs map onto ranks here.
var ridRank = map[string]int{"q": 0, "l": 0, "h": 1, "m": 1, "f": 2}

// layerState is what the SFU knows of one simulcast layer, measured on the wire.
type layerState struct {
	active  bool
	height  int // pixels, learnt from keyframes when the codec tells it; 0 when unknown
	bitrate int // bits per second, smoothed (see rateMeter)
}

// rateSmoothing is the time constant over which a layer's measured bitrate follows its
// traffic. A keyframe is several times a delta frame: measured over one 500 ms room tick, it
// lifts a layer's rate by half or more for that tick, and a subscriber whose budget sits
// between the layer's usual rate and that peak would be moved down at the keyframe and back
// up after it, each switch asking the publisher for yet another keyframe. Over 2 s the same
// keyframe moves the rate by a few percent, and a lasting change is followed within seconds.
const rateSmoothing = 2 * time.Second

// rateMeter turns a layer's byte count, sampled at each room tick, into its bitrate: the
// average over the actual time since the previous sample (a late tick does not inflate it),
// smoothed exponentially over rateSmoothing. The first measurement, over at least
// minRateInterval from the meter's start, is taken as it is. The zero meter starts at its
// first sample.
type rateMeter struct {
	prevBytes int64
	prevAt    int64 // unix ns of the previous sample, or of the start
	rate      float64
	measured  bool
}

// minRateInterval is the shortest interval measured: a layer's first packets, a keyframe
// delivered in a few milliseconds, are no rate.
const minRateInterval = 250 * time.Millisecond

// newRateMeter starts a meter at start (unix ns), when its byte count was 0.
func newRateMeter(start int64) rateMeter {
	return rateMeter{prevAt: start}
}

// sample records the byte count at now (unix ns) and returns the smoothed bitrate in bits
// per second, 0 until one is measured.
func (m *rateMeter) sample(bytes, now int64) int64 {
	if m.prevAt == 0 {
		m.prevBytes, m.prevAt = bytes, now
		return 0
	}
	dt := now - m.prevAt
	if dt < int64(minRateInterval) {
		return int64(m.rate)
	}
	measured := float64(bytes-m.prevBytes) * 8 * float64(time.Second) / float64(dt)
	m.prevBytes, m.prevAt = bytes, now
	if !m.measured {
		m.rate, m.measured = measured, true
	} else {
		alpha := 1 - math.Exp(-float64(dt)/float64(rateSmoothing))
		m.rate += alpha * (measured - m.rate)
	}
	return int64(m.rate)
}

// nominalHeight is the height assumed for a layer of unknown size: browsers scale simulcast
// layers by 4, 2 and 1 from a 720p capture by default.
func nominalHeight(rank int) int {
	return [...]int{180, 360, 720}[min(rank, 2)]
}

// selectLayer picks the simulcast layer a subscriber should receive: the smallest layer tall
// enough for the size it renders at (maxHeight, 0 for no limit), lowered until it fits the
// bandwidth budget (bits per second, 0 for no limit). It never returns an inactive layer and
// returns -1 only when no layer is active. When nothing fits the budget it returns the lowest
// active layer: a degraded picture beats a frozen one.
func selectLayer(layers []layerState, maxHeight, budget int) int {
	want := -1
	for i, l := range layers {
		if !l.active {
			continue
		}
		want = i
		h := l.height
		if h == 0 {
			h = nominalHeight(i)
		}
		if maxHeight > 0 && h >= maxHeight {
			break
		}
	}
	for i := want; i >= 0; i-- {
		if !layers[i].active {
			continue
		}
		if budget <= 0 || layers[i].bitrate <= budget {
			return i
		}
	}
	for i, l := range layers {
		if l.active {
			return i
		}
	}
	return -1
}
