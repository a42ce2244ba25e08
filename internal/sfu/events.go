package sfu

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// Sink receives a participant's events. Send must not block, nor call into the room: the
// SFU calls it from its forwarding and negotiation paths, and with the room's lock held
// (for events whose order matters). A sink that cannot keep up should drop its
// participant (later, not from Send).
type Sink interface {
	Send(Event)
}

// Event is something a participant is told about.
type Event interface{ event() }

// Target names one of a participant's two peer connections: it publishes on one (the
// client offers) and subscribes on the other (the SFU offers), so neither side ever has to
// resolve an offer collision.
type Target string

// Peer connection targets.
const (
	Publisher  Target = "publisher"
	Subscriber Target = "subscriber"
)

// ParticipantInfo identifies a participant to the others.
type ParticipantInfo struct {
	ID       string `json:"id"`
	Identity string `json:"identity"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
}

// TrackInfo describes a published track.
type TrackInfo struct {
	ID            string `json:"id"`
	ParticipantID string `json:"participantId"`
	Kind          string `json:"kind"`
	Source        string `json:"source"`
	MimeType      string `json:"mimeType"`
	Simulcast     bool   `json:"simulcast"`
	Muted         bool   `json:"muted"`
}

// Track sources a client may declare; anything else is stored as SourceUnknown.
const (
	SourceCamera      = "camera"
	SourceMicrophone  = "microphone"
	SourceScreen      = "screen"
	SourceScreenAudio = "screen_audio"
	SourceUnknown     = "unknown"
)

// SpeakerLevel is one participant's recent loudness, 0 (silence) to 1.
type SpeakerLevel struct {
	ParticipantID string  `json:"participantId"`
	Level         float64 `json:"level"`
}

type (
	// SubscriberOffer carries the SFU's offer for the subscriber connection and which
	// published track each transceiver (by mid) carries.
	SubscriberOffer struct {
		SDP    string
		Tracks map[string]string
	}
	// PublisherAnswer carries the SFU's answer to the client's publisher offer.
	PublisherAnswer struct{ SDP string }
	// ICECandidate is a local candidate for one of the participant's connections.
	ICECandidate struct {
		Target    Target
		Candidate webrtc.ICECandidateInit
	}
	// ParticipantJoined tells that someone entered the room.
	ParticipantJoined struct{ Participant ParticipantInfo }
	// ParticipantLeft tells that someone left the room.
	ParticipantLeft struct{ ParticipantID string }
	// TrackPublished tells that a track became available.
	TrackPublished struct{ Track TrackInfo }
	// TrackUnpublished tells that a track ended.
	TrackUnpublished struct{ TrackID, ParticipantID string }
	// ChatMessage is a message sent to everyone in the room.
	ChatMessage struct {
		From ParticipantInfo
		Text string
		At   time.Time
	}
	// ActiveSpeakers lists who is speaking, loudest first.
	ActiveSpeakers struct{ Speakers []SpeakerLevel }
	// Closed tells that the SFU ended the participant's session.
	Closed struct{ Reason string }
	// Admitted tells a participant held in the waiting room that a moderator let them in;
	// Snapshot is what Join would have returned. It is the first event after admission.
	Admitted struct{ Snapshot Snapshot }
	// LobbyChanged tells moderators who is in the waiting room now, in arrival order.
	LobbyChanged struct{ Waiting []ParticipantInfo }
	// TrackMuted tells that a track's sound or picture was turned off or on.
	TrackMuted struct {
		TrackID, ParticipantID string
		Muted                  bool
	}
	// ForceMuted tells a participant that a moderator muted one of their sources; the
	// client should turn it off too, so that the user sees what the others see.
	ForceMuted struct {
		Source string
		By     ParticipantInfo
	}
	// ParticipantUpdated tells that someone's role changed.
	ParticipantUpdated struct{ Participant ParticipantInfo }
	// RoomState tells that the room was locked or unlocked.
	RoomState struct{ Locked bool }
	// Notice is a message from the operator to everyone in the room, such as a warning
	// that the meeting's time is nearly up.
	Notice struct{ Code, Message string }
)

func (SubscriberOffer) event()    {}
func (PublisherAnswer) event()    {}
func (ICECandidate) event()       {}
func (ParticipantJoined) event()  {}
func (ParticipantLeft) event()    {}
func (TrackPublished) event()     {}
func (TrackUnpublished) event()   {}
func (ChatMessage) event()        {}
func (ActiveSpeakers) event()     {}
func (Closed) event()             {}
func (Admitted) event()           {}
func (LobbyChanged) event()       {}
func (TrackMuted) event()         {}
func (ForceMuted) event()         {}
func (ParticipantUpdated) event() {}
func (RoomState) event()          {}
func (Notice) event()             {}
