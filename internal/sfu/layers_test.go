package sfu

import (
	"math"
	"slices"
	"testing"
	"time"
)

// threeLayers is a typical 720p simulcast track: 180p, 360p and 720p, all sending.
func threeLayers() []layerState {
	return []layerState{
		{active: true, height: 180, bitrate: 150_000},
		{active: true, height: 360, bitrate: 500_000},
		{active: true, height: 720, bitrate: 1_500_000},
	}
}

func TestSelectLayer(t *testing.T) {
	type c struct {
		name              string
		layers            []layerState
		maxHeight, budget int
		want              int
	}
	midOff := threeLayers()
	midOff[1].active = false
	topOff := threeLayers()
	topOff[2].active = false
	lowOff := threeLayers()
	lowOff[0].active = false
	allOff := threeLayers()
	for i := range allOff {
		allOff[i].active = false
	}
	unknown := []layerState{
		{active: true, bitrate: 100_000},
		{active: true, bitrate: 400_000},
		{active: true, bitrate: 1_200_000},
	}
	twoUnknown := []layerState{{active: true}, {active: true}}
	odd := []layerState{ // measured sizes that differ from the nominal ones
		{active: true, height: 240},
		{active: true, height: 480},
		{active: true, height: 1080},
	}
	partlyKnown := []layerState{
		{active: true, height: 0},   // nominal 180
		{active: true, height: 540}, // measured
		{active: true, height: 0},   // nominal 720
	}

	for _, tc := range []c{
		// Height: the smallest layer at least maxHeight tall.
		{"no limits takes the top", threeLayers(), 0, 0, 2},
		{"exact fit", threeLayers(), 360, 0, 1},
		{"just above a layer takes the next", threeLayers(), 361, 0, 2},
		{"between layers rounds up", threeLayers(), 200, 0, 1},
		{"exactly the lowest", threeLayers(), 180, 0, 0},
		{"below the lowest", threeLayers(), 90, 0, 0},
		{"taller than every layer takes the top", threeLayers(), 1080, 0, 2},

		// Budget: lowered until the layer's bitrate fits.
		{"budget fits the top exactly", threeLayers(), 0, 1_500_000, 2},
		{"budget just under the top", threeLayers(), 0, 1_499_999, 1},
		{"budget fits the middle", threeLayers(), 0, 600_000, 1},
		{"budget fits the lowest only", threeLayers(), 0, 200_000, 0},
		{"height and budget", threeLayers(), 720, 400_000, 0},
		{"budget does not raise above the height", threeLayers(), 360, 10_000_000, 1},
		{"nothing fits: lowest active", threeLayers(), 0, 1, 0},
		{"nothing fits with height: lowest active", threeLayers(), 720, 50_000, 0},

		// Inactive layers are never chosen.
		{"middle off, height 360 goes up", midOff, 360, 0, 2},
		{"middle off, budget skips it", midOff, 360, 600_000, 0},
		{"middle off, no limits", midOff, 0, 0, 2},
		{"top off, no limits", topOff, 0, 0, 1},
		{"top off, height 720", topOff, 720, 0, 1},
		{"lowest off, nothing fits: lowest active", lowOff, 0, 1, 1},
		{"lowest off, small height", lowOff, 100, 0, 1},
		{"none active", allOff, 0, 0, -1},
		{"none active with limits", allOff, 360, 100_000, -1},
		{"no layers", nil, 0, 0, -1},

		// Unknown heights use 180, 360, 720 by rank.
		{"unknown heights, 300", unknown, 300, 0, 1},
		{"unknown heights, 361", unknown, 361, 0, 2},
		{"unknown heights, 180", unknown, 180, 0, 0},
		{"unknown heights, budget", unknown, 0, 500_000, 1},
		{"two unknown layers, 720", twoUnknown, 720, 0, 1},
		{"two unknown layers, 360", twoUnknown, 360, 0, 1},
		{"two unknown layers, 200", twoUnknown, 200, 0, 1},
		{"two unknown layers, 180", twoUnknown, 180, 0, 0},
		{"measured heights win, 240", odd, 240, 0, 0},
		{"measured heights win, 360", odd, 360, 0, 1},
		{"measured heights win, 720", odd, 720, 0, 2},
		{"mixed known and nominal, 500", partlyKnown, 500, 0, 1},
		{"mixed known and nominal, 541", partlyKnown, 541, 0, 2},
		{"mixed known and nominal, 181", partlyKnown, 181, 0, 1},
	} {
		if got := selectLayer(tc.layers, tc.maxHeight, tc.budget); got != tc.want {
			t.Errorf("%s: selectLayer(maxHeight %d, budget %d) = %d, want %d", tc.name, tc.maxHeight, tc.budget, got, tc.want)
		}
	}
}

func TestNominalHeight(t *testing.T) {
	for rank, want := range map[int]int{0: 180, 1: 360, 2: 720, 3: 720, 7: 720} {
		if got := nominalHeight(rank); got != want {
			t.Errorf("nominalHeight(%d) = %d, want %d", rank, got, want)
		}
	}
}

// layerTraffic feeds a meter the bytes of a 30 fps video layer whose keyframe, every 3 s, is
// eight delta frames' worth, sampling it at each of ticks (offsets from start). It returns
// what the meter said at each tick, what each tick's interval carried on its own, and the
// layer's average rate, all in bits per second.
func layerTraffic(m *rateMeter, start int64, ticks []time.Duration, delta int) (rates, perTick []float64, average float64) {
	const fps = 30
	frame := time.Second / fps
	var bytes, prevBytes int64
	var prevAt, next time.Duration
	for n := 0; len(ticks) > 0; ticks = ticks[1:] {
		at := ticks[0]
		for ; next <= at; next += frame {
			size := delta
			if n%(3*fps) == 0 {
				size = 8 * delta
			}
			bytes += int64(size)
			n++
		}
		rates = append(rates, float64(m.sample(bytes, start+int64(at))))
		perTick = append(perTick, float64(bytes-prevBytes)*8/(at-prevAt).Seconds())
		prevBytes, prevAt = bytes, at
	}
	return rates, perTick, float64(bytes) * 8 / next.Seconds()
}

func everyTick(d, until time.Duration) []time.Duration {
	var ticks []time.Duration
	for at := d; at <= until; at += d {
		ticks = append(ticks, at)
	}
	return ticks
}

// A layer's rate is what the allocator weighs against a subscriber's budget: a keyframe must
// not make a layer that fits look too big for a tick, which would switch the subscriber down
// and back up, asking the publisher for a keyframe each time.
func TestLayerRateIsNotMovedByKeyframes(t *testing.T) {
	const start = int64(1_000_000_000_000)
	m := newRateMeter(start)
	rates, perTick, average := layerTraffic(&m, start, everyTick(tickInterval, 60*time.Second), 5000)

	budget := int(average * 1.2) // the subscriber's share fits the top layer by 20 %
	if worst := slices.Max(perTick[12:]); worst <= float64(budget) {
		t.Fatalf("no tick carries more than the budget (%.0f ≤ %d): the test shows nothing", worst, budget)
	}
	layers := threeLayers()
	for i, r := range rates[12:] { // after the first 6 s
		if dev := r/average - 1; math.Abs(dev) > 0.1 {
			t.Fatalf("tick %d: rate %.0f, %+.0f %% off the layer's average %.0f", 12+i, r, 100*dev, average)
		}
		layers[2].bitrate = int(r)
		if got := selectLayer(layers, 0, budget); got != 2 {
			t.Fatalf("tick %d: a budget 20 %% above the layer's average got layer %d", 12+i, got)
		}
	}
}

// The rate is measured over the time that actually passed: a room tick that runs late (a
// busy machine) must not read as a burst, nor an early one as a lull.
func TestLayerRateUsesTheTimeThatPassed(t *testing.T) {
	const start = int64(1_000_000_000_000)
	var ticks []time.Duration
	at := time.Duration(0)
	for i := range 120 {
		step := tickInterval
		switch i % 4 {
		case 1:
			step = 1500 * time.Millisecond // late
		case 2:
			step = 300 * time.Millisecond // early
		}
		at += step
		ticks = append(ticks, at)
	}
	m := newRateMeter(start)
	rates, _, average := layerTraffic(&m, start, ticks, 5000)
	for i, r := range rates[8:] {
		if dev := r/average - 1; math.Abs(dev) > 0.1 {
			t.Fatalf("tick %d: rate %.0f, %+.0f %% off the layer's average %.0f", 8+i, r, 100*dev, average)
		}
	}
}

// A lasting change (the publisher's encoder halving its rate on a congested uplink) is
// followed within a few seconds, and a new layer's first keyframe, delivered in milliseconds,
// is not taken for its rate.
func TestLayerRateFollowsALastingChange(t *testing.T) {
	const start = int64(1_000_000_000_000)
	m := newRateMeter(start)
	if r := m.sample(40_000, start+int64(5*time.Millisecond)); r != 0 {
		t.Fatalf("a 40 kB keyframe 5 ms after the layer started reads as %d bits/s, want no rate yet", r)
	}
	m = newRateMeter(start)
	layerTraffic(&m, start, everyTick(tickInterval, 20*time.Second), 5000)
	// The same meter, from 20 s on, fed a layer at half the rate.
	var bytes int64 = m.prevBytes
	var r int64
	for at := 20*time.Second + tickInterval; at <= 26*time.Second; at += tickInterval {
		bytes += 15 * 2500 // 15 delta frames of 2,500 bytes per tick: 600 kbit/s
		r = m.sample(bytes, start+int64(at))
	}
	if want := 600_000.0; math.Abs(float64(r)/want-1) > 0.1 {
		t.Fatalf("6 s after the layer halved its rate the meter reads %d bits/s, want %.0f ± 10 %%", r, want)
	}
}
