package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/token"
)

func TestTokenRefusals(t *testing.T) {
	dir := t.TempDir()
	srv := startServerIn(t, dir)
	key, err := token.ReadRegionKey(filepath.Join(dir, "region-local.key"), "local")
	if err != nil {
		t.Fatal(err)
	}
	past := token.NewIssuer(key, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	expired, _ := past.Mint("r", "a", "", pubSub, time.Hour)
	otherKey, err := token.GenerateKey("local")
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := token.NewIssuer(otherKey, nil).Mint("r", "a", "", pubSub, time.Hour)
	valid := mint(t, srv, "r", "a", pubSub)
	tampered := strings.Replace(valid, ".", ".x", 1)
	noGrants := mint(t, srv, "r", "a", token.Grants{})

	ctx, cancel := testContext(t)
	defer cancel()
	for _, c := range []struct {
		name, tok, code string
	}{
		{"expired", expired, "token_expired"},
		{"forged", forged, "token_invalid"},
		{"tampered", tampered, "token_invalid"},
		{"garbage", "garbage", "token_invalid"},
		{"no grants", noGrants, "not_allowed"},
	} {
		_, err := client.Join(ctx, client.Options{URL: srv.URL(), Token: c.tok, LoopbackOnly: true})
		var e *client.Error
		if !errors.As(err, &e) || e.Code != c.code || e.Message == "" {
			t.Errorf("%s: err = %v, want code %s", c.name, err, c.code)
		}
	}
	if _, ok := srv.SFU.LookupRoom("r"); ok {
		t.Error("a refused join created the room")
	}

	// A subscribe-only participant may not publish.
	viewer := join(t, ctx, srv, "r", "viewer", token.Grants{Subscribe: true}, client.Options{})
	v, _ := client.NewLocalTrack(client.VP8, client.SourceCamera)
	var e *client.Error
	if err := viewer.Publish(ctx, v); !errors.As(err, &e) || e.Code != "not_allowed" {
		t.Errorf("subscribe-only publish: err = %v, want not_allowed", err)
	}
}

// Bad input from one participant gets it a clear error and leaves everyone else alone.
func TestBadInputAffectsNoOneElse(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	chats := make(chan client.Chat, 16)
	good := join(t, ctx, srv, "room", "good", pubSub, client.Options{OnChat: func(c client.Chat) { chats <- c }})
	bad := join(t, ctx, srv, "room", "bad", pubSub, client.Options{})
	publishAV(t, ctx, good, 300_000)
	badVideo := waitTrack(t, bad, "video")

	expectErr := func(payload, code string) {
		t.Helper()
		if err := bad.SendRaw([]byte(payload)); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-bad.Errors():
			if e.Code != code || e.Message == "" {
				t.Fatalf("%s: got %s %q, want %s", payload[:min(len(payload), 40)], e.Code, e.Message, code)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no error", payload[:min(len(payload), 40)])
		}
	}
	expectErr(`{"type":"launch"}`, "bad_message")
	expectErr(`not json`, "bad_message")
	expectErr(`{"type":"offer","sdp":"v=0 garbage"}`, "bad_sdp")
	expectErr(`{"type":"answer","sdp":"v=0"}`, "no_negotiation")
	expectErr(`{"type":"candidate","target":"subscriber","candidate":{"candidate":"nonsense"}}`, "bad_candidate")
	expectErr(`{"type":"chat","text":"`+strings.Repeat("x", 5000)+`"}`, "bad_chat")
	expectErr(`{"type":"videoPreference","trackId":"nope","maxHeight":10}`, "unknown_track")
	expectErr(`{"type":"join","token":"x"}`, "already_joined")
	expectErr(`{"type":"chat","text":"`+strings.Repeat("x", 70<<10)+`"}`, "bad_message")

	// The misbehaving session still works, and the other participant saw nothing of it.
	if err := bad.Chat("still here"); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-chats:
		if c.Text != "still here" {
			t.Fatalf("good got chat %q", c.Text)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("chat from the recovered session never arrived")
	}
	before := badVideo.Stats().Packets
	time.Sleep(500 * time.Millisecond)
	if badVideo.Stats().Packets == before {
		t.Fatal("media stopped after bad input")
	}

	// An oversize frame ends the sender's session, and only its session.
	if err := bad.SendRaw([]byte(`{"type":"chat","text":"` + strings.Repeat("x", 200<<10) + `"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bad.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("oversize message did not end the session")
	}
	eventually(t, 5*time.Second, "the oversize sender to leave the room", func() bool {
		r, ok := srv.SFU.LookupRoom("room")
		return ok && len(r.Participants()) == 1
	})
	if err := good.Chat("alone now"); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-chats:
		if c.Text != "alone now" {
			t.Fatalf("good got chat %q", c.Text)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the remaining participant's session is broken")
	}
}

// Messages before join are refused; a client that vanishes mid-handshake is cleaned up.
func TestVanishingClientIsCleanedUp(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wsURL := "ws://" + srv.Addr() + "/ws"

	conn, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.Write(ctx, websocket.MessageText, []byte(`{"type":"chat","text":"hi"}`))
	_, msg, err := conn.Read(ctx)
	if err != nil || !strings.Contains(string(msg), `"not_joined"`) {
		t.Fatalf("message before join: %s %v", msg, err)
	}

	// Join, offer to publish, then vanish without a word before ICE completes.
	conn.Write(ctx, websocket.MessageText, []byte(`{"type":"join","token":"`+mint(t, srv, "gone", "ghost", pubSub)+`"}`))
	if _, msg, err = conn.Read(ctx); err != nil || !strings.Contains(string(msg), `"joined"`) {
		t.Fatalf("join: %s %v", msg, err)
	}
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	track, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "s")
	pc.AddTrack(track)
	offer, _ := pc.CreateOffer(nil)
	conn.Write(ctx, websocket.MessageText, []byte(`{"type":"offer","sdp":`+quoteJSON(offer.SDP)+`}`))
	conn.CloseNow()

	eventually(t, 10*time.Second, "the vanished participant's room to close", func() bool {
		_, ok := srv.SFU.LookupRoom("gone")
		return !ok
	})
	eventually(t, 5*time.Second, "the participant gauge to return to zero", func() bool {
		return metricValue(t, srv, "meridian_sfu_participants") == 0
	})
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
