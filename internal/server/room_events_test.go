package server_test

import (
	"testing"
	"time"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/token"
)

// Everyone in a room hears who is speaking, from the audio level each publisher's packets
// carry; silence is not speech.
func TestActiveSpeaker(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	speakers := make(chan []client.SpeakerLevel, 64)
	join(t, ctx, srv, "talk", "listener", token.Grants{Subscribe: true}, client.Options{
		OnSpeakers: func(s []client.SpeakerLevel) { speakers <- s },
	})
	talk := func(identity string, level uint8) *client.Client {
		c := join(t, ctx, srv, "talk", identity, token.Grants{Publish: true}, client.Options{})
		a, err := client.NewLocalTrack(client.Opus, client.SourceMicrophone)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(ctx, a); err != nil {
			t.Fatal(err)
		}
		go (&client.AudioSource{Track: a, Level: level}).Run(ctx)
		return c
	}
	loud := talk("loud", 10)
	talk("quiet", 127)

	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-speakers:
			if len(s) == 0 {
				continue
			}
			if len(s) != 1 || s[0].ParticipantID != loud.Self().ID || s[0].Level <= 0.5 {
				t.Fatalf("speakers = %+v, want only %s", s, loud.Self().ID)
			}
			return
		case <-deadline:
			t.Fatal("no active speaker announced")
		}
	}
}

// A subscriber who joins between keyframes gets one at once: the SFU asks the publisher
// rather than making the newcomer wait for the next scheduled keyframe.
func TestLateJoinerGetsKeyframeByPLI(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	publishKeyframesOnRequest(t, ctx, srv, "pli", 0, 300_000)
	time.Sleep(time.Second) // the one scheduled keyframe is long gone

	sub := join(t, ctx, srv, "pli", "sub", token.Grants{Subscribe: true}, client.Options{})
	video := waitTrack(t, sub, "video")
	eventually(t, 5*time.Second, "a keyframe for the late joiner", func() bool {
		return video.Stats().FirstKeyframe > 0
	})
	if plis := metricValue(t, srv, "meridian_sfu_plis_total"); plis == 0 {
		t.Fatal("the SFU sent no keyframe request")
	}
}

// Chat reaches everyone in the room, sender included, in the same order.
func TestChatBothWays(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	got := map[string]chan client.Chat{"a": make(chan client.Chat, 8), "b": make(chan client.Chat, 8)}
	a := join(t, ctx, srv, "chat", "a", token.Grants{Subscribe: true}, client.Options{OnChat: func(c client.Chat) { got["a"] <- c }})
	b := join(t, ctx, srv, "chat", "b", token.Grants{Subscribe: true}, client.Options{OnChat: func(c client.Chat) { got["b"] <- c }})
	if err := a.Chat("hello from a"); err != nil {
		t.Fatal(err)
	}
	waitFor := func(who string) client.Chat {
		select {
		case c := <-got[who]:
			return c
		case <-time.After(5 * time.Second):
			t.Fatalf("%s received nothing", who)
		}
		return client.Chat{}
	}
	// b's message is sent only once a's has gone round, so the order is defined.
	waitFor("a")
	if err := b.Chat("hello from b"); err != nil {
		t.Fatal(err)
	}
	if c := waitFor("b"); c.From.Identity != "a" || c.Text != "hello from a" {
		t.Errorf("b first received %+v", c)
	}
	if c := waitFor("b"); c.From.Identity != "b" || c.Text != "hello from b" {
		t.Errorf("b then received %+v", c)
	}
	if c := waitFor("a"); c.From.Identity != "b" || c.Text != "hello from b" {
		t.Errorf("a then received %+v", c)
	}
}
