package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// HTTPSession is a WHIP or WHEP session: a peer connection and its resource URL.
type HTTPSession struct {
	PC       *webrtc.PeerConnection
	Resource string
	token    string
}

// PublishWHIP publishes tracks into a room over WHIP (RFC 9725): endpoint is the server's
// /whip/{room} URL.
func PublishWHIP(ctx context.Context, endpoint, token string, loopbackOnly bool, tracks ...*LocalTrack) (*HTTPSession, error) {
	pc, err := newPeerConnection(loopbackOnly, nil)
	if err != nil {
		return nil, err
	}
	for _, t := range tracks {
		tr, err := pc.AddTransceiverFromTrack(t.Layers[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			pc.Close()
			return nil, err
		}
		for _, l := range t.Layers[1:] {
			if err := tr.Sender().AddEncoding(l); err != nil {
				pc.Close()
				return nil, err
			}
		}
		t.mu.Lock()
		t.transceiver = tr
		t.mu.Unlock()
		for _, l := range t.Layers {
			go t.readRTCP(tr.Sender(), l.RID())
		}
	}
	s, err := exchangeHTTP(ctx, pc, endpoint, token, "")
	if err != nil {
		return nil, err
	}
	for _, t := range tracks {
		t.learnExtensions()
	}
	return s, nil
}

// WHEPOption changes how PlayWHEP offers.
type WHEPOption func(*whepOptions)

type whepOptions struct {
	setup string
	net   transport.Net
}

// WithDTLSRole makes the offer take a DTLS role, "active" (client) or "passive" (server),
// instead of leaving the choice to the server (actpass), as some players do.
func WithDTLSRole(setup string) WHEPOption {
	return func(o *whepOptions) { o.setup = setup }
}

// WithNet makes the player's ICE use network n, as Options.Net does for a Client.
func WithNet(n transport.Net) WHEPOption {
	return func(o *whepOptions) { o.net = n }
}

// PlayWHEP watches a room over WHEP: endpoint is the server's /whep/{room} URL. onTrack
// receives each track.
func PlayWHEP(ctx context.Context, endpoint, token string, loopbackOnly bool, onTrack func(*webrtc.TrackRemote), opts ...WHEPOption) (*HTTPSession, error) {
	var o whepOptions
	for _, opt := range opts {
		opt(&o)
	}
	pc, err := newPeerConnection(loopbackOnly, o.net)
	if err != nil {
		return nil, err
	}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			pc.Close()
			return nil, err
		}
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { onTrack(t) })
	return exchangeHTTP(ctx, pc, endpoint, token, o.setup)
}

// exchangeHTTP posts a complete offer (no trickle), with a=setup set to setup unless it is
// "", and applies the answer.
func exchangeHTTP(ctx context.Context, pc *webrtc.PeerConnection, endpoint, token, setup string) (*HTTPSession, error) {
	fail := func(err error) (*HTTPSession, error) {
		pc.Close()
		return nil, err
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fail(err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	sdp := pc.LocalDescription().SDP
	if setup != "" {
		// pion always offers actpass; its own role then follows the answer's.
		sdp = strings.ReplaceAll(sdp, "a=setup:actpass", "a=setup:"+setup)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewBufferString(sdp))
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode != http.StatusCreated {
		var e Error
		if json.Unmarshal(body, &e) == nil && e.Code != "" {
			return fail(&e)
		}
		return fail(fmt.Errorf("%s: %s", endpoint, resp.Status))
	}
	loc, err := resp.Location()
	if err != nil {
		return fail(fmt.Errorf("no resource location: %w", err))
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		return fail(err)
	}
	return &HTTPSession{PC: pc, Resource: loc.String(), token: token}, nil
}

// Close ends the session on the server (DELETE on the resource) and locally.
func (s *HTTPSession) Close(ctx context.Context) error {
	defer s.PC.Close()
	if _, err := url.Parse(s.Resource); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.Resource, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("delete %s: %s", s.Resource, resp.Status)
	}
	return nil
}
