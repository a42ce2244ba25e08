package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
)

// fakeSFU is a signalling server that plays the SFU's side of both connections with pion
// connections of its own, so that a test sees every message the client sends and decides
// every one it receives.
//
// It sends each description without candidates and trickles them right behind it, and it
// never adds the client's publisher candidates, trickled or in the offer (as for a client
// whose own addresses the server cannot reach): its side learns the client's address only
// from the client's connectivity checks, so the publisher connection comes up only if the
// client applies the trickled candidates to the description they follow.
type fakeSFU struct {
	t   *testing.T
	srv *httptest.Server

	pub, sub *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	// Local candidates as gathered, by connection; sent once their description is.
	candMu sync.Mutex
	cands  map[*webrtc.PeerConnection][]webrtc.ICECandidateInit
	// Times each connection came up from checking: once, then once per ICE restart.
	upMu sync.Mutex
	ups  map[*webrtc.PeerConnection]int

	// The ufrags of the descriptions the client sent, by target, and the candidates it
	// sent ahead of theirs.
	mu       sync.Mutex
	seen     map[string]map[string]bool
	misorder []string
}

func newFakeSFU(t *testing.T) *fakeSFU {
	t.Helper()
	f := &fakeSFU{
		t:     t,
		cands: map[*webrtc.PeerConnection][]webrtc.ICECandidateInit{},
		ups:   map[*webrtc.PeerConnection]int{},
		seen:  map[string]map[string]bool{"publisher": {}, "subscriber": {}},
	}
	f.pub = f.newPC()
	f.sub = f.newPC()
	var err error
	f.track, err = webrtc.NewTrackLocalStaticRTP(Opus, "remote", "remote-stream")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sub.AddTrack(f.track); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.CloseNow()
		f.serve(r.Context(), conn)
	}))
	t.Cleanup(func() {
		f.srv.Close()
		// The handler ends when the client closes the WebSocket, which a test does first.
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("fake SFU: the connection outlived the client")
		}
		_ = f.pub.Close()
		_ = f.sub.Close()
	})
	return f
}

func (f *fakeSFU) newPC() *webrtc.PeerConnection {
	pc, err := newPeerConnection(true, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			f.candMu.Lock()
			f.cands[pc] = append(f.cands[pc], c.ToJSON())
			f.candMu.Unlock()
		}
	})
	checking := false
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		f.upMu.Lock()
		defer f.upMu.Unlock()
		switch s {
		case webrtc.ICEConnectionStateChecking:
			checking = true
		case webrtc.ICEConnectionStateConnected:
			if checking {
				f.ups[pc]++
			}
			checking = false
		}
	})
	return pc
}

// waitUps waits until both connections have come up n times.
func (f *fakeSFU) waitUps(n int) {
	f.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		f.upMu.Lock()
		pub, sub := f.ups[f.pub], f.ups[f.sub]
		f.upMu.Unlock()
		if pub >= n && sub >= n {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("connections came up publisher %d, subscriber %d times; want %d (ICE publisher=%s subscriber=%s)",
				pub, sub, n, f.pub.ICEConnectionState(), f.sub.ICEConnectionState())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *fakeSFU) serve(ctx context.Context, conn *websocket.Conn) {
	send := func(m message) {
		b, err := json.Marshal(m)
		if err == nil {
			err = conn.Write(ctx, websocket.MessageText, b)
		}
		if err != nil {
			f.t.Logf("fake SFU: write: %v", err)
		}
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		var m message
		if err := json.Unmarshal(data, &m); err != nil {
			f.t.Errorf("fake SFU: %v", err)
			return
		}
		if err := f.handle(m, send); err != nil {
			f.t.Errorf("fake SFU: %s: %v", m.Type, err)
			return
		}
	}
}

func (f *fakeSFU) handle(m message, send func(message)) error {
	switch m.Type {
	case "join":
		send(message{Type: "joined", Participant: &Participant{ID: "P1", Identity: "client"}})
	case "offer":
		f.noteDesc("publisher", m.SDP)
		first := f.pub.RemoteDescription() == nil
		// Whatever candidates pion put in the offer are ignored too.
		if err := f.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: withoutCandidates(m.SDP)}); err != nil {
			return err
		}
		answer, err := f.pub.CreateAnswer(nil)
		if err != nil {
			return err
		}
		sdp, err := f.describe(f.pub, answer)
		if err != nil {
			return err
		}
		send(message{Type: "answer", Target: "publisher", SDP: sdp})
		f.trickle(f.pub, "publisher", sdp, send)
		if first {
			return f.offerSubscriber(false, send)
		}
	case "restartIce":
		return f.offerSubscriber(true, send)
	case "answer":
		f.noteDesc("subscriber", m.SDP)
		return f.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
	case "candidate":
		if m.Candidate == nil {
			return fmt.Errorf("no candidate")
		}
		f.noteCandidate(m.Target, m.Candidate.Candidate)
		if m.Target == "subscriber" {
			return f.sub.AddICECandidate(*m.Candidate)
		}
	}
	return nil
}

func (f *fakeSFU) offerSubscriber(iceRestart bool, send func(message)) error {
	offer, err := f.sub.CreateOffer(&webrtc.OfferOptions{ICERestart: iceRestart})
	if err != nil {
		return err
	}
	sdp, err := f.describe(f.sub, offer)
	if err != nil {
		return err
	}
	send(message{Type: "offer", Target: "subscriber", SDP: sdp})
	f.trickle(f.sub, "subscriber", sdp, send)
	return nil
}

// describe applies a local description, waits for its candidates, and returns it without
// them: they are trickled.
func (f *fakeSFU) describe(pc *webrtc.PeerConnection, desc webrtc.SessionDescription) (string, error) {
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		return "", fmt.Errorf("gathering did not complete")
	}
	return withoutCandidates(desc.SDP), nil
}

func withoutCandidates(sdp string) string {
	var lines []string
	for _, l := range strings.SplitAfter(sdp, "\n") {
		if !strings.HasPrefix(l, "a=candidate:") && !strings.HasPrefix(l, "a=end-of-candidates") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "")
}

// trickle sends the candidates of the description's ICE generation back to back.
func (f *fakeSFU) trickle(pc *webrtc.PeerConnection, target, sdp string, send func(message)) {
	ufrag := sdpUfrag(sdp)
	f.candMu.Lock()
	var cands []webrtc.ICECandidateInit
	for _, c := range f.cands[pc] {
		if candidateUfrag(c.Candidate) == ufrag {
			cands = append(cands, c)
		}
	}
	f.candMu.Unlock()
	if len(cands) == 0 {
		f.t.Errorf("fake SFU: no %s candidates for ufrag %s", target, ufrag)
	}
	for i := range cands {
		send(message{Type: "candidate", Target: target, Candidate: &cands[i]})
	}
}

func (f *fakeSFU) noteDesc(target, sdp string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen[target][sdpUfrag(sdp)] = true
}

// noteCandidate records a client candidate that arrived ahead of its description: the
// SFU would apply it to the previous one and drop it.
func (f *fakeSFU) noteCandidate(target, cand string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := candidateUfrag(cand); u != "" && !f.seen[target][u] {
		f.misorder = append(f.misorder, fmt.Sprintf("%s candidate of ICE generation %q arrived before its description", target, u))
	}
}

func (f *fakeSFU) checkOrder() {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.misorder {
		f.t.Error(m)
	}
}

func sdpUfrag(sdp string) string {
	for _, line := range strings.Split(sdp, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}

// candidateUfrag is the ufrag attribute of a candidate line, "" if it has none.
func candidateUfrag(cand string) string {
	f := strings.Fields(cand)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "ufrag" {
			return f[i+1]
		}
	}
	return ""
}

// ICE restarts renegotiate both connections without losing a candidate: the client sends
// each description before the candidates of its ICE generation (pion gathers them inside
// CreateOffer and SetRemoteDescription, before the description exists), and applies the
// server's answer before the candidates that follow it.
func TestRestartICEKeepsCandidatesWithTheirDescription(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := newFakeSFU(t)
	c, err := Join(ctx, Options{URL: f.srv.URL, Token: "token", LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mic, err := NewLocalTrack(Opus, SourceMicrophone)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, mic); err != nil {
		t.Fatal(err)
	}
	f.waitUps(1)
	for i := range 4 {
		oldPub, oldSub := c.LocalUfrags()
		if err := c.RestartICE(ctx); err != nil {
			t.Fatalf("restart %d: %v", i+1, err)
		}
		f.waitUps(i + 2)
		if pub, sub := c.LocalUfrags(); pub == oldPub || sub == oldSub {
			t.Fatalf("restart %d kept ICE credentials: publisher %s to %s, subscriber %s to %s", i+1, oldPub, pub, oldSub, sub)
		}
		if err := c.WaitConnected(ctx); err != nil {
			t.Fatalf("restart %d: %v", i+1, err)
		}
	}
	f.checkOrder()
}
