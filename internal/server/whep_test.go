package server_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/server"
	"github.com/meridian-video/meridian/internal/token"
)

// received records what a WHEP player reads of its tracks.
type received struct {
	mu      sync.Mutex
	packets map[string][]receivedPacket // by kind
}

type receivedPacket struct {
	seq      uint16
	ts       uint32
	keyframe int       // the height of a synthetic VP8 keyframe's first packet, else 0
	sent     time.Time // when the publisher sent it
}

func newReceived() *received { return &received{packets: map[string][]receivedPacket{}} }

func (r *received) onTrack(tr *webrtc.TrackRemote) {
	kind := tr.Kind().String()
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		rp := receivedPacket{seq: p.SequenceNumber, ts: p.Timestamp}
		if kind == "video" {
			rp.keyframe = keyframeHeight(p.Payload)
		}
		if m, ok := client.ParseMarker(p.Payload); ok {
			rp.sent = m.Sent
		}
		r.mu.Lock()
		r.packets[kind] = append(r.packets[kind], rp)
		r.mu.Unlock()
	}
}

// since is what arrived of kind that was sent after t.
func (r *received) since(kind string, t time.Time) []receivedPacket {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []receivedPacket
	for _, p := range r.packets[kind] {
		if p.sent.After(t) {
			out = append(out, p)
		}
	}
	return out
}

// playWHEP starts a WHEP player on room that records what it receives.
func playWHEP(t *testing.T, ctx context.Context, srv *server.Server, room, setup string, opts ...client.WHEPOption) (*client.HTTPSession, *received) {
	t.Helper()
	rec := newReceived()
	if setup != "" {
		opts = append(opts, client.WithDTLSRole(setup))
	}
	tok := mint(t, srv, room, "viewer", token.Grants{Subscribe: true})
	s, err := client.PlayWHEP(ctx, srv.URL()+"/whep/"+room, tok, true, rec.onTrack, opts...)
	if err != nil {
		t.Fatalf("WHEP: %v", err)
	}
	t.Cleanup(func() { s.PC.Close() })
	return s, rec
}

// publishWHIP publishes synthetic VP8 video of the given height and Opus audio into room
// over WHIP until ctx ends or the session is closed.
func publishWHIP(t *testing.T, ctx context.Context, srv *server.Server, room, identity string, height int) *client.HTTPSession {
	t.Helper()
	v, err := client.NewLocalTrack(client.VP8, client.SourceCamera)
	if err != nil {
		t.Fatal(err)
	}
	a, err := client.NewLocalTrack(client.Opus, client.SourceMicrophone)
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, srv, room, identity, token.Grants{Publish: true})
	s, err := client.PublishWHIP(ctx, srv.URL()+"/whip/"+room, tok, true, v, a)
	if err != nil {
		t.Fatalf("WHIP: %v", err)
	}
	t.Cleanup(func() { s.PC.Close() })
	go (&client.VideoSource{Track: v, Bitrate: 300_000, KeyframeInterval: time.Hour, Width: height * 16 / 9, Height: height}).Run(ctx)
	go (&client.AudioSource{Track: a}).Run(ctx)
	return s
}

// waitPlaying waits for a player to receive video, starting with a keyframe, and audio
// sent after t.
func waitPlaying(t *testing.T, rec *received, after time.Time, height int) {
	t.Helper()
	eventually(t, 15*time.Second, "video and audio from the publisher", func() bool {
		return len(rec.since("video", after)) >= 30 && len(rec.since("audio", after)) >= 10
	})
	if first := rec.since("video", after)[0]; first.keyframe != height {
		t.Fatalf("the player's video starts with a packet of keyframe height %d, want a keyframe of height %d", first.keyframe, height)
	}
}

// A WHEP player or WHIP encoder that goes away without DELETE ends its session and frees
// its seat: when its connection closes (a closed tab sends DTLS close_notify) or when it
// stops answering ICE consent checks (it vanished).
func TestWHIPAndWHEPGhosts(t *testing.T) {
	gone := func(t *testing.T, ctx context.Context, srv *server.Server, s *client.HTTPSession, what string) {
		t.Helper()
		// Consent is lost after about 10 s of silence; pion's defaults took 30.
		eventually(t, 20*time.Second, what+" to leave the room", func() bool {
			r, ok := srv.SFU.LookupRoom("ghosts")
			return !ok || len(r.Participants()) == 1
		})
		err := s.Close(ctx)
		if err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("DELETE of the ended session: %v, want 404", err)
		}
	}
	t.Run("player closes its connection", func(t *testing.T) {
		srv := startServer(t)
		ctx, cancel := testContext(t)
		defer cancel()
		publishWHIP(t, ctx, srv, "ghosts", "encoder", 180)
		player, _ := playWHEP(t, ctx, srv, "ghosts", "")
		waitConnected(t, player.PC)
		if err := player.PC.Close(); err != nil {
			t.Fatal(err)
		}
		gone(t, ctx, srv, player, "the player")
	})
	t.Run("encoder closes its connection", func(t *testing.T) {
		srv := startServer(t)
		ctx, cancel := testContext(t)
		defer cancel()
		_, _ = playWHEP(t, ctx, srv, "ghosts", "")
		encoder := publishWHIP(t, ctx, srv, "ghosts", "encoder", 180)
		waitTracks(t, srv, "ghosts", 2)
		if err := encoder.PC.Close(); err != nil {
			t.Fatal(err)
		}
		gone(t, ctx, srv, encoder, "the encoder")
		if r, ok := srv.SFU.LookupRoom("ghosts"); ok && r.TrackCount() != 0 {
			t.Fatalf("%d tracks still published by the gone encoder", r.TrackCount())
		}
	})
	t.Run("player vanishes", func(t *testing.T) {
		srv := startServer(t)
		ctx, cancel := testContext(t)
		defer cancel()
		publishWHIP(t, ctx, srv, "ghosts", "encoder", 180)
		waitTracks(t, srv, "ghosts", 2)
		network, err := newSilenceableNet()
		if err != nil {
			t.Fatal(err)
		}
		player, rec := playWHEP(t, ctx, srv, "ghosts", "", client.WithNet(network))
		waitPlaying(t, rec, time.Time{}, 180)
		network.silent.Store(true)
		gone(t, ctx, srv, player, "the player")
	})
}

// A meeting participant whose network is gone is given up just the same: its connections
// stop answering consent checks while its WebSocket may linger.
func TestVanishedParticipantLeaves(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	network, err := newSilenceableNet()
	if err != nil {
		t.Fatal(err)
	}
	stay := join(t, ctx, srv, "vanish", "stay", pubSub, client.Options{})
	publishAV(t, ctx, stay, 300_000)
	gone := join(t, ctx, srv, "vanish", "gone", pubSub, client.Options{Net: network})
	publishAV(t, ctx, gone, 300_000)
	waitTrack(t, gone, "video")
	waitTrack(t, stay, "video")
	network.silent.Store(true)
	eventually(t, 20*time.Second, "the silent participant to leave the room", func() bool {
		r, ok := srv.SFU.LookupRoom("vanish")
		return ok && len(r.Participants()) == 1 && r.TrackCount() == 2
	})
}

// waitTracks waits for room to have n tracks published.
func waitTracks(t *testing.T, srv *server.Server, room string, n int) {
	t.Helper()
	eventually(t, 10*time.Second, "the room's tracks", func() bool {
		r, ok := srv.SFU.LookupRoom(room)
		return ok && r.TrackCount() == n
	})
}

// waitConnected waits for a peer connection to connect.
func waitConnected(t *testing.T, pc *webrtc.PeerConnection) {
	t.Helper()
	eventually(t, 10*time.Second, "the connection", func() bool {
		return pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
}

// silenceableNet is a client's network that can be cut: once silent, every datagram it
// would send or receive is lost, as when the player's machine drops off the network.
type silenceableNet struct {
	*stdnet.Net
	silent atomic.Bool
}

func newSilenceableNet() (*silenceableNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &silenceableNet{Net: n}, nil
}

func (n *silenceableNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &silenceableConn{UDPConn: c, net: n}, nil
}

type silenceableConn struct {
	transport.UDPConn
	net *silenceableNet
}

func (c *silenceableConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.net.silent.Load() {
			return n, addr, err
		}
	}
}

func (c *silenceableConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.net.silent.Load() {
		return len(b), nil
	}
	return c.UDPConn.WriteTo(b, addr)
}
