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
