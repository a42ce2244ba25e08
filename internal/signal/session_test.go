package signal

import (
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/sfu"
)

// A client that stops reading is cut off once its outbox fills, and the SFU's call to
// Send never blocks meanwhile.
func TestSlowConsumerIsDropped(t *testing.T) {
	s := &session{outbox: make(chan any, outboxSize), done: make(chan struct{}), dropped: make(chan struct{})}
	finished := make(chan struct{})
	go func() {
		for range outboxSize + 10 {
			s.Send(sfu.ChatMessage{Text: "x", At: time.Now()})
		}
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("Send blocked on a full outbox")
	}
	select {
	case <-s.dropped:
	default:
		t.Fatal("the slow client was not marked for dropping")
	}
}

func TestEventsBecomeMessages(t *testing.T) {
	for _, ev := range []sfu.Event{
		sfu.SubscriberOffer{}, sfu.PublisherAnswer{}, sfu.ICECandidate{}, sfu.ParticipantJoined{}, sfu.ParticipantLeft{},
		sfu.TrackPublished{}, sfu.TrackUnpublished{}, sfu.ChatMessage{}, sfu.ActiveSpeakers{}, sfu.Closed{},
	} {
		if eventMessage(ev) == nil {
			t.Errorf("%T has no message", ev)
		}
	}
}
