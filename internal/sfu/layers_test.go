package sfu

import "testing"

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
