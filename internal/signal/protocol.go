// Package signal carries the WebSocket signalling protocol between a client and the SFU:
// it decodes and validates client messages, runs each participant's session state machine
// (awaiting join, joined, closed), and turns SFU events into messages. docs/protocol.md
// describes the protocol.
package signal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pion/webrtc/v4"
)

// MaxMessageSize bounds one client message; a large simulcast offer is about 20 KiB.
const MaxMessageSize = 64 << 10

// Client message types.
const (
	TypeJoin       = "join"
	TypeOffer      = "offer"
	TypeAnswer     = "answer"
	TypeCandidate  = "candidate"
	TypeRestartICE = "restartIce"
	TypeSources    = "sources"
	TypeVideoPref  = "videoPreference"
	TypeChat       = "chat"
	TypeLeave      = "leave"
	TypePing       = "ping"

	// Sent by anyone for their own sources, and by moderators for others'.
	TypeMute = "mute"
	// Moderators only (host and co-hosts); setRole and endMeeting are the host's alone.
	TypeMuteAll    = "muteAll"
	TypeAdmit      = "admit"
	TypeAdmitAll   = "admitAll"
	TypeDeny       = "deny"
	TypeRemove     = "remove"
	TypeLock       = "lock"
	TypeSetRole    = "setRole"
	TypeEndMeeting = "endMeeting"
)

// Request is a message from the client. Which fields matter depends on Type.
type Request struct {
	Type      string                   `json:"type"`
	Token     string                   `json:"token,omitempty"`
	Target    string                   `json:"target,omitempty"`
	SDP       string                   `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	Sources   map[string]string        `json:"sources,omitempty"`
	TrackID   string                   `json:"trackId,omitempty"`
	MaxHeight int                      `json:"maxHeight,omitempty"`
	Text      string                   `json:"text,omitempty"`

	ParticipantID string  `json:"participantId,omitempty"`
	Source        string  `json:"source,omitempty"`
	Muted         *bool   `json:"muted,omitempty"`
	Locked        *bool   `json:"locked,omitempty"`
	Role          *string `json:"role,omitempty"`
}

// Error codes sent to clients. They are stable: clients branch on them.
const (
	CodeBadMessage    = "bad_message"
	CodeNotJoined     = "not_joined"
	CodeAlreadyJoined = "already_joined"
	CodeTokenInvalid  = "token_invalid"
	CodeTokenExpired  = "token_expired"
	CodeJoinTimeout   = "join_timeout"
	CodeNotAllowed    = "not_allowed"
	CodeBadSDP        = "bad_sdp"
	CodeBadCandidate  = "bad_candidate"
	CodeBadChat       = "bad_chat"
	CodeUnknownTrack  = "unknown_track"
	CodeNoNegotiation = "no_negotiation"
	CodeRateLimited   = "rate_limited"
	CodeRoomClosed    = "room_closed"
	CodeSlowConsumer  = "slow_consumer"
	CodeWaiting       = "waiting"
	CodeNotHost       = "not_host"
	CodeUnknownPeer   = "unknown_participant"
	CodeRemoved       = "removed"
	CodeLocked        = "locked"
	CodeDenied        = "denied"
	CodeFull          = "full"
	CodeEnded         = "ended"
	CodeInternal      = "internal"
)

// ProtocolError is an error the client caused, with its stable code.
type ProtocolError struct {
	Code    string
	Message string
}

func (e *ProtocolError) Error() string { return e.Code + ": " + e.Message }

func badMessage(format string, a ...any) error {
	return &ProtocolError{Code: CodeBadMessage, Message: fmt.Sprintf(format, a...)}
}

// Decode parses and validates one client message.
func Decode(data []byte) (*Request, error) {
	if len(data) > MaxMessageSize {
		return nil, badMessage("message larger than %d bytes", MaxMessageSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var r Request
	if err := dec.Decode(&r); err != nil {
		return nil, badMessage("not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, badMessage("trailing data after the message")
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

func (r *Request) validate() error {
	switch r.Type {
	case TypeJoin:
		if r.Token == "" {
			return badMessage("join needs a token")
		}
	case TypeOffer:
		if r.Target != "" && r.Target != "publisher" {
			return badMessage("offers are made on the publisher connection")
		}
		if r.SDP == "" {
			return badMessage("offer needs sdp")
		}
	case TypeAnswer:
		if r.Target != "" && r.Target != "subscriber" {
			return badMessage("answers are made on the subscriber connection")
		}
		if r.SDP == "" {
			return badMessage("answer needs sdp")
		}
	case TypeCandidate:
		if r.Target != "publisher" && r.Target != "subscriber" {
			return badMessage("candidate target must be publisher or subscriber")
		}
		if r.Candidate == nil {
			return badMessage("candidate missing")
		}
	case TypeSources:
		if len(r.Sources) == 0 || len(r.Sources) > 32 {
			return badMessage("sources must list 1 to 32 tracks")
		}
	case TypeVideoPref:
		if r.TrackID == "" || r.MaxHeight < 0 {
			return badMessage("videoPreference needs trackId and a non-negative maxHeight")
		}
	case TypeChat:
		if r.Text == "" {
			return badMessage("chat needs text")
		}
	case TypeMute:
		if r.Source == "" || r.Muted == nil {
			return badMessage("mute needs source and muted")
		}
	case TypeAdmit, TypeDeny, TypeRemove:
		if r.ParticipantID == "" {
			return badMessage("%s needs participantId", r.Type)
		}
	case TypeLock:
		if r.Locked == nil {
			return badMessage("lock needs locked")
		}
	case TypeSetRole:
		if r.ParticipantID == "" || r.Role == nil {
			return badMessage("setRole needs participantId and role")
		}
	case TypeRestartICE, TypeLeave, TypePing, TypeMuteAll, TypeAdmitAll, TypeEndMeeting:
	case "":
		return badMessage("type missing")
	default:
		return badMessage("unknown type %q", r.Type)
	}
	return nil
}

// errorCode maps an error to the code told to the client.
func errorCode(err error) (code, msg string) {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Code, pe.Message
	}
	return CodeInternal, "internal error"
}
