package sfu

import (
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// tickInterval is how often a room measures layer bitrates, reallocates subscriber
// bandwidth and detects the active speaker.
const tickInterval = 500 * time.Millisecond

// Speaker detection: a participant speaks when their mean loudness over a tick exceeds
// this, on the 0..127 scale of (127 - dBov) carried by the audio level extension.
const speakingThreshold = 127 - 50

// MaxChatLength bounds a chat message, in bytes.
const MaxChatLength = 4096

// ReasonReplaced is the reason a session is closed with when a new session of its
// identity takes its place (see Join).
const ReasonReplaced = "replaced by a new session"

// Room is a set of participants exchanging media.
type Room struct {
	sfu  *SFU
	name string

	mu           sync.Mutex
	participants map[string]*Participant
	tracks       map[string]*PublishedTrack
	closed       bool
	speakers     []string
	// The waiting room, in arrival order, and what the room remembers of identities while
	// it lasts, so that a participant who reconnects is not held, demoted or let back in
	// after removal.
	waiting  []*Participant
	admitted map[string]bool
	cohosts  map[string]bool
	removed  map[string]bool
	denied   map[string]bool
	locked   bool
	// replacing counts joins that wait for their identity's previous session to leave;
	// meanwhile the room does not end for being empty.
	replacing int

	stop chan struct{}
	done chan struct{}
}

func newRoom(s *SFU, name string) *Room {
	r := &Room{
		sfu: s, name: name,
		participants: map[string]*Participant{},
		tracks:       map[string]*PublishedTrack{},
		admitted:     map[string]bool{},
		cohosts:      map[string]bool{},
		removed:      map[string]bool{},
		denied:       map[string]bool{},
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	go r.tickLoop()
	return r
}

// Name is the room's name.
func (r *Room) Name() string { return r.name }

// JoinOptions are a participant's grants in the room.
type JoinOptions struct {
	CanPublish, CanSubscribe bool
	// NoTrickle returns session descriptions only once ICE gathering is complete, with every
	// candidate inside: WHIP and WHEP clients do not trickle, nor restart ICE (see
	// consentFor).
	NoTrickle bool
	// ClientOffers makes the client, not the SFU, offer the subscriber connection, once
	// (WHEP): it never renegotiates, and each media section it offers carries a track of
	// its kind whenever the room has one (see slots.go).
	ClientOffers bool
	// Role is the participant's role to begin with.
	Role Role
	// Waiting holds the participant in the waiting room until a moderator admits them,
	// unless their identity was admitted before or they are a moderator.
	Waiting bool
	// CannotWait refuses with ErrHeld a join that Waiting would hold: a WHIP or WHEP
	// client has no way to sit in a waiting room. An identity admitted before enters.
	CannotWait bool
	// Locked says the room is locked by state kept outside the SFU (a meeting's lock,
	// which outlives its room): the join is refused as by the room's own lock, and a room
	// that has nobody in it yet starts locked.
	Locked bool
	// Seats bounds how many may be in the room when this participant enters, every
	// session and the waiting room counted (the plan's participant limit); 0 for no
	// bound. The host is never refused for seats: a meeting must not lock out its host.
	Seats int
}

// Snapshot is who and what is in a room, as a participant entering it sees it.
type Snapshot struct {
	Participants []ParticipantInfo
	Tracks       []TrackInfo
	// Waiting is the waiting room, shown to moderators only.
	Waiting []ParticipantInfo
	Locked  bool
	// Held: the participant is in the waiting room; the rest of the snapshot is empty and
	// an Admitted event will bring it.
	Held bool
}

// Join adds a participant. The returned snapshot lists the others and their tracks; events
// about later changes go to sink. A participant with opts.Waiting is held in the waiting
// room (Snapshot.Held) and learns nothing of the room until a moderator admits them.
//
// One identity has one session in a room, so that one ticket takes one seat: a join with
// the identity of a session present (in the room or its waiting room) replaces it, which
// is closed with the reason "replaced by a new session". A refused join changes nothing,
// and replaces no one.
func (r *Room) Join(info ParticipantInfo, opts JoinOptions, sink Sink) (*Participant, Snapshot, error) {
	r.mu.Lock()
	for {
		role, old, err := r.admitsLocked(info.Identity, opts)
		if err != nil {
			return r.refuseLocked(err)
		}
		if old == nil {
			info.Role = role
			break
		}
		// The old session leaves as it would on its own (its tracks unpublished, the others
		// told), then the decision is made again on the room as it is now. Should its
		// close be under way already, this goes round until it has left.
		r.replacing++
		r.mu.Unlock()
		old.Close(ReasonReplaced)
		r.mu.Lock()
		r.replacing--
	}
	if len(r.participants)+len(r.waiting) == 0 {
		r.locked = r.locked || opts.Locked
	}
	p := newParticipant(r, info, opts, sink)
	if opts.Waiting && info.Role == RoleParticipant && !r.admitted[info.Identity] {
		p.held.Store(true)
		r.waiting = append(r.waiting, p)
		lobby, mods := r.lobbyLocked()
		sendAll(mods, lobby)
		r.mu.Unlock()
		return p, Snapshot{Held: true, Participants: []ParticipantInfo{}, Tracks: []TrackInfo{}}, nil
	}
	snap, tracks := r.enterLocked(p)
	r.mu.Unlock()
	r.entered(p, tracks)
	return p, snap, nil
}

// admitsLocked decides whether identity may join with opts now: it returns the role the
// participant gets and the session of the same identity the join would replace, or why
// the join is refused. Called with r.mu held.
func (r *Room) admitsLocked(identity string, opts JoinOptions) (Role, *Participant, error) {
	role := opts.Role
	if role == RoleParticipant && r.cohosts[identity] {
		role = RoleCohost
	}
	switch {
	case r.closed:
		return role, nil, ErrClosed
	case r.removed[identity]:
		return role, nil, ErrRemoved
	case r.denied[identity]:
		return role, nil, ErrDenied
	case (r.locked || opts.Locked) && !role.Moderates() && !r.admitted[identity]:
		return role, nil, ErrLocked
	case opts.CannotWait && opts.Waiting && role == RoleParticipant && !r.admitted[identity]:
		return role, nil, ErrHeld
	}
	old := r.sessionOfLocked(identity)
	seated := len(r.participants) + len(r.waiting)
	if old != nil {
		seated-- // the join takes the seat of the session it replaces
	}
	if opts.Seats > 0 && role != RoleHost && seated >= opts.Seats {
		return role, nil, ErrFull
	}
	return role, old, nil
}

// sessionOfLocked finds the session of identity in the room or its waiting room. Called
// with r.mu held.
func (r *Room) sessionOfLocked(identity string) *Participant {
	for _, p := range r.participants {
		if p.info.Identity == identity {
			return p
		}
	}
	for _, w := range r.waiting {
		if w.info.Identity == identity {
			return w
		}
	}
	return nil
}

// refuseLocked releases r.mu and returns err for a refused join. A room that the refused
// join found empty (it was made for it) ends, as a room ends when its last one leaves.
// Called with r.mu held.
func (r *Room) refuseLocked(err error) (*Participant, Snapshot, error) {
	empty := r.emptyLocked()
	if empty {
		r.closed = true
	}
	r.mu.Unlock()
	if empty {
		close(r.stop)
		r.sfu.removeRoom(r)
	}
	return nil, Snapshot{}, err
}

// emptyLocked reports whether an open room has nobody in it, waiting or joining, and so
// ends. Called with r.mu held.
func (r *Room) emptyLocked() bool {
	return !r.closed && len(r.participants) == 0 && len(r.waiting) == 0 && r.replacing == 0
}

// enterLocked makes p a member of the room, tells the others, and returns what it sees of
// the room and the tracks it subscribes to; entered does the rest without the lock.
// Called with r.mu held.
//
// Arrivals, departures and the waiting room are told under r.mu (sinks do not block), so
// that everyone hears them in the order they happened: told after the lock was released,
// a session replaced at once by its identity's next could be announced after its
// departure, and stay in everyone's list of participants.
func (r *Room) enterLocked(p *Participant) (Snapshot, []*PublishedTrack) {
	snap := Snapshot{Participants: []ParticipantInfo{}, Tracks: []TrackInfo{}, Locked: r.locked}
	if p.Role().Moderates() {
		snap.Waiting = r.waitingInfoLocked()
	}
	others := make([]*Participant, 0, len(r.participants))
	for _, o := range r.participants {
		snap.Participants = append(snap.Participants, o.Info())
		others = append(others, o)
	}
	tracks := make([]*PublishedTrack, 0, len(r.tracks))
	for _, t := range r.tracks {
		snap.Tracks = append(snap.Tracks, t.Info())
		tracks = append(tracks, t)
	}
	r.participants[p.info.ID] = p
	sendAll(others, ParticipantJoined{Participant: p.Info()})
	return snap, tracks
}

func (r *Room) entered(p *Participant, tracks []*PublishedTrack) {
	r.sfu.metrics.Participants.Inc()
	if p.opts.CanSubscribe && !p.opts.ClientOffers && len(tracks) > 0 {
		for _, t := range tracks {
			p.subscribe(t)
		}
		p.negotiate(false)
	}
}

func sendAll(ps []*Participant, ev Event) {
	for _, p := range ps {
		p.sink.Send(ev)
	}
}

// Participants lists who is in the room.
func (r *Room) Participants() []ParticipantInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ParticipantInfo, 0, len(r.participants))
	for _, p := range r.participants {
		out = append(out, p.Info())
	}
	return out
}

// TrackCount is the number of tracks published in the room.
func (r *Room) TrackCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.tracks)
}

// Chat sends a message from a participant to everyone in the room, including the sender, so
// that every client shows the same conversation in the same order.
func (r *Room) Chat(from ParticipantInfo, text string, now time.Time) error {
	if text == "" || len(text) > MaxChatLength || !utf8.ValidString(text) {
		return ErrBadChat
	}
	msg := ChatMessage{From: from, Text: text, At: now}
	// Sent under the lock (sinks do not block), so that two messages sent at once reach
	// everyone in the same order.
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.participants {
		p.sink.Send(msg)
	}
	return nil
}

// Close ends the room for everyone, waiting or not, telling them reason.
func (r *Room) Close(reason string) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	ps := append(r.snapshotParticipants(), r.waiting...)
	r.mu.Unlock()
	for _, p := range ps {
		p.Close(reason)
	}
	close(r.stop)
	<-r.done
	r.sfu.removeRoom(r)
}

func (r *Room) snapshotParticipants() []*Participant {
	ps := make([]*Participant, 0, len(r.participants))
	for _, p := range r.participants {
		ps = append(ps, p)
	}
	return ps
}

func (r *Room) publishedTracks() []*PublishedTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*PublishedTrack, 0, len(r.tracks))
	for _, t := range r.tracks {
		out = append(out, t)
	}
	return out
}

// publish makes a track available to every subscriber in the room.
func (r *Room) publish(t *PublishedTrack) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.tracks[t.info.ID] = t
	ps := r.snapshotParticipants()
	r.mu.Unlock()
	r.sfu.metrics.Tracks.Inc()
	for _, p := range ps {
		p.sink.Send(TrackPublished{Track: t.Info()})
		switch {
		case p == t.owner || !p.opts.CanSubscribe:
		case p.opts.ClientOffers:
			p.fillSlots()
		default:
			p.subscribe(t)
			p.negotiate(false)
		}
	}
}

// unpublish removes a track from the room and from every subscriber.
func (r *Room) unpublish(t *PublishedTrack) {
	r.mu.Lock()
	if _, ok := r.tracks[t.info.ID]; !ok {
		r.mu.Unlock()
		return
	}
	delete(r.tracks, t.info.ID)
	t.gone.Store(true)
	ps := r.snapshotParticipants()
	r.mu.Unlock()
	r.sfu.metrics.Tracks.Dec()
	for _, p := range ps {
		if p.unsubscribe(t) {
			p.negotiate(false)
		}
		p.sink.Send(TrackUnpublished{TrackID: t.info.ID, ParticipantID: t.info.ParticipantID})
	}
}

// leave removes a participant that has closed, from the room or its waiting room. The
// room ends when nobody is left in either.
func (r *Room) leave(p *Participant) {
	r.mu.Lock()
	var left Event
	var tell []*Participant
	if i := slices.Index(r.waiting, p); i >= 0 {
		r.waiting = slices.Delete(r.waiting, i, i+1)
		left, tell = r.lobbyLocked()
	} else if r.participants[p.info.ID] == p {
		delete(r.participants, p.info.ID)
		left, tell = ParticipantLeft{ParticipantID: p.info.ID}, r.snapshotParticipants()
		r.sfu.metrics.Participants.Dec()
	} else {
		r.mu.Unlock()
		return
	}
	sendAll(tell, left) // under the lock: see enterLocked
	empty := r.emptyLocked()
	if empty {
		r.closed = true
	}
	r.mu.Unlock()
	if empty {
		close(r.stop)
		r.sfu.removeRoom(r)
	}
}

func (r *Room) tickLoop() {
	defer close(r.done)
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			r.tick(now)
		}
	}
}

// tick measures layer bitrates, reallocates subscriber bandwidth and announces a change of
// active speakers.
func (r *Room) tick(now time.Time) {
	r.mu.Lock()
	tracks := make([]*PublishedTrack, 0, len(r.tracks))
	for _, t := range r.tracks {
		tracks = append(tracks, t)
	}
	ps := r.snapshotParticipants()
	r.mu.Unlock()

	loudest := map[string]float64{} // a participant with two audio tracks counts once
	for _, t := range tracks {
		for _, l := range t.layerList() {
			l.bitrate.Store(l.rate.sample(l.bytes.Load(), now.UnixNano()))
			if n := l.levelCount.Swap(0); n > 0 {
				mean := l.levelSum.Swap(0) / n
				if lvl := float64(mean) / 127; mean >= speakingThreshold && lvl > loudest[t.info.ParticipantID] {
					loudest[t.info.ParticipantID] = lvl
				}
			}
		}
	}
	for _, p := range ps {
		p.allocate(now.UnixNano())
		p.sendReports(now)
	}

	levels := make([]SpeakerLevel, 0, len(loudest))
	for id, lvl := range loudest {
		levels = append(levels, SpeakerLevel{ParticipantID: id, Level: lvl})
	}
	slices.SortFunc(levels, func(a, b SpeakerLevel) int {
		switch {
		case a.Level > b.Level:
			return -1
		case a.Level < b.Level:
			return 1
		}
		return 0
	})
	ids := make([]string, len(levels))
	for i, l := range levels {
		ids[i] = l.ParticipantID
	}
	if slices.Equal(ids, r.speakers) {
		return
	}
	r.speakers = ids
	ev := ActiveSpeakers{Speakers: levels}
	for _, p := range ps {
		p.sink.Send(ev)
	}
}
