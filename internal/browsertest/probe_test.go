package browsertest

import (
	"fmt"
	"net/http"
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
	mint := func(identity string, g token.Grants) string {
		tok, err := env.Server.Tokens.Mint("probe", identity, identity, g, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	pub := newUser(t, env, "publisher")
	pub.Navigate("/healthz")
	const whipJS = `(async (tok) => {
		const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
		const pc = new RTCPeerConnection();
		pc.addTransceiver(stream.getVideoTracks()[0], { direction: "sendonly", streams: [stream], sendEncodings: [
			{ rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150000 },
			{ rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500000 },
			{ rid: "f", scaleResolutionDownBy: 1, maxBitrate: 1500000 },
		] });
		await pc.setLocalDescription();
		await new Promise((r) => { pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); setTimeout(r, 2000); });
		const res = await fetch("/whip/probe", { method: "POST", body: pc.localDescription.sdp,
			headers: { "Content-Type": "application/sdp", Authorization: "Bearer " + tok } });
		if (!res.ok) throw new Error("WHIP " + res.status + ": " + await res.text());
		await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
		return res.status;
	})(%s)`
	var status int
	pub.Eval(fmt.Sprintf(whipJS, jsString(mint("pub", token.Grants{Publish: true}))), &status)
	if status != http.StatusCreated {
		t.Fatalf("WHIP answered %d", status)
	}

	viewer := newUser(t, env, "viewer")
	viewer.Navigate("/healthz")
	const whepJS = `(async (tok) => {
		const pc = new RTCPeerConnection();
		pc.addTransceiver("video", { direction: "recvonly" });
		const video = document.createElement("video");
		video.id = "watch"; video.autoplay = true; video.muted = true; video.playsInline = true;
		document.body.append(video);
		const stream = new MediaStream();
		video.srcObject = stream;
		pc.ontrack = (e) => stream.addTrack(e.track);
		await pc.setLocalDescription();
		await new Promise((r) => { pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); setTimeout(r, 2000); });
		const res = await fetch("/whep/probe", { method: "POST", body: pc.localDescription.sdp,
			headers: { "Content-Type": "application/sdp", Authorization: "Bearer " + tok } });
		if (!res.ok) throw new Error("WHEP " + res.status + ": " + await res.text());
		await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
		return res.status;
	})(%s)`
	viewer.Eval(fmt.Sprintf(whepJS, jsString(mint("viewer", token.Grants{Subscribe: true}))), &status)
	if status != http.StatusCreated {
		t.Fatalf("WHEP answered %d", status)
	}
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
	deadline := time.Now().Add(60 * time.Second)
	for {
		if h = height(); h > 0 && (low == 0 || h < low) {
			low = h
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
	// Padding confused nothing: Chromium never had to ask for a keyframe.
	if v.PliCount != 0 {
		t.Errorf("the viewer asked for %d keyframes while probed", v.PliCount)
	}
	if metric("meridian_sfu_padding_packets_total") == 0 {
		t.Fatal("the viewer was moved up without being sent padding")
	}
	viewer.VideoPlaying("#watch")
}
