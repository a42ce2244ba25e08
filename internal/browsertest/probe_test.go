package browsertest

import (
	"strconv"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/token"
)

// A viewer whose bandwidth estimate starts low gets the lowest simulcast layer first and is
// moved up by probes: the SFU pads the viewer's stream to try its link, and Chromium plays
// on through the padding and the switches that follow.
func TestProbingInTheBrowser(t *testing.T) {
	env := newEnv(t, func(c *config.Config) { c.Media.InitialBitrate = 200_000 })

	pub := newUser(t, env, "publisher")
	pub.Navigate("/healthz")
	pub.PublishWHIP("probe", mint(t, env, "probe", "pub", token.Grants{Publish: true}),
		map[string]any{"video": map[string]int{"width": 1280, "height": 720}},
		encoding{"q", 4, 150_000}, encoding{"h", 2, 500_000}, encoding{"f", 1, 1_500_000})

	viewer := newUser(t, env, "viewer")
	viewer.Navigate("/healthz")
	viewer.WatchWHEP("probe", mint(t, env, "probe", "viewer", token.Grants{Subscribe: true}), "video")
	viewer.VideoPlaying("#watch")

	video := func() inbound {
		for _, pc := range viewer.RTCStats() {
			for _, in := range pc.Inbound {
				if in.Kind == "video" {
					return in
				}
			}
		}
		return inbound{}
	}
	height := func() int64 { return video().FrameHeight }
	metric := func(sample string) float64 {
		v, _ := strconv.ParseFloat(scrapeMetric(t, env.URL, sample), 64)
		return v
	}
	// A fresh publisher's layer rates are not measured yet: the viewer may get the top
	// layer for a moment before its estimate moves it down. What counts is that it comes
	// back up from the lowest it was held at.
	var low, h int64
	// Keyframe requests are counted from the first padding on: before it, a fresh
	// publisher's layers settling (or a loss on a loaded machine) may ask for one, and that
	// is not the probe's doing.
	plisBefore := int64(-1)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if h = height(); h > 0 && (low == 0 || h < low) {
			low = h
		}
		if plisBefore < 0 && metric("meridian_sfu_padding_packets_total") > 0 {
			plisBefore = video().PliCount
		}
		if h > low && metric(`meridian_sfu_probes_total{result="succeeded"}`) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the viewer stayed at %d lines (lowest %d); probes succeeded %v, failed %v, padding packets %v",
				h, low, metric(`meridian_sfu_probes_total{result="succeeded"}`),
				metric(`meridian_sfu_probes_total{result="failed"}`), metric("meridian_sfu_padding_packets_total"))
		}
		time.Sleep(250 * time.Millisecond)
	}
	v := video()
	t.Logf("the viewer went from %d to %d lines; it sent %d NACKs and %d PLIs, and froze %d times", low, h, v.NackCount, v.PliCount, v.FreezeCount)
	// Padding confused nothing: Chromium never had to ask for a keyframe once it came.
	if plisBefore < 0 {
		plisBefore = 0
	}
	if n := v.PliCount - plisBefore; n != 0 {
		t.Errorf("the viewer asked for %d keyframes while probed (%d before)", n, plisBefore)
	}
	if metric("meridian_sfu_padding_packets_total") == 0 {
		t.Fatal("the viewer was moved up without being sent padding")
	}
	viewer.VideoPlaying("#watch")
}
