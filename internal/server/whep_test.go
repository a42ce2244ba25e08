package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/server"
	"github.com/meridian-video/meridian/internal/token"
)

// whepPaths are the viewer's DTLS roles in its offer and so the node's send path: the
// node, left the choice, is the DTLS server and sends on its direct path; as the DTLS
// client it sends through pion.
var whepPaths = []struct {
	name, setup, path string
}{
	{"direct path", "", "direct"},
	{"pion path", "passive", "pion"},
}

// received records what a WHEP player reads of its tracks.
type received struct {
	mu      sync.Mutex
	packets map[string][]receivedPacket // by kind
}

type receivedPacket struct {
	pt       uint8
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
		rp := receivedPacket{pt: p.PayloadType, seq: p.SequenceNumber, ts: p.Timestamp}
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

// before is the last packet of kind sent before t, if any.
func (r *received) before(kind string, t time.Time) (receivedPacket, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var last receivedPacket
	found := false
	for _, p := range r.packets[kind] {
		if !p.sent.After(t) {
			last, found = p, true
		}
	}
	return last, found
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

// A WHEP player that starts before anyone publishes receives the stream once it starts,
// on the same session, without renegotiating: from a WHIP encoder and from a meeting
// participant.
func TestWHEPBeforeTheStream(t *testing.T) {
	for _, path := range whepPaths {
		t.Run("WHIP publisher, "+path.name, func(t *testing.T) {
			srv := startServer(t)
			ctx, cancel := testContext(t)
			defer cancel()
			_, rec := playWHEP(t, ctx, srv, "early", path.setup)
			start := time.Now()
			publishWHIP(t, ctx, srv, "early", "encoder", 360)
			waitPlaying(t, rec, start, 360)
			if n := metricValue(t, srv, `meridian_sfu_subscriber_connections_total{path="`+path.path+`"}`); n != 1 {
				t.Errorf("%v subscriber connections on the %s send path, want 1", n, path.path)
			}
		})
	}
	t.Run("WebSocket publisher", func(t *testing.T) {
		srv := startServer(t)
		ctx, cancel := testContext(t)
		defer cancel()
		_, rec := playWHEP(t, ctx, srv, "early", "")
		start := time.Now()
		pub := join(t, ctx, srv, "early", "pub", token.Grants{Publish: true}, client.Options{})
		publishAV(t, ctx, pub, 300_000)
		eventually(t, 15*time.Second, "video and audio from the publisher", func() bool {
			return len(rec.since("video", start)) >= 30 && len(rec.since("audio", start)) >= 10
		})
		if first := rec.since("video", start)[0]; first.keyframe == 0 {
			t.Fatal("the player's video does not start with a keyframe")
		}
	})
}

// A WHEP player keeps playing, on the same session, while the encoder reconnects: the new
// encoder's stream follows the old one's with a keyframe, sequence numbers without a gap
// and timestamps that move on.
func TestWHEPAcrossEncoderReconnect(t *testing.T) {
	for _, path := range whepPaths {
		t.Run(path.name, func(t *testing.T) {
			srv := startServer(t)
			ctx, cancel := testContext(t)
			defer cancel()
			first := publishWHIP(t, ctx, srv, "obs", "encoder", 360)
			_, rec := playWHEP(t, ctx, srv, "obs", path.setup)
			waitPlaying(t, rec, time.Time{}, 360)

			if err := first.Close(ctx); err != nil {
				t.Fatal(err)
			}
			waitTracks(t, srv, "obs", 0)
			switched := time.Now()
			publishWHIP(t, ctx, srv, "obs", "encoder", 180)
			waitPlaying(t, rec, switched, 180)
			for _, kind := range []string{"video", "audio"} {
				last, ok := rec.before(kind, switched)
				if !ok {
					t.Fatalf("no %s from the first encoder", kind)
				}
				next := rec.since(kind, switched)[0]
				if next.seq != last.seq+1 || int32(next.ts-last.ts) <= 0 {
					t.Errorf("%s across the reconnect: sequence %d then %d, timestamp %d then %d", kind, last.seq, next.seq, last.ts, next.ts)
				}
			}
		})
	}
}

// A player's video section negotiates several codecs; each encoder's stream reaches it in
// the payload type the answer gave that stream's codec.
func TestWHEPSlotSendsEachEncodersCodec(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	player, rec := playWHEP(t, ctx, srv, "codecs", "")
	codecOf := answeredCodecs(t, player.PC, "video")

	start := time.Now()
	vp8 := publishWHIP(t, ctx, srv, "codecs", "encoder", 180)
	waitPlaying(t, rec, start, 180)
	if got := codecOf[rec.since("video", start)[0].pt]; got != "VP8" {
		t.Fatalf("VP8 arrives as %q", got)
	}
	if err := vp8.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitTracks(t, srv, "codecs", 0)

	switched := time.Now()
	h264, err := client.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, client.SourceCamera)
	if err != nil {
		t.Fatal(err)
	}
	s, err := client.PublishWHIP(ctx, srv.URL()+"/whip/codecs", mint(t, srv, "codecs", "encoder", token.Grants{Publish: true}), true, h264)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.PC.Close() })
	go sendH264(ctx, h264)
	eventually(t, 15*time.Second, "H.264 from the second encoder", func() bool {
		return len(rec.since("video", switched)) >= 10
	})
	for _, p := range rec.since("video", switched) {
		if got := codecOf[p.pt]; got != "H264" {
			t.Fatalf("H.264 arrives as %q (payload type %d)", got, p.pt)
		}
	}
}

// A section is sent no track whose codec it did not negotiate: a player that takes VP8 only
// gets nothing of an H.264 encoder, and the stream of the VP8 encoder that follows it.
func TestWHEPSlotSkipsAnUnnegotiatedCodec(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: client.VP8, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	rec := newReceived()
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { rec.onTrack(tr) })
	offerWHEP(t, ctx, srv, pc, "vp8only")

	start := time.Now()
	h264, err := client.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, client.SourceCamera)
	if err != nil {
		t.Fatal(err)
	}
	s, err := client.PublishWHIP(ctx, srv.URL()+"/whip/vp8only", mint(t, srv, "vp8only", "encoder", token.Grants{Publish: true}), true, h264)
	if err != nil {
		t.Fatal(err)
	}
	go sendH264(ctx, h264)
	waitTracks(t, srv, "vp8only", 1)
	time.Sleep(time.Second) // time for anything wrongly sent to arrive
	if n := len(rec.since("video", start)); n != 0 {
		t.Fatalf("the VP8-only player was sent %d packets of H.264", n)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitTracks(t, srv, "vp8only", 0)
	publishWHIP(t, ctx, srv, "vp8only", "encoder", 180)
	eventually(t, 15*time.Second, "the VP8 encoder's video", func() bool { return len(rec.since("video", start)) >= 30 })
	if first := rec.since("video", start)[0]; first.keyframe != 180 {
		t.Fatalf("the player's video starts with a packet of keyframe height %d, want 180", first.keyframe)
	}
}

// offerWHEP starts a WHEP session on room for pc, offering all its candidates.
func offerWHEP(t *testing.T, ctx context.Context, srv *server.Server, pc *webrtc.PeerConnection, room string) {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL()+"/whep/"+room, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+mint(t, srv, room, "viewer", token.Grants{Subscribe: true}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHEP: %s %s %v", resp.Status, answer, err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		t.Fatal(err)
	}
}

// answeredCodecs maps the payload types of pc's remote description's first section of kind
// to their codec names.
func answeredCodecs(t *testing.T, pc *webrtc.PeerConnection, kind string) map[uint8]string {
	t.Helper()
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(pc.RemoteDescription().SDP); err != nil {
		t.Fatal(err)
	}
	out := map[uint8]string{}
	for _, m := range desc.MediaDescriptions {
		if m.MediaName.Media != kind {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, codec, _ := strings.Cut(a.Value, " ")
			n, err := strconv.Atoi(pt)
			if err != nil {
				t.Fatalf("rtpmap %q", a.Value)
			}
			name, _, _ := strings.Cut(codec, "/")
			out[uint8(n)] = name
		}
		break
	}
	if len(out) < 2 {
		t.Fatalf("the answer's %s section negotiates %v: the test needs several codecs", kind, out)
	}
	return out
}

// A WHEP player or WHIP encoder that goes away without DELETE ends its session and frees
// its seat: when its connection closes (a closed tab sends DTLS close_notify) or when it
// stops answering ICE consent checks (it vanished).
func TestWHIPAndWHEPGhosts(t *testing.T) {
	gone := func(t *testing.T, ctx context.Context, srv *server.Server, s *client.HTTPSession, what string) {
		t.Helper()
		// Consent is lost 8 to 10 s into the silence; pion's defaults took 30.
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
	// It has 15 s to restart ICE; pion's defaults gave it 30.
	eventually(t, 25*time.Second, "the silent participant to leave the room", func() bool {
		r, ok := srv.SFU.LookupRoom("vanish")
		return ok && len(r.Participants()) == 1 && r.TrackCount() == 2
	})
}

// A meeting participant whose network drops out for longer than a WHEP player's consent
// lasts, as in a change of network, keeps its session and restarts ICE in it.
func TestParticipantOutlivesAShortOutage(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	network, err := newSilenceableNet()
	if err != nil {
		t.Fatal(err)
	}
	pub := join(t, ctx, srv, "outage", "pub", pubSub, client.Options{})
	publishAV(t, ctx, pub, 300_000)
	sub := join(t, ctx, srv, "outage", "sub", pubSub, client.Options{Net: network})
	publishAV(t, ctx, sub, 300_000)
	video := waitTrack(t, sub, "video")
	waitTrack(t, pub, "video")

	network.silent.Store(true)
	time.Sleep(11 * time.Second) // past the 8 to 10 s after which a WHEP session ends
	network.silent.Store(false)
	if err := sub.RestartICE(ctx); err != nil {
		t.Fatal(err)
	}
	before := video.Stats().Packets
	eventually(t, 10*time.Second, "video again after the outage", func() bool { return video.Stats().Packets > before+30 })
	if r, ok := srv.SFU.LookupRoom("outage"); !ok || len(r.Participants()) != 2 {
		t.Fatal("a participant left the room during the outage")
	}
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
