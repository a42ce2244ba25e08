package signal

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meridian-video/meridian/internal/sfu"
)

// Server message shapes; docs/protocol.md lists them.
type (
	errorMsg struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	pongMsg struct {
		Type string `json:"type"`
	}
	grantsMsg struct {
		Publish   bool `json:"publish"`
		Subscribe bool `json:"subscribe"`
		Host      bool `json:"host"`
	}
	joinedMsg struct {
		Type         string                `json:"type"`
		Room         string                `json:"room"`
		Participant  sfu.ParticipantInfo   `json:"participant"`
		Grants       grantsMsg             `json:"grants"`
		Participants []sfu.ParticipantInfo `json:"participants"`
		Tracks       []sfu.TrackInfo       `json:"tracks"`
		// Waiting is the waiting room, for moderators; Locked whether the room is.
		Waiting []sfu.ParticipantInfo `json:"waiting,omitempty"`
		Locked  bool                  `json:"locked"`
	}
	waitingMsg struct {
		Type string `json:"type"`
	}
	lobbyMsg struct {
		Type    string                `json:"type"`
		Waiting []sfu.ParticipantInfo `json:"waiting"`
	}
	trackMutedMsg struct {
		Type          string `json:"type"`
		TrackID       string `json:"trackId"`
		ParticipantID string `json:"participantId"`
		Muted         bool   `json:"muted"`
	}
	forceMutedMsg struct {
		Type   string              `json:"type"`
		Source string              `json:"source"`
		By     sfu.ParticipantInfo `json:"by"`
	}
	roomStateMsg struct {
		Type   string `json:"type"`
		Locked bool   `json:"locked"`
	}
	noticeMsg struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	sdpMsg struct {
		Type   string            `json:"type"`
		Target string            `json:"target"`
		SDP    string            `json:"sdp"`
		Tracks map[string]string `json:"tracks,omitempty"`
	}
	candidateMsg struct {
		Type      string                  `json:"type"`
		Target    string                  `json:"target"`
		Candidate webrtc.ICECandidateInit `json:"candidate"`
	}
	participantMsg struct {
		Type        string              `json:"type"`
		Participant sfu.ParticipantInfo `json:"participant"`
	}
	participantLeftMsg struct {
		Type          string `json:"type"`
		ParticipantID string `json:"participantId"`
	}
	trackMsg struct {
		Type  string        `json:"type"`
		Track sfu.TrackInfo `json:"track"`
	}
	trackEndedMsg struct {
		Type          string `json:"type"`
		TrackID       string `json:"trackId"`
		ParticipantID string `json:"participantId"`
	}
	chatMsg struct {
		Type string              `json:"type"`
		From sfu.ParticipantInfo `json:"from"`
		Text string              `json:"text"`
		At   time.Time           `json:"at"`
	}
	speakersMsg struct {
		Type     string             `json:"type"`
		Speakers []sfu.SpeakerLevel `json:"speakers"`
	}
	closedMsg struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
)

func errorMessage(code, msg string) errorMsg {
	return errorMsg{Type: "error", Code: code, Message: msg}
}

func eventMessage(ev sfu.Event) any {
	switch e := ev.(type) {
	case sfu.SubscriberOffer:
		return sdpMsg{Type: "offer", Target: "subscriber", SDP: e.SDP, Tracks: e.Tracks}
	case sfu.PublisherAnswer:
		return sdpMsg{Type: "answer", Target: "publisher", SDP: e.SDP}
	case sfu.ICECandidate:
		return candidateMsg{Type: "candidate", Target: string(e.Target), Candidate: e.Candidate}
	case sfu.ParticipantJoined:
		return participantMsg{Type: "participantJoined", Participant: e.Participant}
	case sfu.ParticipantLeft:
		return participantLeftMsg{Type: "participantLeft", ParticipantID: e.ParticipantID}
	case sfu.TrackPublished:
		return trackMsg{Type: "trackPublished", Track: e.Track}
	case sfu.TrackUnpublished:
		return trackEndedMsg{Type: "trackUnpublished", TrackID: e.TrackID, ParticipantID: e.ParticipantID}
	case sfu.ChatMessage:
		return chatMsg{Type: "chat", From: e.From, Text: e.Text, At: e.At}
	case sfu.ActiveSpeakers:
		return speakersMsg{Type: "speakers", Speakers: e.Speakers}
	case sfu.Closed:
		return closedMsg{Type: "closed", Reason: e.Reason}
	case sfu.LobbyChanged:
		return lobbyMsg{Type: "lobby", Waiting: e.Waiting}
	case sfu.TrackMuted:
		return trackMutedMsg{Type: "trackMuted", TrackID: e.TrackID, ParticipantID: e.ParticipantID, Muted: e.Muted}
	case sfu.ForceMuted:
		return forceMutedMsg{Type: "forceMuted", Source: e.Source, By: e.By}
	case sfu.ParticipantUpdated:
		return participantMsg{Type: "participantUpdated", Participant: e.Participant}
	case sfu.RoomState:
		return roomStateMsg{Type: "roomState", Locked: e.Locked}
	case sfu.Notice:
		return noticeMsg{Type: "notice", Code: e.Code, Message: e.Message}
	}
	return nil
}

// joinGate holds the SFU's events for a participant until the joined message is queued, so
// the client always hears of its own join first.
type joinGate struct {
	s       *session
	mu      sync.Mutex
	opened  bool
	pending []sfu.Event
}

func (g *joinGate) Send(ev sfu.Event) {
	g.mu.Lock()
	if !g.opened {
		if len(g.pending) < outboxSize {
			g.pending = append(g.pending, ev)
		} else {
			g.s.dropOnce.Do(func() { close(g.s.dropped) })
		}
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	g.s.Send(ev)
}

// open queues first (joined, or waiting) and then what was held back.
func (g *joinGate) open(first any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.s.queue(first)
	for _, ev := range g.pending {
		g.s.Send(ev)
	}
	g.pending = nil
	g.opened = true
}

func newSessionID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "P" + base64.RawURLEncoding.EncodeToString(b[:])
}
