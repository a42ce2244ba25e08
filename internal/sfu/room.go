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

// Room is a set of participants exchanging media.
type Room struct {
	sfu  *SFU
	name string

	mu           sync.Mutex
	participants map[string]*Participant
	tracks       map[string]*PublishedTrack
	closed       bool
	speakers     []string

	stop chan struct{}
	done chan struct{}
}

func newRoom(s *SFU, name string) *Room {
	r := &Room{
		sfu: s, name: name,
		participants: map[string]*Participant{},
		tracks:       map[string]*PublishedTrack{},
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
	// candidate inside: WHIP and WHEP clients do not trickle.
	NoTrickle bool
	// ClientOffers makes the client, not the SFU, offer the subscriber connection, once
	// (WHEP): the participant receives the tracks present when it offers and never
	// renegotiates.
	ClientOffers bool
}

// Snapshot is who and what is in a room.
type Snapshot struct {
	Participants []ParticipantInfo
	Tracks       []TrackInfo
}

// Join adds a participant. The returned snapshot lists the others and their tracks; events
// about later changes go to sink.
func (r *Room) Join(info ParticipantInfo, opts JoinOptions, sink Sink) (*Participant, Snapshot, error) {
	p := newParticipant(r, info, opts, sink)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, Snapshot{}, ErrClosed
	}
	if old, ok := r.participants[info.ID]; ok {
		r.mu.Unlock()
		old.Close("replaced by a new session")
		r.mu.Lock()
	}
	snap := Snapshot{Participants: []ParticipantInfo{}, Tracks: []TrackInfo{}}
	others := make([]*Participant, 0, len(r.participants))
	for _, o := range r.participants {
		snap.Participants = append(snap.Participants, o.info)
		others = append(others, o)
	}
	tracks := make([]*PublishedTrack, 0, len(r.tracks))
	for _, t := range r.tracks {
		snap.Tracks = append(snap.Tracks, t.info)
		tracks = append(tracks, t)
	}
	r.participants[info.ID] = p
	r.mu.Unlock()
	r.sfu.metrics.Participants.Inc()

	for _, o := range others {
		o.sink.Send(ParticipantJoined{Participant: info})
	}
	if opts.CanSubscribe && !opts.ClientOffers && len(tracks) > 0 {
		for _, t := range tracks {
			p.subscribe(t)
		}
		p.negotiate(false)
	}
	return p, snap, nil
}

// Participants lists who is in the room.
func (r *Room) Participants() []ParticipantInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ParticipantInfo, 0, len(r.participants))
	for _, p := range r.participants {
		out = append(out, p.info)
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
	r.mu.Lock()
	ps := r.snapshotParticipants()
	r.mu.Unlock()
	for _, p := range ps {
		p.sink.Send(msg)
	}
	return nil
}

// Close ends the room for everyone.
func (r *Room) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	ps := r.snapshotParticipants()
	r.mu.Unlock()
	for _, p := range ps {
		p.Close("room closed")
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
		p.sink.Send(TrackPublished{Track: t.info})
		if p != t.owner && p.opts.CanSubscribe && !p.opts.ClientOffers {
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

// leave removes a participant that has closed.
func (r *Room) leave(p *Participant) {
	r.mu.Lock()
	if r.participants[p.info.ID] != p {
		r.mu.Unlock()
		return
	}
	delete(r.participants, p.info.ID)
	ps := r.snapshotParticipants()
	empty := len(r.participants) == 0 && !r.closed
	if empty {
		r.closed = true
	}
	r.mu.Unlock()
	r.sfu.metrics.Participants.Dec()
	for _, o := range ps {
		o.sink.Send(ParticipantLeft{ParticipantID: p.info.ID})
	}
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
			b := l.bytes.Load()
			l.bitrate.Store((b - l.prevBytes) * 8 * int64(time.Second) / int64(tickInterval))
			l.prevBytes = b
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
