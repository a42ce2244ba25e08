package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/token"
)

// A subscriber on a link that loses 5% of media packets still receives every packet: its
// NACKs are answered from the SFU's packet cache.
func TestNACKRecoversLoss(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	pub := join(t, ctx, srv, "lossy", "pub", token.Grants{Publish: true}, client.Options{})
	publishAV(t, ctx, pub, 1_000_000)

	lossy, err := newLossyNet(0.05)
	if err != nil {
		t.Fatal(err)
	}
	sub := join(t, ctx, srv, "lossy", "sub", token.Grants{Subscribe: true}, client.Options{Net: lossy})
	video := waitTrack(t, sub, "video")
	time.Sleep(3 * time.Second)
	cancel()
	time.Sleep(500 * time.Millisecond) // last retransmissions

	st := video.Stats()
	if lossy.dropped.Load() < 10 {
		t.Fatalf("the lossy link dropped only %d packets; the test proves nothing", lossy.dropped.Load())
	}
	if st.Lost() != 0 || st.Corrupt != 0 {
		t.Fatalf("after %d drops: lost %d of %d, corrupt %d", lossy.dropped.Load(), st.Lost(), st.Expected, st.Corrupt)
	}
	if nacks := metricValue(t, srv, "meridian_sfu_nacks_total"); nacks == 0 {
		t.Fatal("no NACK reached the SFU")
	}
	t.Logf("dropped %d, received %d of %d expected", lossy.dropped.Load(), st.Packets-st.Duplicates, st.Expected)
}

// A subscriber that loses the start of the video (its first keyframe whole) asks for
// another, as a browser's decoder does, and gets it at once, not at the publisher's next
// periodic keyframe: here there is none within the test.
func TestLostFirstKeyframeIsAskedForAgain(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	publishKeyframesOnRequest(t, ctx, srv, "restart", 30, 500_000)

	lossy, err := newLossyNet(0)
	if err != nil {
		t.Fatal(err)
	}
	const lost = 30 // the first keyframe and the frames after it
	lossy.dropFirst.Store(lost)
	sub := join(t, ctx, srv, "restart", "sub", token.Grants{Subscribe: true}, client.Options{Net: lossy})
	video := waitTrack(t, sub, "video")
	eventually(t, 5*time.Second, "a keyframe after the lost one", func() bool {
		return !video.Stats().FirstKeyframeAt.IsZero()
	})
	if n := lossy.dropped.Load(); n < lost {
		t.Fatalf("only %d media datagrams dropped; the test proves nothing", n)
	}
}

// A subscriber receives the simulcast layer that fits the size it renders at, and the
// switch between layers leaves no gap in sequence numbers.
func TestSimulcastLayerSwitching(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	pub := join(t, ctx, srv, "sim", "pub", token.Grants{Publish: true}, client.Options{})
	v, err := client.NewLocalTrack(client.VP8, client.SourceCamera, "q", "h", "f")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, v); err != nil {
		t.Fatal(err)
	}
	// Low enough that every layer fits the initial bandwidth estimate.
	go (&client.VideoSource{Track: v, FPS: 30, Bitrate: 400_000, KeyframeInterval: 10 * time.Second}).Run(ctx)

	sub := join(t, ctx, srv, "sim", "sub", token.Grants{Subscribe: true}, client.Options{})
	video := waitTrack(t, sub, "video")
	heights := make(chan int, 1024)
	var lastSeq uint16
	var lastTS uint32
	var started bool
	gaps, backwards := 0, 0
	video.SetHandler(func(p *rtp.Packet) {
		if started {
			if p.SequenceNumber != lastSeq+1 {
				gaps++
			}
			if int32(p.Timestamp-lastTS) < 0 {
				backwards++
			}
		}
		started, lastSeq, lastTS = true, p.SequenceNumber, p.Timestamp
		if h := keyframeHeight(p.Payload); h > 0 {
			select {
			case heights <- h:
			default:
			}
		}
	})
	waitHeight := func(want int) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case h := <-heights:
				if h == want {
					return
				}
			case <-deadline:
				t.Fatalf("no keyframe of height %d arrived", want)
			}
		}
	}
	// Each step changes layer, so each needs (and waits for) a keyframe of the new one.
	for _, h := range []int{720, 180, 360, 720} {
		if err := sub.SetVideoPreference(video.Info.ID, h); err != nil {
			t.Fatal(err)
		}
		waitHeight(h)
	}
	if gaps != 0 || backwards != 0 {
		t.Fatalf("across layer switches: %d sequence gaps, %d timestamps going back", gaps, backwards)
	}
}

// keyframeHeight reads the height of a synthetic VP8 keyframe (1-byte descriptor).
func keyframeHeight(p []byte) int {
	if len(p) < 11 || p[0]&0x10 == 0 || p[1]&0x01 != 0 || p[4] != 0x9d {
		return 0
	}
	return int(p[9]) | int(p[10])<<8
}

// Media published over WHIP plays back over WHEP, intact.
func TestWHIPToWHEP(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup is the viewer's DTLS role in its offer; "" leaves the choice to the node,
		// which then takes the DTLS server's role.
		setup string
		path  string // the send path the node then takes
	}{
		{"node is the DTLS server", "", "direct"},
		{"node is the DTLS client", "passive", "pion"},
	} {
		t.Run(tc.name, func(t *testing.T) { testWHIPToWHEP(t, tc.setup, tc.path) })
	}
}

func testWHIPToWHEP(t *testing.T, setup, path string) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := client.NewLocalTrack(client.VP8, client.SourceCamera)
	if err != nil {
		t.Fatal(err)
	}
	a, err := client.NewLocalTrack(client.Opus, client.SourceMicrophone)
	if err != nil {
		t.Fatal(err)
	}
	pubTok := mint(t, srv, "obs", "encoder", token.Grants{Publish: true})
	whip, err := client.PublishWHIP(ctx, srv.URL()+"/whip/obs", pubTok, true, v, a)
	if err != nil {
		t.Fatal(err)
	}
	sendCtx, stopSend := context.WithCancel(ctx)
	defer stopSend()
	go (&client.VideoSource{Track: v, Bitrate: 500_000, KeyframeInterval: time.Second}).Run(sendCtx)
	go (&client.AudioSource{Track: a}).Run(sendCtx)
	eventually(t, 10*time.Second, "the WHIP tracks to be published", func() bool {
		r, ok := srv.SFU.LookupRoom("obs")
		return ok && len(r.Participants()) == 1 && r.TrackCount() == 2
	})

	type result struct {
		kind          string
		intact, total int
	}
	results := make(chan result, 2)
	onTrack := func(tr *webrtc.TrackRemote) {
		r := result{kind: tr.Kind().String()}
		for r.total < 40 {
			p, _, err := tr.ReadRTP()
			if err != nil {
				break
			}
			r.total++
			if m, ok := client.ParseMarker(p.Payload); ok && m.Intact {
				r.intact++
			}
		}
		results <- r
	}
	viewTok := mint(t, srv, "obs", "viewer", token.Grants{Subscribe: true})
	var opts []client.WHEPOption
	if setup != "" {
		opts = append(opts, client.WithDTLSRole(setup))
	}
	whep, err := client.PlayWHEP(ctx, srv.URL()+"/whep/obs", viewTok, true, onTrack, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case r := <-results:
			if r.total < 40 || r.intact != r.total {
				t.Errorf("%s: %d of %d packets intact", r.kind, r.intact, r.total)
			}
		case <-ctx.Done():
			t.Fatal("WHEP viewer did not receive both tracks")
		}
	}
	if n := metricValue(t, srv, `meridian_sfu_subscriber_connections_total{path="`+path+`"}`); n != 1 {
		t.Errorf("%v subscriber connections on the %s send path, want 1", n, path)
	}
	if err := whep.Close(ctx); err != nil {
		t.Errorf("WHEP delete: %v", err)
	}
	if err := whip.Close(ctx); err != nil {
		t.Errorf("WHIP delete: %v", err)
	}
	eventually(t, 5*time.Second, "the room to empty", func() bool {
		_, ok := srv.SFU.LookupRoom("obs")
		return !ok
	})
}

// After an ICE restart on both connections, media keeps flowing.
func TestICERestart(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	a := join(t, ctx, srv, "ice", "a", pubSub, client.Options{})
	b := join(t, ctx, srv, "ice", "b", pubSub, client.Options{})
	publishAV(t, ctx, a, 300_000)
	publishAV(t, ctx, b, 300_000)
	va := waitTrack(t, b, "video")
	waitTrack(t, a, "video")

	ufrags := func(c *client.Client) (string, string) {
		pub, sub := c.LocalUfrags()
		return pub, sub
	}
	oldPub, oldSub := ufrags(b)
	if err := b.RestartICE(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "new ICE credentials on both connections", func() bool {
		p, s := ufrags(b)
		return p != oldPub && s != oldSub && p != "" && s != ""
	})
	before := va.Stats().Packets
	time.Sleep(time.Second)
	if got := va.Stats().Packets - before; got < 20 {
		t.Fatalf("after ICE restart b received %d video packets in 1s", got)
	}
	// Both connections are up again long before pion would give up on the new
	// credentials (30 s), and well before ctx ends.
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if err := b.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
}

func waitTrack(t *testing.T, c *client.Client, kind string) *client.RemoteTrack {
	t.Helper()
	var found *client.RemoteTrack
	eventually(t, 10*time.Second, kind+" track", func() bool {
		for _, rt := range c.RemoteTracks() {
			if rt.Info.Kind == kind && rt.Stats().Packets > 0 {
				found = rt
				return true
			}
		}
		return false
	})
	return found
}

// A subscriber whose link narrows is moved down to the simulcast layer its estimated
// bandwidth carries, while a subscriber on a good link keeps the top layer; when the link
// widens again, the SFU probes its way back up to the top layer.
func TestBandwidthEstimationFollowsTheLink(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	pub := join(t, ctx, srv, "bwe", "pub", token.Grants{Publish: true}, client.Options{})
	v, err := client.NewLocalTrack(client.VP8, client.SourceCamera, "q", "h", "f")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, v); err != nil {
		t.Fatal(err)
	}
	// Top layer 800 kbps (inside the initial estimate), middle 200, low 50.
	go (&client.VideoSource{Track: v, FPS: 30, Bitrate: 800_000, KeyframeInterval: 2 * time.Second}).Run(ctx)

	narrow, err := newLossyNet(0)
	if err != nil {
		t.Fatal(err)
	}
	watch := func(identity string, n *lossyNet) chan int {
		heights := make(chan int, 4096)
		opts := client.Options{OnTrack: func(rt *client.RemoteTrack) {
			rt.SetHandler(func(p *rtp.Packet) {
				if h := keyframeHeight(p.Payload); h > 0 {
					select {
					case heights <- h:
					default:
					}
				}
			})
		}}
		if n != nil {
			opts.Net = n
		}
		join(t, ctx, srv, "bwe", identity, token.Grants{Subscribe: true}, opts)
		return heights
	}
	good := watch("good", nil)
	poor := watch("poor", narrow)
	waitFor := func(ch chan int, want int, within time.Duration) bool {
		deadline := time.After(within)
		for {
			select {
			case h := <-ch:
				if h == want || (want < 0 && h < -want) {
					return true
				}
			case <-deadline:
				return false
			}
		}
	}
	if !waitFor(good, 720, 10*time.Second) || !waitFor(poor, 720, 10*time.Second) {
		t.Fatal("subscribers never reached the top layer on an open link")
	}
	for len(poor) > 0 {
		<-poor
	}
	narrow.capBits.Store(400_000)
	if !waitFor(poor, -720, 15*time.Second) { // any layer below the top
		t.Fatal("the subscriber on a 400 kbps link was not moved below the 800 kbps layer")
	}
	for len(good) > 0 {
		<-good
	}
	if !waitFor(good, 720, 5*time.Second) {
		t.Fatal("the subscriber on a good link lost the top layer")
	}

	// While the link stays narrow the SFU probes it and fails, and a failed probe costs the
	// subscriber nothing: it is sent padding on its layer, never the top layer.
	for len(poor) > 0 {
		<-poor
	}
	failed := `meridian_sfu_probes_total{result="failed"}`
	failedBefore := metricValueOr(t, srv, failed, 0)
	deadline := time.Now().Add(20 * time.Second)
	for metricValueOr(t, srv, failed, 0) == failedBefore {
		if time.Now().After(deadline) {
			t.Fatalf("no probe of the narrow link failed in 20 s (succeeded %v, padding %v)", metricValueOr(t, srv, `meridian_sfu_probes_total{result="succeeded"}`, 0), metricValue(t, srv, "meridian_sfu_padding_packets_total"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for len(poor) > 0 {
		if h := <-poor; h == 720 {
			t.Fatal("a probe sent the subscriber on the narrow link the top layer")
		}
	}
	if metricValue(t, srv, "meridian_sfu_padding_packets_total") == 0 {
		t.Fatal("the probes sent no padding")
	}

	// Sent only the lower layers, the poor subscriber's estimate stays near them: only a
	// probe can show that the link carries the top layer again. Probes that failed while
	// the link was narrow have backed off for up to 2+4+8 s by now.
	narrow.capBits.Store(0)
	for len(poor) > 0 {
		<-poor
	}
	if !waitFor(poor, 720, 25*time.Second) {
		t.Fatalf("the subscriber whose link widened again never got the top layer back (probes succeeded %v, failed %v, inconclusive %v)",
			metricValueOr(t, srv, `meridian_sfu_probes_total{result="succeeded"}`, 0),
			metricValueOr(t, srv, `meridian_sfu_probes_total{result="failed"}`, 0),
			metricValueOr(t, srv, `meridian_sfu_probes_total{result="inconclusive"}`, 0))
	}
	if metricValueOr(t, srv, `meridian_sfu_probes_total{result="succeeded"}`, 0) == 0 {
		t.Fatal("the subscriber got the top layer back without a probe that succeeded")
	}
}
