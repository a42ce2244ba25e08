package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/token"
)

// sendH264 sends single-NAL H.264 packets: an IDR slice (type 5) every tenth packet,
// non-IDR slices (type 1) otherwise, each carrying a synthetic marker after the NAL header.
func sendH264(ctx context.Context, track *client.LocalTrack) {
	var pkt rtp.Packet
	pkt.Version = 2
	pkt.PayloadType = 102
	payload := make([]byte, 1+20+600)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n := uint32(0); ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		payload[0] = 0x61 // NAL ref idc 3, type 1
		if n%10 == 0 {
			payload[0] = 0x65 // type 5: IDR
		}
		for i := 21; i < len(payload); i++ {
			payload[i] = byte(n) + byte(i)
		}
		client.PutMarker(payload[1:], time.Now(), n)
		pkt.SequenceNumber++
		pkt.Timestamp += 3000
		pkt.Marker = true
		pkt.Payload = payload
		if track.WriteRTP(0, &pkt) != nil {
			return
		}
	}
}

// Tracks of every kind a meeting uses reach subscribers with their codec and source:
// an H.264 camera, a VP8 screen share as its own track, and Opus audio.
func TestCodecsAndSources(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	pub := join(t, ctx, srv, "codecs", "pub", token.Grants{Publish: true}, client.Options{})
	cam, err := client.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, client.SourceCamera)
	if err != nil {
		t.Fatal(err)
	}
	screen, err := client.NewLocalTrack(client.VP8, client.SourceScreen)
	if err != nil {
		t.Fatal(err)
	}
	mic, err := client.NewLocalTrack(client.Opus, client.SourceMicrophone)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, cam, screen, mic); err != nil {
		t.Fatal(err)
	}
	go sendH264(ctx, cam)
	go (&client.VideoSource{Track: screen, FPS: 5, Bitrate: 300_000}).Run(ctx)
	go (&client.AudioSource{Track: mic}).Run(ctx)

	eventually(t, 5*time.Second, "the three tracks to be published", func() bool {
		r, ok := srv.SFU.LookupRoom("codecs")
		return ok && r.TrackCount() == 3
	})
	// Joining after the tracks exist, the subscriber learns their sources from its join.
	sub := join(t, ctx, srv, "codecs", "sub", token.Grants{Subscribe: true}, client.Options{})
	want := map[string]string{"camera": "video/h264", "screen": "video/vp8", "microphone": "audio/opus"}
	eventually(t, 10*time.Second, "all three tracks", func() bool {
		n := 0
		for _, rt := range sub.RemoteTracks() {
			if rt.Stats().Packets >= 10 {
				n++
			}
		}
		return n == 3
	})
	for _, rt := range sub.RemoteTracks() {
		mime, ok := want[rt.Info.Source]
		if !ok || !strings.EqualFold(rt.Remote.Codec().MimeType, mime) {
			t.Errorf("track source %q arrives as %s", rt.Info.Source, rt.Remote.Codec().MimeType)
		}
		delete(want, rt.Info.Source)
		if st := rt.Stats(); st.Corrupt != 0 || st.Lost() != 0 {
			t.Errorf("%s: corrupt %d lost %d", rt.Info.Source, st.Corrupt, st.Lost())
		}
	}
	if len(want) != 0 {
		t.Errorf("never received: %v", want)
	}
}
