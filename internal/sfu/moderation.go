package sfu

import (
	"errors"
	"slices"

	"github.com/pion/webrtc/v4"
)

// Role is what a participant may do to others in the room. The SFU knows only these
// roles; who gets which is the meeting layer's decision, carried in the join token.
type Role string

// Roles. A host and co-hosts are moderators: they see and manage the waiting room, mute
// others, stop their video, remove them and lock the room. Only a host appoints co-hosts.
const (
	RoleParticipant Role = ""
	RoleCohost      Role = "cohost"
	RoleHost        Role = "host"
)

// Moderates reports whether the role may moderate: host and co-host.
func (r Role) Moderates() bool { return r == RoleHost || r == RoleCohost }

// Errors of moderation and of the waiting room.
var (
	ErrNotModerator       = errors.New("sfu: only a host or co-host may do this")
	ErrNotHost            = errors.New("sfu: only the host may do this")
	ErrUnknownParticipant = errors.New("sfu: no such participant")
	ErrHeld               = errors.New("sfu: waiting to be admitted")
	ErrRemoved            = errors.New("sfu: removed from this room")
	ErrLocked             = errors.New("sfu: the room is locked")
	ErrDenied             = errors.New("sfu: turned away from this room's waiting room")
	ErrFull               = errors.New("sfu: the room has no free seat")
	ErrBadSource          = errors.New("sfu: unknown source")
)

// Role is the participant's current role.
func (p *Participant) Role() Role {
	if r, ok := p.role.Load().(Role); ok {
		return r
	}
	return RoleParticipant
}

// Held reports whether the participant is in the waiting room.
func (p *Participant) Held() bool { return p.held.Load() }

// moderator checks that p may moderate, as a member of the room.
func (p *Participant) moderator() error {
	switch {
	case p.Held():
		return ErrHeld
	case !p.Role().Moderates():
		return ErrNotModerator
	}
	return nil
}

// lobbyLocked is the waiting room's current list for the room's moderators, and who they
// are. Called with r.mu held.
func (r *Room) lobbyLocked() (Event, []*Participant) {
	var mods []*Participant
	for _, p := range r.participants {
		if p.Role().Moderates() {
			mods = append(mods, p)
		}
	}
	return LobbyChanged{Waiting: r.waitingInfoLocked()}, mods
}

func (r *Room) waitingInfoLocked() []ParticipantInfo {
	out := make([]ParticipantInfo, len(r.waiting))
	for i, w := range r.waiting {
		out[i] = w.Info()
	}
	return out
}

// Lookup finds a participant of the room, or of its waiting room, by id.
func (r *Room) Lookup(id string) (ParticipantInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.lookupLocked(id); ok {
		return p.Info(), true
	}
	return ParticipantInfo{}, false
}

func (r *Room) lookupLocked(id string) (*Participant, bool) {
	if p, ok := r.participants[id]; ok {
		return p, true
	}
	for _, w := range r.waiting {
		if w.info.ID == id {
			return w, true
		}
	}
	return nil, false
}

// Admit lets a participant in from the waiting room; its identity is not held again
// while the room lasts.
func (p *Participant) Admit(id string) error {
	if err := p.moderator(); err != nil {
		return err
	}
	r := p.room
	r.mu.Lock()
	i := slices.IndexFunc(r.waiting, func(w *Participant) bool { return w.info.ID == id })
	if i < 0 || r.closed {
		r.mu.Unlock()
		return ErrUnknownParticipant
	}
	r.admitLocked(i)
	r.mu.Unlock()
	return nil
}

// AdmitAll lets in everyone in the waiting room.
func (p *Participant) AdmitAll() error {
	if err := p.moderator(); err != nil {
		return err
	}
	r := p.room
	r.mu.Lock()
	for len(r.waiting) > 0 && !r.closed {
		r.admitLocked(0)
	}
	r.mu.Unlock()
	return nil
}

// admitLocked moves r.waiting[i] into the room. Its Admitted event is sent before the
// lock is released, so that it precedes every other event the participant receives as a
// member. Called with r.mu held; it releases the lock to finish and takes it again.
func (r *Room) admitLocked(i int) {
	w := r.waiting[i]
	r.waiting = slices.Delete(r.waiting, i, i+1)
	r.admitted[w.info.Identity] = true
	w.held.Store(false)
	snap, tracks := r.enterLocked(w)
	w.sink.Send(Admitted{Snapshot: snap})
	lobby, mods := r.lobbyLocked()
	sendAll(mods, lobby) // under the lock: see enterLocked
	r.mu.Unlock()
	r.entered(w, tracks)
	r.mu.Lock()
}

// Deny turns a participant away from the waiting room, and their identity away from the
// room while it lasts.
func (p *Participant) Deny(id string) error {
	if err := p.moderator(); err != nil {
		return err
	}
	r := p.room
	r.mu.Lock()
	w, ok := r.lookupLocked(id)
	if !ok || !w.Held() {
		r.mu.Unlock()
		return ErrUnknownParticipant
	}
	// Denied for the room's life, on every way in, as a removal is.
	r.denied[w.info.Identity] = true
	r.mu.Unlock()
	w.Close("denied")
	return nil
}

// Remove ends a participant's session, in the room or its waiting room, and keeps their
// identity out while the room lasts. A co-host cannot remove the host.
func (p *Participant) Remove(id string) error {
	if err := p.moderator(); err != nil {
		return err
	}
	r := p.room
	r.mu.Lock()
	target, ok := r.lookupLocked(id)
	switch {
	case !ok:
		r.mu.Unlock()
		return ErrUnknownParticipant
	case target.Role() == RoleHost && p.Role() != RoleHost, target == p:
		r.mu.Unlock()
		return ErrNotAllowed
	}
	r.removed[target.info.Identity] = true
	delete(r.admitted, target.info.Identity)
	delete(r.cohosts, target.info.Identity)
	r.mu.Unlock()
	target.Close("removed")
	return nil
}

// SetLocked locks the room against new participants, or unlocks it. Moderators and
// identities admitted before still get in.
func (p *Participant) SetLocked(locked bool) error {
	if err := p.moderator(); err != nil {
		return err
	}
	r := p.room
	r.mu.Lock()
	changed := r.locked != locked
	r.locked = locked
	ps := r.snapshotParticipants()
	r.mu.Unlock()
	if changed {
		sendAll(ps, RoomState{Locked: locked})
	}
	return nil
}

// SetRole makes a participant a co-host (RoleCohost) or takes it back (RoleParticipant).
// Only a host may; the host's own role does not change.
func (p *Participant) SetRole(id string, role Role) error {
	if p.Held() {
		return ErrHeld
	}
	if p.Role() != RoleHost {
		return ErrNotHost
	}
	if role != RoleCohost && role != RoleParticipant {
		return ErrNotAllowed
	}
	r := p.room
	r.mu.Lock()
	target, ok := r.participants[id]
	switch {
	case !ok:
		r.mu.Unlock()
		return ErrUnknownParticipant
	case target.Role() == RoleHost:
		r.mu.Unlock()
		return ErrNotAllowed
	}
	changed := target.Role() != role
	target.role.Store(role)
	if role == RoleCohost {
		r.cohosts[target.info.Identity] = true
	} else {
		delete(r.cohosts, target.info.Identity)
	}
	ps := r.snapshotParticipants()
	lobby, _ := r.lobbyLocked()
	r.mu.Unlock()
	if changed {
		sendAll(ps, ParticipantUpdated{Participant: target.Info()})
		if role == RoleCohost {
			target.sink.Send(lobby)
		}
	}
	return nil
}

// SetMuted turns a source of a participant (id; empty for p itself) off or on. Anyone
// may mute or unmute themselves; a moderator may mute, never unmute, others, who are told
// by a ForceMuted event. While a track is muted the SFU forwards none of it.
func (p *Participant) SetMuted(id, source string, muted bool) error {
	switch source {
	case SourceMicrophone, SourceCamera, SourceScreen, SourceScreenAudio:
	default:
		return ErrBadSource
	}
	if p.Held() {
		return ErrHeld
	}
	target := p
	if id != "" && id != p.info.ID {
		if err := p.moderator(); err != nil {
			return err
		}
		if !muted {
			return ErrNotAllowed
		}
		p.room.mu.Lock()
		t, ok := p.room.participants[id]
		p.room.mu.Unlock()
		if !ok {
			return ErrUnknownParticipant
		}
		target = t
	}
	target.muteSource(source, muted)
	if target != p {
		target.sink.Send(ForceMuted{Source: source, By: p.Info()})
	}
	return nil
}

// MuteAll mutes the microphone of everyone but the moderators.
func (p *Participant) MuteAll() error {
	if err := p.moderator(); err != nil {
		return err
	}
	p.room.mu.Lock()
	ps := p.room.snapshotParticipants()
	p.room.mu.Unlock()
	by := p.Info()
	for _, o := range ps {
		if !o.Role().Moderates() {
			o.muteSource(SourceMicrophone, true)
			o.sink.Send(ForceMuted{Source: SourceMicrophone, By: by})
		}
	}
	return nil
}

// muteSource mutes or unmutes every track of a source, and remembers it for tracks of
// that source published later.
func (p *Participant) muteSource(source string, muted bool) {
	p.mu.Lock()
	p.mutedSources[source] = muted
	var ofSource []*PublishedTrack
	for _, t := range p.published {
		if t.info.Source == source {
			ofSource = append(ofSource, t)
		}
	}
	p.mu.Unlock()
	// Not under p.mu: resuming asks the publisher (p) for a keyframe.
	var changed []*PublishedTrack
	for _, t := range ofSource {
		if t.setMuted(muted) {
			changed = append(changed, t)
		}
	}
	if len(changed) == 0 {
		return
	}
	p.room.mu.Lock()
	ps := p.room.snapshotParticipants()
	p.room.mu.Unlock()
	for _, t := range changed {
		sendAll(ps, TrackMuted{TrackID: t.info.ID, ParticipantID: p.info.ID, Muted: muted})
	}
}

// setMuted starts or stops forwarding the track and reports whether that changed. A
// subscriber resumes at the next keyframe (video) or packet (audio), with sequence
// numbers that continue where they stopped.
func (t *PublishedTrack) setMuted(muted bool) bool {
	if t.muted.Swap(muted) == muted {
		return false
	}
	for _, d := range t.downTracks() {
		if muted {
			d.pause()
		} else if t.kind == webrtc.RTPCodecTypeVideo {
			d.keepWaiting()
		}
	}
	return true
}

// Notify sends a notice to everyone in the room (not to the waiting room).
func (r *Room) Notify(code, message string) {
	r.mu.Lock()
	ps := r.snapshotParticipants()
	r.mu.Unlock()
	sendAll(ps, Notice{Code: code, Message: message})
}

// Occupancy is how many are in the room, waiting room included.
func (r *Room) Occupancy() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.participants) + len(r.waiting)
}

// SeatsTaken is how many seats a new session of identity finds taken: the occupancy, less
// identity's own session, whose seat the new one takes.
func (r *Room) SeatsTaken(identity string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.participants) + len(r.waiting)
	if r.sessionOfLocked(identity) != nil {
		n--
	}
	return n
}
