package sfu

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// peer is the client side of one participant, driven directly by the events the SFU sends
// it. As a Sink it checks the SFU's trickle order: a candidate must not come before the
// description that introduces its ICE generation, or the client drops it. (Late candidates
// of a generation already replaced are dropped too, and rightly.)
type peer struct {
	t      *testing.T
	name   string
	events chan Event

	mu       sync.Mutex
	sent     map[Target]map[string]bool // ufrags of the descriptions sent, by connection
	misorder []string
}

func newPeer(t *testing.T, name string) *peer {
	return &peer{t: t, name: name, events: make(chan Event, 1024), sent: map[Target]map[string]bool{
		Publisher: {}, Subscriber: {},
	}}
}

// Send implements Sink.
func (pr *peer) Send(ev Event) {
	pr.mu.Lock()
	switch e := ev.(type) {
	case PublisherAnswer:
		pr.sent[Publisher][sdpUfrag(e.SDP)] = true
	case SubscriberOffer:
		pr.sent[Subscriber][sdpUfrag(e.SDP)] = true
	case ICECandidate:
		if u := candidateUfrag(e.Candidate.Candidate); u != "" && !pr.sent[e.Target][u] {
			pr.misorder = append(pr.misorder, fmt.Sprintf("%s candidate of ICE generation %q sent before its description", e.Target, u))
		}
	}
	pr.mu.Unlock()
	select {
	case pr.events <- ev:
	default:
		pr.t.Errorf("%s: event queue full", pr.name)
	}
}

// checkOrder fails the test if the SFU sent a candidate ahead of its description.
func (pr *peer) checkOrder() {
	pr.t.Helper()
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for _, m := range pr.misorder {
		pr.t.Errorf("%s: %s", pr.name, m)
	}
}

// next returns the next description of type E, applying the candidates met on the way to
// pc and skipping room events.
func next[E Event](t *testing.T, pr *peer, pc *clientPC) E {
	t.Helper()
	ev, ok := applyCandidates(t, pr, pc, 10*time.Second)
	e, isE := ev.(E)
	if !ok || !isE {
		t.Fatalf("%s: want %T within 10s, got %#v", pr.name, e, ev)
	}
	return e
}

// applyCandidates adds the candidates the SFU sends to pc until a description (or Closed)
// arrives, which it returns, or until within has passed.
func applyCandidates(t *testing.T, pr *peer, pc *clientPC, within time.Duration) (Event, bool) {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case ev := <-pr.events:
			switch e := ev.(type) {
			case ICECandidate:
				if err := pc.AddICECandidate(e.Candidate); err != nil {
					t.Fatalf("%s: add candidate: %v", pr.name, err)
				}
			case PublisherAnswer, SubscriberOffer, Closed:
				return ev, true
			}
		case <-timeout:
			return nil, false
		}
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

func testSFU(t *testing.T) *SFU {
	t.Helper()
	s := New(Config{LoopbackOnly: true}, slog.New(slog.DiscardHandler), nil)
	t.Cleanup(s.Close)
	return s
}

// clientPC is a client's connection on loopback. Its descriptions carry all its candidates
// (see describe), so that only the SFU trickles and the test watches one side's order.
type clientPC struct {
	*webrtc.PeerConnection
	mu       sync.Mutex
	checking bool
	ups      int // times ICE came up from checking: once, then once per restart
}

func newClientPC(t *testing.T) *clientPC {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(0)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	c := &clientPC{PeerConnection: pc}
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		c.mu.Lock()
		defer c.mu.Unlock()
		switch s {
		case webrtc.ICEConnectionStateChecking:
			c.checking = true
		case webrtc.ICEConnectionStateConnected:
			if c.checking {
				c.ups++
			}
			c.checking = false
		}
	})
	return c
}

func (c *clientPC) upCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ups
}

// describe applies a local description and returns it once gathering is complete.
func describe(t *testing.T, pc *clientPC, desc webrtc.SessionDescription) string {
	t.Helper()
	gathered := webrtc.GatheringCompletePromise(pc.PeerConnection)
	if err := pc.SetLocalDescription(desc); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		t.Fatal("gathering did not complete")
	}
	return pc.LocalDescription().SDP
}

// waitICE applies the SFU's candidates until pc's ICE has come up n times.
func waitICE(t *testing.T, pr *peer, pc *clientPC, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for pc.upCount() < n {
		if ev, more := applyCandidates(t, pr, pc, 20*time.Millisecond); more {
			t.Fatalf("%s: unexpected %#v while connecting", pr.name, ev)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: ICE %s, up %d times, want %d", pr.name, pc.ICEConnectionState(), pc.upCount(), n)
		}
	}
}

// publishAudio adds an Opus track to pc and sends packets on it until the test ends.
func publishAudio(t *testing.T, pc *clientPC, id string) {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, id, "stream-"+id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: []byte{0xfc, 0xff, 0xfe}}
			_ = track.WriteRTP(pkt)
		}
	}()
}

// An ICE restart of the publisher connection: the SFU's answer reaches the client before
// any candidate of the new ICE generation. pion restarts ICE and starts gathering inside
// SetRemoteDescription, so a candidate can be ready before the answer is; sent first, it
// would be dropped by the client, which still holds the old answer.
func TestPublisherICERestartAnswerPrecedesCandidates(t *testing.T) {
	room := testSFU(t).Room("restart")
	pr := newPeer(t, "publisher")
	p, _, err := room.Join(ParticipantInfo{ID: "P1", Identity: "pub"}, JoinOptions{CanPublish: true}, pr)
	if err != nil {
		t.Fatal(err)
	}
	pc := newClientPC(t)
	publishAudio(t, pc, "mic")
	negotiate := func(iceRestart bool) {
		t.Helper()
		offer, err := pc.CreateOffer(&webrtc.OfferOptions{ICERestart: iceRestart})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.HandlePublisherOffer(describe(t, pc, offer)); err != nil {
			t.Fatal(err)
		}
		answer := next[PublisherAnswer](t, pr, pc)
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer.SDP}); err != nil {
			t.Fatal(err)
		}
	}

	negotiate(false)
	waitICE(t, pr, pc, 1)
	for i := range 3 {
		negotiate(true)
		waitICE(t, pr, pc, i+2)
	}
	// A client whose network keeps changing may restart again before the last restart
	// has connected; the SFU is then still gathering when the next offer arrives, which
	// makes the race with the answer likelier still.
	for range 5 {
		negotiate(true)
	}
	pr.checkOrder()
}

// An ICE restart asked for while a subscriber offer awaits its answer is made once the
// answer arrives: the next offer has new credentials, its candidates follow it, and the
// connection comes up on them.
func TestSubscriberICERestartWhileOfferOutstanding(t *testing.T) {
	room := testSFU(t).Room("restart")
	sub := newPeer(t, "subscriber")
	s, _, err := room.Join(ParticipantInfo{ID: "P1", Identity: "sub"}, JoinOptions{CanSubscribe: true}, sub)
	if err != nil {
		t.Fatal(err)
	}
	subPC := newClientPC(t)

	pub := newPeer(t, "publisher")
	p, _, err := room.Join(ParticipantInfo{ID: "P2", Identity: "pub"}, JoinOptions{CanPublish: true}, pub)
	if err != nil {
		t.Fatal(err)
	}
	pubPC := newClientPC(t)
	publishAudio(t, pubPC, "first")
	offer, err := pubPC.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.HandlePublisherOffer(describe(t, pubPC, offer)); err != nil {
		t.Fatal(err)
	}
	answer := next[PublisherAnswer](t, pub, pubPC)
	if err := pubPC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer.SDP}); err != nil {
		t.Fatal(err)
	}
	// The publisher's candidates, for the rest of the test.
	stop, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		for {
			select {
			case ev := <-pub.events:
				if c, ok := ev.(ICECandidate); ok {
					_ = pubPC.AddICECandidate(c.Candidate)
				}
			case <-stop:
				return
			}
		}
	}()

	answerOffer := func(o SubscriberOffer) {
		t.Helper()
		if err := subPC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP}); err != nil {
			t.Fatal(err)
		}
		a, err := subPC.CreateAnswer(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.HandleSubscriberAnswer(describe(t, subPC, a)); err != nil {
			t.Fatal(err)
		}
	}
	first := next[SubscriberOffer](t, sub, subPC)
	answerOffer(first)
	waitICE(t, sub, subPC, 1)

	// A second track makes the SFU offer again; while that offer is outstanding the
	// client asks for an ICE restart.
	publishAudio(t, pubPC, "second")
	renegotiate, err := pubPC.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	reanswer, err := p.HandlePublisherOffer(describe(t, pubPC, renegotiate))
	if err != nil {
		t.Fatal(err)
	}
	if err := pubPC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: reanswer}); err != nil {
		t.Fatal(err)
	}
	outstanding := next[SubscriberOffer](t, sub, subPC)
	if err := s.RestartSubscriberICE(); err != nil {
		t.Fatal(err)
	}
	if ev, more := applyCandidates(t, sub, subPC, 300*time.Millisecond); more {
		t.Fatalf("the SFU sent %T while its offer awaited an answer", ev)
	}
	if got, was := sdpUfrag(outstanding.SDP), sdpUfrag(first.SDP); got != was {
		t.Fatalf("the renegotiation changed the ICE credentials (%s to %s) before the restart", was, got)
	}
	answerOffer(outstanding)

	restart := next[SubscriberOffer](t, sub, subPC)
	if sdpUfrag(restart.SDP) == sdpUfrag(outstanding.SDP) {
		t.Fatal("the offer after the answer kept the old ICE credentials")
	}
	if len(restart.Tracks) != 2 {
		t.Fatalf("the restart offer carries %d tracks, want 2", len(restart.Tracks))
	}
	answerOffer(restart)
	waitICE(t, sub, subPC, 2)
	sub.checkOrder()
	pub.checkOrder()
}
