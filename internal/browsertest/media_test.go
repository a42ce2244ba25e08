package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// VideoPlaying waits until the video element matching sel (or the first video inside
// the element matching it) has a picture (videoWidth > 0) and decodes new frames: at
// least minNewFrames within about a second. A video that is present but frozen, paused
// or without a source fails.
func (u *user) VideoPlaying(sel string) {
	u.t.Helper()
	if err := u.videoPlaying(sel, u.Timeout); err != nil {
		u.fatalf("%v", err)
	}
}

// minNewFrames is how many frames a playing video must show in frameWindow. The fake
// camera sends 30 per second; a loaded machine with the race detector may show far
// fewer, but a frozen picture shows none.
const (
	minNewFrames = 3
	frameWindow  = time.Second
)

// videoStateJS describes a video element and counts the frames it has decoded, both
// by getVideoPlaybackQuality and by requestVideoFrameCallback (some sources update
// only one of them).
const videoStateJS = `(sel) => {
	let v = bt.all(sel)[0];
	if (v && v.tagName !== "VIDEO") v = v.querySelector("video");
	if (!v) return { ok: false, state: "no video matches" };
	window.__meridianFrames ??= new WeakMap();
	if (!window.__meridianFrames.has(v)) {
		const c = { n: 0 };
		window.__meridianFrames.set(v, c);
		const tick = () => { c.n++; v.requestVideoFrameCallback(tick); };
		v.requestVideoFrameCallback(tick);
	}
	const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
	const src = v.srcObject;
	const state = { video: bt.describe(v), videoWidth: v.videoWidth, videoHeight: v.videoHeight,
		paused: v.paused, readyState: v.readyState, currentTime: v.currentTime,
		totalVideoFrames: q.totalVideoFrames, callbackFrames: window.__meridianFrames.get(v).n,
		tracks: src && src.getTracks ? src.getTracks().map(t =>
			({ kind: t.kind, readyState: t.readyState, muted: t.muted, enabled: t.enabled })) : null,
		src: v.currentSrc || undefined };
	return { ok: true, value: { width: v.videoWidth, frames: Math.max(q.totalVideoFrames || 0, state.callbackFrames), state } };
}`

// videoPlaying is VideoPlaying returning its failure.
func (u *user) videoPlaying(sel string, timeout time.Duration) error {
	type sample struct {
		Width  int             `json:"width"`
		Frames int             `json:"frames"`
		State  json.RawMessage `json:"state"`
	}
	what := sel + " playing"
	deadline := time.Now().Add(timeout)
	var last string
	for {
		// Each look waits for the element itself, up to the overall deadline.
		var first, second sample
		if err := u.poll(time.Until(deadline), what, &first, videoStateJS, sel); err != nil {
			return err
		}
		if first.Width == 0 {
			last = "no picture (videoWidth 0): " + string(first.State)
		} else {
			time.Sleep(frameWindow)
			if err := u.poll(time.Until(deadline), what, &second, videoStateJS, sel); err != nil {
				return err
			}
			if second.Width > 0 && second.Frames-first.Frames >= minNewFrames {
				return nil
			}
			last = fmt.Sprintf("%d new frames in %v (want %d); before: %s; after: %s",
				second.Frames-first.Frames, frameWindow, minNewFrames, first.State, second.State)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s; last seen: %s", timeout, what, last)
		}
		time.Sleep(pollInterval)
	}
}

// rtcSummaryJS describes every recorded peer connection and its inbound RTP streams.
const rtcSummaryJS = `(async () => {
	const out = [];
	for (const [i, pc] of (window.__meridianPCs || []).entries()) {
		const e = { pc: i, connectionState: pc.connectionState, iceConnectionState: pc.iceConnectionState,
			signalingState: pc.signalingState, inbound: [] };
		if (pc.connectionState !== "closed") {
			try {
				(await pc.getStats()).forEach(s => {
					if (s.type !== "inbound-rtp") return;
					e.inbound.push({ id: s.id, kind: s.kind, trackIdentifier: s.trackIdentifier, mid: s.mid,
						packetsReceived: s.packetsReceived, bytesReceived: s.bytesReceived,
						framesDecoded: s.framesDecoded, frameWidth: s.frameWidth, frameHeight: s.frameHeight,
						nackCount: s.nackCount, pliCount: s.pliCount, freezeCount: s.freezeCount,
						audioLevel: s.audioLevel, totalAudioEnergy: s.totalAudioEnergy,
						totalSamplesReceived: s.totalSamplesReceived });
				});
			} catch (err) { e.error = String(err); }
		}
		out.push(e);
	}
	return out;
})()`

// peerConnection is what rtcSummaryJS reports about one RTCPeerConnection of the page.
type peerConnection struct {
	PC                 int       `json:"pc"` // index in creation order
	ConnectionState    string    `json:"connectionState"`
	ICEConnectionState string    `json:"iceConnectionState"`
	SignalingState     string    `json:"signalingState"`
	Inbound            []inbound `json:"inbound"`
	Error              string    `json:"error,omitempty"`
}

// inbound is an inbound-rtp stat; the fields its kind lacks are zero.
type inbound struct {
	ID                   string  `json:"id"`
	Kind                 string  `json:"kind"`
	TrackIdentifier      string  `json:"trackIdentifier"`
	Mid                  string  `json:"mid"`
	PacketsReceived      int64   `json:"packetsReceived"`
	BytesReceived        int64   `json:"bytesReceived"`
	FramesDecoded        int64   `json:"framesDecoded"`
	FrameWidth           int64   `json:"frameWidth"`
	FrameHeight          int64   `json:"frameHeight"`
	NackCount            int64   `json:"nackCount"`
	PliCount             int64   `json:"pliCount"`
	FreezeCount          int64   `json:"freezeCount"`
	AudioLevel           float64 `json:"audioLevel"`
	TotalAudioEnergy     float64 `json:"totalAudioEnergy"`
	TotalSamplesReceived int64   `json:"totalSamplesReceived"`
}

// RTCStats describes every RTCPeerConnection the page has created (closed ones too),
// with their inbound RTP streams, for assertions the helpers do not cover.
func (u *user) RTCStats() []peerConnection {
	u.t.Helper()
	var pcs []peerConnection
	u.Eval(rtcSummaryJS, &pcs)
	return pcs
}

// AudioLevelAboveZero waits until some inbound audio stream of the page's peer
// connections carries sound: audioLevel > 0, or totalAudioEnergy growing between two
// looks. The fake microphone beeps, so audio received from another browser is not
// silent; a muted or disabled microphone sends silence, which fails.
func (u *user) AudioLevelAboveZero() {
	u.t.Helper()
	if err := u.audioHeard(u.Timeout); err != nil {
		u.fatalf("%v", err)
	}
}

// audioHeard is AudioLevelAboveZero returning its failure.
func (u *user) audioHeard(timeout time.Duration) error {
	const what = "inbound audio with level > 0"
	prev := map[string]inbound{}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(u.ctx, 5*time.Second)
		raw, err := evalJSON(ctx, rtcSummaryJS)
		cancel()
		var pcs []peerConnection
		if err == nil {
			err = json.Unmarshal(raw, &pcs)
		}
		switch {
		case err != nil && fatalEvalError(err):
			return fmt.Errorf("%s: %w", what, err)
		case err != nil:
			last = err.Error()
		case len(pcs) == 0:
			last = "the page has created no RTCPeerConnection"
		default:
			last = string(raw)
			for _, pc := range pcs {
				for _, in := range pc.Inbound {
					if in.Kind != "audio" {
						continue
					}
					key := fmt.Sprintf("%d/%s", pc.PC, in.ID)
					p, seen := prev[key]
					if in.AudioLevel > 0 || seen && in.TotalAudioEnergy > p.TotalAudioEnergy {
						return nil
					}
					prev[key] = in
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s; peer connections: %s", timeout, what, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
