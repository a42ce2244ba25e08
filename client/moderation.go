package client

// Event is a change in the room, as Options.OnEvent is told of it. Type is the protocol's
// message type; which other fields are set depends on it:
//
//   - participantJoined, participantUpdated (a new role): Participant
//   - participantLeft: ParticipantID
//   - trackPublished: Track
//   - trackUnpublished: TrackID, ParticipantID
//   - trackMuted: TrackID, ParticipantID, Muted
//   - forceMuted (a moderator muted this client's Source): Source, Participant (who)
//   - lobby (moderators: the waiting room changed): Waiting
//   - roomState: Locked
//   - notice: Code, Message
type Event struct {
	Type          string
	Participant   Participant
	ParticipantID string
	Track         TrackInfo
	TrackID       string
	Source        string
	Muted         bool
	Locked        bool
	Waiting       []Participant
	Code, Message string
}

func eventOf(m message) (Event, bool) {
	ev := Event{Type: m.Type, ParticipantID: m.ParticipantID, TrackID: m.TrackID, Source: m.Source,
		Waiting: m.Waiting, Code: m.Code, Message: m.Message}
	if m.Participant != nil {
		ev.Participant = *m.Participant
	}
	if m.Track != nil {
		ev.Track = *m.Track
	}
	if m.Muted != nil {
		ev.Muted = *m.Muted
	}
	if m.Locked != nil {
		ev.Locked = *m.Locked
	}
	switch m.Type {
	case "forceMuted":
		if m.By != nil {
			ev.Participant = *m.By
		}
	case "participantJoined", "participantLeft", "participantUpdated", "trackPublished", "trackUnpublished",
		"trackMuted", "lobby", "roomState", "notice":
	default:
		return Event{}, false
	}
	return ev, true
}

// Mute turns one of the client's own sources off (muted) or on. The server stops
// forwarding a muted source and tells everyone.
func (c *Client) Mute(source string, muted bool) error {
	return c.send(message{Type: "mute", Source: source, Muted: &muted})
}

// MuteParticipant mutes another participant's source (a moderator's control; it cannot
// unmute): the microphone, or the camera to stop their video.
func (c *Client) MuteParticipant(participantID, source string) error {
	muted := true
	return c.send(message{Type: "mute", ParticipantID: participantID, Source: source, Muted: &muted})
}

// MuteAll mutes every microphone but the moderators'.
func (c *Client) MuteAll() error { return c.send(message{Type: "muteAll"}) }

// Admit lets a participant in from the waiting room.
func (c *Client) Admit(participantID string) error {
	return c.send(message{Type: "admit", ParticipantID: participantID})
}

// AdmitAll lets everyone in from the waiting room.
func (c *Client) AdmitAll() error { return c.send(message{Type: "admitAll"}) }

// Deny turns a participant away from the waiting room.
func (c *Client) Deny(participantID string) error {
	return c.send(message{Type: "deny", ParticipantID: participantID})
}

// Remove removes a participant, who may not come back.
func (c *Client) Remove(participantID string) error {
	return c.send(message{Type: "remove", ParticipantID: participantID})
}

// Lock locks the meeting against new participants, or unlocks it.
func (c *Client) Lock(locked bool) error { return c.send(message{Type: "lock", Locked: &locked}) }

// SetRole makes a participant co-host ("cohost") or takes it back (""); the host's control.
func (c *Client) SetRole(participantID, role string) error {
	return c.send(message{Type: "setRole", ParticipantID: participantID, Role: &role})
}

// EndMeeting ends the meeting for everyone; the host's control.
func (c *Client) EndMeeting() error { return c.send(message{Type: "endMeeting"}) }
