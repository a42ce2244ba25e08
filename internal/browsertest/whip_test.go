package browsertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/token"
)

// mint signs a join token for room with the env's server secret, valid for an hour.
func mint(t *testing.T, e *env, room, identity string, g token.Grants) string {
	t.Helper()
	tok, err := e.Server.Tokens.Mint(room, identity, identity, g, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// whipPublishJS publishes what getUserMedia(constraints) gives into a room over WHIP, each
// video track with sendEncodings if they are given (simulcast), and resolves to the
// node's HTTP status. The page must be same-origin with the node (say /healthz), so that
// fetch needs no CORS.
const whipPublishJS = `(async (room, tok, constraints, encodings) => {
	const stream = await navigator.mediaDevices.getUserMedia(constraints);
	const pc = new RTCPeerConnection();
	for (const t of stream.getTracks()) {
		const init = { direction: "sendonly", streams: [stream] };
		if (encodings && t.kind === "video") init.sendEncodings = encodings;
		pc.addTransceiver(t, init);
	}
	await pc.setLocalDescription();
	await new Promise((r) => { pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); setTimeout(r, 2000); });
	const res = await fetch("/whip/" + room, { method: "POST", body: pc.localDescription.sdp,
		headers: { "Content-Type": "application/sdp", Authorization: "Bearer " + tok } });
	if (!res.ok) throw new Error("WHIP " + res.status + ": " + await res.text());
	await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
	return res.status;
})(%s, %s, %s, %s)`

// whepWatchJS watches a room over WHEP, receiving the given kinds, in a <video id=watch>
// it adds to the page, and resolves to the node's HTTP status.
const whepWatchJS = `(async (room, tok, kinds) => {
	const pc = new RTCPeerConnection();
	for (const kind of kinds) pc.addTransceiver(kind, { direction: "recvonly" });
	const video = document.createElement("video");
	video.id = "watch"; video.autoplay = true; video.playsInline = true;
	document.body.append(video);
	const stream = new MediaStream();
	video.srcObject = stream;
	pc.ontrack = (e) => stream.addTrack(e.track);
	await pc.setLocalDescription();
	await new Promise((r) => { pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); setTimeout(r, 2000); });
	const res = await fetch("/whep/" + room, { method: "POST", body: pc.localDescription.sdp,
		headers: { "Content-Type": "application/sdp", Authorization: "Bearer " + tok } });
	if (!res.ok) throw new Error("WHEP " + res.status + ": " + await res.text());
	await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
	return res.status;
})(%s, %s, %s)`

// encoding is one simulcast layer of a WHIP publisher (RTCRtpEncodingParameters).
type encoding struct {
	RID                   string  `json:"rid"`
	ScaleResolutionDownBy float64 `json:"scaleResolutionDownBy"`
	MaxBitrate            int     `json:"maxBitrate"`
}

// PublishWHIP makes the page, same-origin with the node, publish getUserMedia(constraints)
// into room over WHIP with token tok, its video in the given simulcast layers if any.
func (u *user) PublishWHIP(room, tok string, constraints map[string]any, layers ...encoding) {
	u.t.Helper()
	var encodings any
	if len(layers) > 0 {
		encodings = layers
	}
	var status int
	u.Eval(fmt.Sprintf(whipPublishJS, jsValue(u, room), jsValue(u, tok), jsValue(u, constraints), jsValue(u, encodings)), &status)
	if status != http.StatusCreated {
		u.fatalf("WHIP answered %d", status)
	}
}

// WatchWHEP makes the page, same-origin with the node, watch room over WHEP with token
// tok, receiving the given kinds ("audio", "video") in <video id=watch>.
func (u *user) WatchWHEP(room, tok string, kinds ...string) {
	u.t.Helper()
	var status int
	u.Eval(fmt.Sprintf(whepWatchJS, jsValue(u, room), jsValue(u, tok), jsValue(u, kinds)), &status)
	if status != http.StatusCreated {
		u.fatalf("WHEP answered %d", status)
	}
}

// jsValue writes v as a JavaScript literal.
func jsValue(u *user, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		u.fatalf("encode %v for the page: %v", v, err)
	}
	return string(b)
}

// A page that starts WHEP playback before anything is published plays the stream once an
// encoder starts publishing, on the same session: a WHEP player does not renegotiate.
func TestWHEPBeforeTheStream(t *testing.T) {
	env := newEnv(t)
	viewer := newUser(t, env, "viewer")
	viewer.Navigate("/healthz")
	viewer.WatchWHEP("early", mint(t, env, "early", "viewer", token.Grants{Subscribe: true}), "audio", "video")

	pub := newUser(t, env, "publisher")
	pub.Navigate("/healthz")
	pub.PublishWHIP("early", mint(t, env, "early", "pub", token.Grants{Publish: true}), map[string]any{"audio": true, "video": true})
	viewer.VideoPlaying("#watch")
}

// A page playing a stream over WHEP keeps playing, on the same session, while the encoder
// reconnects: the encoder's page goes away (its stream ends in the room), then publishes
// anew with the same token and another picture size, and the player shows the new picture
// without a new peer connection or a renegotiation.
func TestWHEPAcrossEncoderReconnect(t *testing.T) {
	env := newEnv(t)
	encoderToken := mint(t, env, "obs", "encoder", token.Grants{Publish: true})
	pub := newUser(t, env, "encoder")
	pub.Navigate("/healthz")
	pub.PublishWHIP("obs", encoderToken, map[string]any{"audio": true, "video": map[string]int{"width": 320, "height": 180}})

	viewer := newUser(t, env, "viewer")
	viewer.Navigate("/healthz")
	viewer.WatchWHEP("obs", mint(t, env, "obs", "viewer", token.Grants{Subscribe: true}), "audio", "video")
	viewer.VideoPlaying("#watch")
	viewer.WaitFor("the first encoder's picture", `document.querySelector("#watch").videoWidth === 320`)

	// The encoder goes away: leaving the page closes its connection, and its tracks leave
	// the room.
	pub.Navigate("/healthz")
	tracks := func() int {
		r, ok := env.Server.SFU.LookupRoom("obs")
		if !ok {
			return 0
		}
		return r.TrackCount()
	}
	deadline := time.Now().Add(20 * time.Second)
	for tracks() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the gone encoder's %d tracks are still in the room", tracks())
		}
		time.Sleep(100 * time.Millisecond)
	}

	pub.PublishWHIP("obs", encoderToken, map[string]any{"audio": true, "video": map[string]int{"width": 640, "height": 360}})
	viewer.WaitFor("the reconnected encoder's picture", `document.querySelector("#watch").videoWidth === 640`)
	viewer.VideoPlaying("#watch")
	pcs := viewer.RTCStats()
	if len(pcs) != 1 || pcs[0].ConnectionState != "connected" || pcs[0].SignalingState != "stable" {
		t.Fatalf("the player's peer connections after the reconnect: %+v, want its one, connected", pcs)
	}
}
