package sfu

// Simulcast layers are ranked from 0 (lowest resolution) upward. Browsers name them by RID;
// the names used by Meridian's web app and by most SFUs map onto ranks here.
var ridRank = map[string]int{"q": 0, "l": 0, "h": 1, "m": 1, "f": 2}

// layerState is what the SFU knows of one simulcast layer, measured on the wire.
type layerState struct {
	active  bool
	height  int // pixels, learnt from keyframes when the codec tells it; 0 when unknown
	bitrate int // bits per second over the last measurement window
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
