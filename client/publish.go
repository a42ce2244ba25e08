package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Track sources, as the server names them.
const (
	SourceCamera     = "camera"
	SourceMicrophone = "microphone"
	SourceScreen     = "screen"
)

// LocalTrack is a track this client publishes: one RTP stream, or several simulcast layers
// (lowest first) of the same source.
type LocalTrack struct {
	Source string
	Layers []*webrtc.TrackLocalStaticRTP
	// keyframe is signalled when the server asks for a keyframe on any layer.
	keyframe chan struct{}

	// Simulcast layers are told apart by the receiver from the mid and rid header
	// extensions, which the sender must add itself; their ids are negotiated.
	mu          sync.Mutex
	transceiver *webrtc.RTPTransceiver
	mid         string
	midExt      uint8
	ridExt      uint8
	levelExt    uint8
}

// WriteRTP sends a packet on one layer (0 unless simulcast), adding the mid and rid header
// extensions that let the receiver tell simulcast layers apart.
func (t *LocalTrack) WriteRTP(layer int, pkt *rtp.Packet) error {
	l := t.Layers[layer]
	if rid := l.RID(); rid != "" {
		t.mu.Lock()
		mid, midExt, ridExt := t.mid, t.midExt, t.ridExt
		t.mu.Unlock()
		if midExt != 0 && ridExt != 0 {
			if err := pkt.SetExtension(midExt, []byte(mid)); err != nil {
				return err
			}
			if err := pkt.SetExtension(ridExt, []byte(rid)); err != nil {
				return err
			}
		}
	}
	return l.WriteRTP(pkt)
}

// audioLevelExtensionID is the negotiated id of the audio level header extension, 0 if
// none was negotiated.
func (t *LocalTrack) audioLevelExtensionID() uint8 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.levelExt
}

// learnExtensions records the negotiated mid and the header extension ids.
func (t *LocalTrack) learnExtensions() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.transceiver == nil {
		return
	}
	t.mid = t.transceiver.Mid()
	for _, e := range t.transceiver.Sender().GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			t.midExt = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			t.ridExt = uint8(e.ID)
		case audioLevelURI:
			t.levelExt = uint8(e.ID)
		}
	}
}

// NewLocalTrack returns a track of the given codec. With rids (such as "q", "h", "f") it
// is a simulcast track with one layer per rid.
func NewLocalTrack(codec webrtc.RTPCodecCapability, source string, rids ...string) (*LocalTrack, error) {
	id := "t-" + randomID()
	stream := "s-" + randomID()
	t := &LocalTrack{Source: source, keyframe: make(chan struct{}, 1)}
	if len(rids) == 0 {
		l, err := webrtc.NewTrackLocalStaticRTP(codec, id, stream)
		if err != nil {
			return nil, err
		}
		t.Layers = append(t.Layers, l)
		return t, nil
	}
	for _, rid := range rids {
		l, err := webrtc.NewTrackLocalStaticRTP(codec, id, stream, webrtc.WithRTPStreamID(rid))
		if err != nil {
			return nil, err
		}
		t.Layers = append(t.Layers, l)
	}
	return t, nil
}

// ID is the track's id on this client's side.
func (t *LocalTrack) ID() string { return t.Layers[0].ID() }

// Publish adds tracks to the publisher connection and negotiates it.
func (c *Client) Publish(ctx context.Context, tracks ...*LocalTrack) error {
	pc, err := c.publisherPC()
	if err != nil {
		return err
	}
	sources := map[string]string{}
	for _, t := range tracks {
		if len(t.Layers) == 0 {
			return errors.New("client: track has no layers")
		}
		sources[t.ID()] = t.Source
		tr, err := pc.AddTransceiverFromTrack(t.Layers[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return fmt.Errorf("add track: %w", err)
		}
		for _, l := range t.Layers[1:] {
			if err := tr.Sender().AddEncoding(l); err != nil {
				return fmt.Errorf("add simulcast layer: %w", err)
			}
		}
		t.mu.Lock()
		t.transceiver = tr
		t.mu.Unlock()
		for _, l := range t.Layers {
			go t.readRTCP(tr.Sender(), l.RID())
		}
	}
	if err := c.send(message{Type: "sources", Sources: sources}); err != nil {
		return err
	}
	if err := c.negotiatePublisher(ctx, false); err != nil {
		return err
	}
	for _, t := range tracks {
		t.learnExtensions()
	}
	return nil
}

// publisherPC returns the publisher connection, creating it on first use.
func (c *Client) publisherPC() (*webrtc.PeerConnection, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pub == nil {
		pc, err := c.newPeerConnection()
		if err != nil {
			return nil, err
		}
		pc.OnICECandidate(c.onCandidate("publisher"))
		c.pub = pc
	}
	return c.pub, nil
}

// negotiatePublisher offers the publisher connection and applies the server's answer.
func (c *Client) negotiatePublisher(ctx context.Context, iceRestart bool) error {
	c.mu.Lock()
	pc := c.pub
	c.mu.Unlock()
	// Candidates wait from before the offer is created: with ICERestart, pion restarts ICE
	// inside CreateOffer and gathers the new generation's candidates at once. The SFU
	// applies a candidate against the offer it has, so one sent ahead of its offer is
	// dropped there.
	c.pubDescMu.Lock()
	offer, err := pc.CreateOffer(&webrtc.OfferOptions{ICERestart: iceRestart})
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err == nil {
		err = c.send(message{Type: "offer", Target: "publisher", SDP: offer.SDP})
	}
	c.pubDescMu.Unlock()
	if err != nil {
		return err
	}
	select {
	case err := <-c.pubAnswer:
		return err
	case e := <-c.errs:
		return e
	case <-c.closed:
		return c.closedError()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitConnected waits until every connection the client has is connected. It fails when
// ctx ends, when the session ends, or when a connection has failed: the server ends the
// session of a participant whose connection failed, so waiting longer is pointless.
func (c *Client) WaitConnected(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		pub, sub := c.ConnectionStates()
		okPub := pub == webrtc.PeerConnectionStateNew || pub == webrtc.PeerConnectionStateConnected
		okSub := sub == webrtc.PeerConnectionStateNew || sub == webrtc.PeerConnectionStateConnected
		if okPub && okSub && (pub == webrtc.PeerConnectionStateConnected || sub == webrtc.PeerConnectionStateConnected) {
			return nil
		}
		if ended(pub) || ended(sub) {
			return fmt.Errorf("client: connections publisher=%s subscriber=%s", pub, sub)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("connections publisher=%s subscriber=%s: %w", pub, sub, ctx.Err())
		case <-c.closed:
			return c.closedError()
		case <-t.C:
		}
	}
}

// ended tells whether a connection can no longer become connected by itself.
func ended(s webrtc.PeerConnectionState) bool {
	return s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed
}

// KeyframeRequests delivers a signal whenever the server asks for a keyframe.
func (t *LocalTrack) KeyframeRequests() <-chan struct{} { return t.keyframe }

// readRTCP reads one layer's RTCP so the sender's interceptors (NACK responder, reports)
// run, and passes on keyframe requests.
func (t *LocalTrack) readRTCP(s *webrtc.RTPSender, rid string) {
	for {
		var pkts []rtcp.Packet
		var err error
		if rid == "" {
			pkts, _, err = s.ReadRTCP()
		} else {
			pkts, _, err = s.ReadSimulcastRTCP(rid)
		}
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				select {
				case t.keyframe <- struct{}{}:
				default:
				}
			}
		}
	}
}
