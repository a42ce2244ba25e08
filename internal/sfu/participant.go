package sfu

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/meridian-video/meridian/internal/bwe"
)

// Errors a client can cause; the signalling layer maps them to stable codes.
var (
	ErrNotAllowed    = errors.New("sfu: not allowed by the participant's grants")
	ErrBadSDP        = errors.New("sfu: malformed or unacceptable session description")
	ErrBadCandidate  = errors.New("sfu: malformed ICE candidate")
	ErrBadChat       = errors.New("sfu: chat message empty, too long or not UTF-8")
	ErrUnknownTrack  = errors.New("sfu: no such track")
	ErrNoNegotiation = errors.New("sfu: no offer is awaiting an answer")
)

// Participant is one member of a room with up to two peer connections: one on which it
// publishes and one on which it subscribes.
type Participant struct {
	room *Room
	info ParticipantInfo
	opts JoinOptions
	sink Sink

	mu               sync.Mutex
	pub              *webrtc.PeerConnection
	sub              *webrtc.PeerConnection
	negotiating      bool
	pendingNegotiate bool
	pendingRestart   bool
	pendingCands     []webrtc.ICECandidateInit
	published        map[string]*PublishedTrack // by the publisher's own track id
	sources          map[string]string          // declared source by the publisher's track id
	downs            map[string]*downTrack      // by published track id
	slots            []*downTrack               // a client offerer's sending slots (slots.go)
	mutedSources     map[string]bool            // sources the participant has turned off
	closed           bool
	closeReason      string // why it closed, once closed

	role atomic.Value // Role
	held atomic.Bool  // in the waiting room

	// bwe estimates the subscriber connection's bandwidth and numbers what is sent on it.
	bwe   *bwe.Estimator
	probe layerProbe

	candidates [2]candidateQueue // by publisherIdx, subscriberIdx

	// subReady is set once the subscriber connection's SRTP is up. Until then pion drops
	// what is written without an error, so forwarding waits: a keyframe sent into the void
	// would leave the subscriber decoding nothing until the next one.
	subReady atomic.Bool

	// direct is the subscriber connection's direct SRTP path, once it is connected, if it
	// can take one; downTracks send through pion's SRTP session without. directDone
	// (guarded by SFU.directMu) is set when the participant leaves: no path starts after.
	direct     atomic.Pointer[directPath]
	directDone bool

	// bySSRC finds the downTrack a subscriber's RTCP is about. Copied on write: it is read
	// on the media socket's receive path, which must not wait for the participant's lock.
	bySSRC   atomic.Pointer[map[uint32]*downTrack]
	bySSRCMu sync.Mutex
}

// setSending records that d sends under ssrc.
func (p *Participant) setSending(ssrc uint32, d *downTrack) {
	p.editSending(func(m map[uint32]*downTrack) { m[ssrc] = d })
}

// unsetSending forgets that d sends under ssrc.
func (p *Participant) unsetSending(ssrc uint32, d *downTrack) {
	p.editSending(func(m map[uint32]*downTrack) {
		if m[ssrc] == d {
			delete(m, ssrc)
		}
	})
}

// editSending replaces bySSRC with an edited copy.
func (p *Participant) editSending(edit func(map[uint32]*downTrack)) {
	p.bySSRCMu.Lock()
	defer p.bySSRCMu.Unlock()
	m := map[uint32]*downTrack{}
	if old := p.bySSRC.Load(); old != nil {
		m = maps.Clone(*old)
	}
	edit(m)
	p.bySSRC.Store(&m)
}

// sendingAs is the downTrack sending under ssrc, or nil.
func (p *Participant) sendingAs(ssrc uint32) *downTrack {
	if m := p.bySSRC.Load(); m != nil {
		return (*m)[ssrc]
	}
	return nil
}

const (
	publisherIdx = iota
	subscriberIdx
)

// candidateQueue holds a connection's local candidates while a new description of it is on
// its way to the client, so that the client never receives a candidate (say, after an ICE
// restart) before the description it belongs to.
type candidateQueue struct {
	mu      sync.Mutex
	held    bool
	pending []webrtc.ICECandidateInit
}

func (q *candidateQueue) onCandidate(sink Sink, target Target) func(*webrtc.ICECandidate) {
	return func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.held {
			q.pending = append(q.pending, c.ToJSON())
			return
		}
		sink.Send(ICECandidate{Target: target, Candidate: c.ToJSON()})
	}
}

// hold queues candidates until release.
func (q *candidateQueue) hold() {
	q.mu.Lock()
	q.held = true
	q.mu.Unlock()
}

// release sends the description (if any), then the candidates held back for it.
func (q *candidateQueue) release(sink Sink, target Target, desc Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if desc != nil {
		sink.Send(desc)
	}
	for _, c := range q.pending {
		sink.Send(ICECandidate{Target: target, Candidate: c})
	}
	q.pending, q.held = nil, false
}

func newParticipant(r *Room, info ParticipantInfo, opts JoinOptions, sink Sink) *Participant {
	p := &Participant{
		room: r, info: info, opts: opts, sink: sink,
		published:    map[string]*PublishedTrack{},
		sources:      map[string]string{},
		downs:        map[string]*downTrack{},
		mutedSources: map[string]bool{},
		bwe:          bwe.New(r.sfu.cfg.InitialBitrate),
	}
	p.role.Store(info.Role)
	return p
}

// Info identifies the participant, with its current role.
func (p *Participant) Info() ParticipantInfo {
	i := p.info
	i.Role = p.Role()
	return i
}

// Room is the participant's room.
func (p *Participant) Room() *Room { return p.room }

// DeclareSources records what the client says each of its tracks is (camera, microphone,
// screen), by the client's own track id. It applies to tracks published afterwards.
func (p *Participant) DeclareSources(sources map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, src := range sources {
		if _, known := p.sources[id]; !known && len(p.sources) >= 64 {
			continue
		}
		switch src {
		case SourceCamera, SourceMicrophone, SourceScreen, SourceScreenAudio:
		default:
			src = SourceUnknown
		}
		p.sources[id] = src
	}
}

// HandlePublisherOffer applies the client's offer for its publishing connection and returns
// the answer, which also goes to the sink, ahead of any candidate gathered for it. A later
// offer renegotiates (new tracks, removed tracks, ICE restart).
func (p *Participant) HandlePublisherOffer(sdp string) (string, error) {
	if p.Held() {
		return "", ErrHeld
	}
	if !p.opts.CanPublish {
		return "", ErrNotAllowed
	}
	pc, err := p.publisherPC()
	if err != nil {
		return "", err
	}
	// Hold candidates from before the offer is applied: an offer with new ICE credentials
	// makes pion restart ICE inside SetRemoteDescription and gather the new generation's
	// candidates at once. Sent ahead of the answer, they would reach a client whose remote
	// description still has the old credentials, and it would drop them.
	q := &p.candidates[publisherIdx]
	q.hold()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		q.release(p.sink, Publisher, nil)
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		q.release(p.sink, Publisher, nil)
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	local, err := p.setLocal(pc, answer)
	if err != nil {
		q.release(p.sink, Publisher, nil)
		return "", err
	}
	q.release(p.sink, Publisher, PublisherAnswer{SDP: local})
	return local, nil
}

// setLocal applies a local description and returns it, complete with candidates for a
// participant that does not trickle.
func (p *Participant) setLocal(pc *webrtc.PeerConnection, desc webrtc.SessionDescription) (string, error) {
	var gathered <-chan struct{}
	if p.opts.NoTrickle {
		gathered = webrtc.GatheringCompletePromise(pc)
	}
	if err := pc.SetLocalDescription(desc); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if gathered != nil {
		select {
		case <-gathered:
		case <-time.After(10 * time.Second):
		}
	}
	return pc.LocalDescription().SDP, nil
}

// HandleSubscriberOffer answers a client's offer to receive (WHEP): every audio and video
// section it offers gets a sending slot, which carries one of the room's tracks of its kind
// now or as soon as one is published (see slots.go).
func (p *Participant) HandleSubscriberOffer(sdp string) (string, error) {
	if p.Held() {
		return "", ErrHeld
	}
	if !p.opts.CanSubscribe || !p.opts.ClientOffers {
		return "", ErrNotAllowed
	}
	p.mu.Lock()
	pc, err := p.subscriberPC(sdp)
	p.mu.Unlock()
	if err != nil {
		return "", err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if err := p.addSlots(pc); err != nil {
		return "", err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	local, err := p.setLocal(pc, answer)
	if err != nil {
		return "", err
	}
	p.fillSlots()
	return local, nil
}

// HandleSubscriberAnswer applies the client's answer to the SFU's last subscriber offer.
func (p *Participant) HandleSubscriberAnswer(sdp string) error {
	p.mu.Lock()
	pc := p.sub
	if pc == nil || !p.negotiating {
		p.mu.Unlock()
		return ErrNoNegotiation
	}
	p.mu.Unlock()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	p.refreshDirectPath(pc)
	p.mu.Lock()
	p.negotiating = false
	again, restart := p.pendingNegotiate, p.pendingRestart
	p.pendingNegotiate, p.pendingRestart = false, false
	cands := p.pendingCands
	p.pendingCands = nil
	p.mu.Unlock()
	for _, c := range cands {
		_ = pc.AddICECandidate(c)
	}
	if again {
		p.negotiate(restart)
	}
	return nil
}

// AddICECandidate adds a remote candidate to one of the participant's connections.
func (p *Participant) AddICECandidate(target Target, c webrtc.ICECandidateInit) error {
	p.mu.Lock()
	var pc *webrtc.PeerConnection
	switch target {
	case Publisher:
		pc = p.pub
	case Subscriber:
		pc = p.sub
		if pc != nil && pc.RemoteDescription() == nil {
			if len(p.pendingCands) < 64 {
				p.pendingCands = append(p.pendingCands, c)
			}
			p.mu.Unlock()
			return nil
		}
	}
	p.mu.Unlock()
	if pc == nil {
		return ErrNoNegotiation
	}
	if err := pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCandidate, err)
	}
	return nil
}

// RestartSubscriberICE renegotiates the subscriber connection with new ICE credentials,
// for a client whose network changed.
func (p *Participant) RestartSubscriberICE() error {
	p.mu.Lock()
	hasSub := p.sub != nil
	p.mu.Unlock()
	if !hasSub || p.opts.ClientOffers {
		return ErrNoNegotiation
	}
	p.negotiate(true)
	return nil
}

// SetVideoPreference sets the largest picture height the participant renders a track at;
// the SFU sends no larger simulcast layer than that. Zero means no limit.
func (p *Participant) SetVideoPreference(trackID string, maxHeight int) error {
	p.mu.Lock()
	d, ok := p.downs[trackID]
	p.mu.Unlock()
	if !ok {
		return ErrUnknownTrack
	}
	d.maxHeight.Store(int32(max(0, min(maxHeight, 1<<14))))
	return nil
}

// Close ends the participant's session; reason is told to the client.
func (p *Participant) Close(reason string) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed, p.closeReason = true, reason
	pub, sub := p.pub, p.sub
	published := make([]*PublishedTrack, 0, len(p.published))
	for _, t := range p.published {
		published = append(published, t)
	}
	downs := make([]*downTrack, 0, len(p.downs))
	for _, d := range p.downs {
		downs = append(downs, d)
	}
	p.downs = map[string]*downTrack{}
	p.mu.Unlock()

	for _, d := range downs {
		d.closed.Store(true)
		if t := d.source(); t != nil {
			t.removeDown(d)
		}
	}
	for _, t := range published {
		p.room.unpublish(t)
	}
	if pub != nil {
		_ = pub.Close()
	}
	p.room.sfu.closeDirectPath(p)
	if sub != nil {
		_ = sub.Close()
	}
	p.room.leave(p)
	if reason != "" {
		p.sink.Send(Closed{Reason: reason})
	}
}

// Ended reports whether the session has been closed, and the reason it was closed with
// ("" if none was told): a transport whose session ends while it answers the client's
// offer tells the client why rather than blaming the offer.
func (p *Participant) Ended() (reason string, ended bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closeReason, p.closed
}

func (p *Participant) publisherPC() (*webrtc.PeerConnection, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if p.pub != nil {
		return p.pub, nil
	}
	pc, err := p.room.sfu.newPublisherConnection(p.consent())
	if err != nil {
		return nil, fmt.Errorf("publisher connection: %w", err)
	}
	pc.OnICECandidate(p.candidates[publisherIdx].onCandidate(p.sink, Publisher))
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if reason := connectionEnded(s); reason != "" {
			go p.Close("publisher connection " + reason)
		}
	})
	p.pub = pc
	return pc, nil
}

// subscriberPC returns the participant's subscriber connection, building it on first use;
// offer is the client's offer it is built to answer, or "" if the SFU offers.
func (p *Participant) subscriberPC(offer string) (*webrtc.PeerConnection, error) {
	if p.closed {
		return nil, ErrClosed
	}
	if p.sub != nil {
		return p.sub, nil
	}
	pc, secrets, err := p.room.sfu.newSubscriberConnection(offer, p.consent())
	if err != nil {
		return nil, fmt.Errorf("subscriber connection: %w", err)
	}
	pc.OnICECandidate(p.candidates[subscriberIdx].onCandidate(p.sink, Subscriber))
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			if !p.subReady.Load() {
				path := "direct"
				if err := p.startDirectPath(pc, secrets); err != nil {
					path = "pion"
					p.room.sfu.log.Info("subscriber sends through pion's SRTP session", "participant", p.info.ID, "reason", err)
				}
				p.room.sfu.metrics.SubscriberSendPath.WithLabelValues(path).Inc()
			}
			if !p.subReady.Swap(true) {
				go p.requestKeyframes()
			}
		default:
			if reason := connectionEnded(s); reason != "" {
				go p.Close("subscriber connection " + reason)
			}
		}
	})
	p.sub = pc
	return pc, nil
}

// consent is how long the participant's connections wait for it when it goes silent. A
// client that does not trickle has no signalling channel after its first exchange (WHIP,
// WHEP), so it cannot restart ICE either.
func (p *Participant) consent() consent { return consentFor(!p.opts.NoTrickle) }

// connectionEnded tells why a connection in state s ends the participant's session, or ""
// if it does not. Failed: the peer stopped answering ICE consent checks (the player or
// encoder vanished; see consent). Closed: pion closed the connection on the peer's
// DTLS close_notify (the player's tab closed), or the SFU did, ending the session anyway. A
// session that outlived its connection would hold its seat in the room for good.
func connectionEnded(s webrtc.PeerConnectionState) string {
	switch s {
	case webrtc.PeerConnectionStateFailed:
		return "failed"
	case webrtc.PeerConnectionStateClosed:
		return "closed"
	}
	return ""
}

// onTrack receives a new incoming stream: a new track, or one more simulcast layer of a
// track already announced.
func (p *Participant) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	rank := 0
	if rid := remote.RID(); rid != "" {
		r, ok := ridRank[rid]
		if !ok {
			return
		}
		rank = r
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	t, existing := p.published[remote.ID()]
	if !existing {
		if len(p.published) >= 16 {
			p.mu.Unlock()
			return
		}
		src := p.sources[remote.ID()]
		if src == "" {
			src = defaultSource(remote.Kind())
		}
		t = &PublishedTrack{
			info: TrackInfo{
				ID: newID(), ParticipantID: p.info.ID, Kind: remote.Kind().String(),
				Source: src, MimeType: remote.Codec().MimeType, Simulcast: remote.RID() != "",
			},
			remoteID:  remote.ID(),
			owner:     p,
			kind:      remote.Kind(),
			clockRate: remote.Codec().ClockRate,
			metrics:   p.room.sfu.metrics,
		}
		t.muted.Store(p.mutedSources[src])
		p.published[remote.ID()] = t
	}
	p.mu.Unlock()

	l := &layer{rank: rank, remote: remote, ssrc: uint32(remote.SSRC()), rate: newRateMeter(time.Now().UnixNano())}
	if remote.Kind() == webrtc.RTPCodecTypeVideo {
		l.cache = &packetCache{}
	}
	for _, ext := range recv.GetParameters().HeaderExtensions {
		if ext.URI == audioLevelURI {
			l.audioExtID = uint8(ext.ID)
		}
	}
	t.mu.Lock()
	t.layers[rank] = l
	t.mu.Unlock()
	if !existing {
		p.room.publish(t)
	}
	go drainRTCP(recv, remote.RID())
	t.readLoop(l)
	p.mu.Lock()
	if p.published[t.remoteID] == t {
		if remaining := t.layerList(); len(remaining) <= 1 {
			delete(p.published, t.remoteID)
			p.mu.Unlock()
			p.room.unpublish(t)
			return
		}
	}
	p.mu.Unlock()
	t.mu.Lock()
	t.layers[rank] = nil
	t.mu.Unlock()
}

// drainRTCP reads the RTCP of one received stream so that its interceptors (reports, NACK
// generation) run.
func drainRTCP(recv *webrtc.RTPReceiver, rid string) {
	buf := make([]byte, 1500)
	for {
		var err error
		if rid == "" {
			_, _, err = recv.Read(buf)
		} else {
			_, _, err = recv.ReadSimulcast(buf, rid)
		}
		if err != nil {
			return
		}
	}
}

// sourceRank orders sources by how much a viewer with room for few tracks wants them.
func sourceRank(source string) int {
	switch source {
	case SourceCamera, SourceMicrophone:
		return 0
	case SourceScreen, SourceScreenAudio:
		return 1
	}
	return 2
}

func defaultSource(k webrtc.RTPCodecType) string {
	if k == webrtc.RTPCodecTypeAudio {
		return SourceMicrophone
	}
	return SourceCamera
}

func (p *Participant) codecOf(t *PublishedTrack) webrtc.RTPCodecParameters {
	if l := t.layerList(); len(l) > 0 {
		return l[0].remote.Codec()
	}
	return webrtc.RTPCodecParameters{}
}

func (p *Participant) writePublisherRTCP(pkts []rtcp.Packet) {
	p.mu.Lock()
	pc := p.pub
	p.mu.Unlock()
	if pc != nil {
		_ = pc.WriteRTCP(pkts)
	}
}

// subscribe adds a published track to the subscriber connection; the caller renegotiates.
func (p *Participant) subscribe(t *PublishedTrack) {
	if t.owner == p {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.downs[t.info.ID]; ok {
		return
	}
	pc, err := p.subscriberPC("")
	if err != nil {
		return
	}
	d := newDownTrack(t, p)
	sender, err := pc.AddTrack(d)
	if err != nil {
		p.room.sfu.log.Warn("subscribe failed", "participant", p.info.ID, "track", t.info.ID, "err", err)
		return
	}
	d.sender = sender
	p.downs[t.info.ID] = d
	t.addDown(d)
	go d.rtcpLoop()
	if t.kind == webrtc.RTPCodecTypeVideo {
		d.setTarget(p.initialLayer(t))
	}
}

// initialLayer starts a new video subscription at the lowest layer, which arrives fastest;
// the allocator raises it as soon as the bandwidth estimate allows.
func (p *Participant) initialLayer(t *PublishedTrack) int {
	for i, l := range t.layerStates(nowNanos()) {
		if l.active {
			return i
		}
	}
	return 0
}

// unsubscribe removes a published track from the subscriber connection and reports whether
// it had been subscribed.
func (p *Participant) unsubscribe(t *PublishedTrack) bool {
	p.mu.Lock()
	d, ok := p.downs[t.info.ID]
	if ok {
		delete(p.downs, t.info.ID)
		if d.slot {
			d.setSource(nil)
		}
	}
	pc := p.sub
	p.mu.Unlock()
	if !ok {
		return false
	}
	if d.slot {
		// The slot stays negotiated for the next track of its kind.
		t.removeDown(d)
		p.fillSlots()
		return false
	}
	d.closed.Store(true)
	t.removeDown(d)
	if pc != nil && d.sender != nil {
		_ = pc.RemoveTrack(d.sender)
	}
	return true
}

// negotiate sends a new subscriber offer, or queues one if an offer is already awaiting
// its answer: one offer at a time keeps both sides' states in step.
func (p *Participant) negotiate(iceRestart bool) {
	p.mu.Lock()
	if p.closed || !p.opts.CanSubscribe || p.opts.ClientOffers {
		p.mu.Unlock()
		return
	}
	if p.negotiating {
		p.pendingNegotiate = true
		p.pendingRestart = p.pendingRestart || iceRestart
		p.mu.Unlock()
		return
	}
	pc, err := p.subscriberPC("")
	if err != nil {
		p.mu.Unlock()
		return
	}
	p.negotiating = true
	p.mu.Unlock()

	q := &p.candidates[subscriberIdx]
	q.hold()
	offer, err := pc.CreateOffer(&webrtc.OfferOptions{ICERestart: iceRestart})
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err != nil {
		q.release(p.sink, Subscriber, nil)
		p.room.sfu.log.Warn("subscriber offer failed", "participant", p.info.ID, "err", err)
		p.mu.Lock()
		p.negotiating = false
		p.mu.Unlock()
		return
	}
	tracks := map[string]string{}
	for _, tr := range pc.GetTransceivers() {
		if s := tr.Sender(); s != nil && s.Track() != nil && tr.Mid() != "" {
			tracks[tr.Mid()] = s.Track().ID()
		}
	}
	q.release(p.sink, Subscriber, SubscriberOffer{SDP: pc.LocalDescription().SDP, Tracks: tracks})
}

// requestKeyframes asks for a keyframe for every video track the participant waits to
// start receiving.
func (p *Participant) requestKeyframes() {
	p.mu.Lock()
	downs := make([]*downTrack, 0, len(p.downs))
	for _, d := range p.downs {
		downs = append(downs, d)
	}
	p.mu.Unlock()
	for _, d := range downs {
		d.keepWaiting()
	}
}

// sendReports sends a sender report for every track the participant receives that has had
// packets: receivers need them to align audio with video and to measure round-trip time.
func (p *Participant) sendReports(now time.Time) {
	p.mu.Lock()
	pc := p.sub
	reports := make([]rtcp.Packet, 0, len(p.downs))
	for _, d := range p.downs {
		if sr, ok := d.senderReport(now); ok {
			reports = append(reports, sr)
		}
	}
	p.mu.Unlock()
	if pc == nil || len(reports) == 0 || !p.subReady.Load() {
		return
	}
	// One compound packet per MTU's worth: a sender report without blocks is 28 bytes.
	const perPacket = 40
	for len(reports) > 0 {
		n := min(len(reports), perPacket)
		_ = pc.WriteRTCP(reports[:n])
		reports = reports[n:]
	}
}

// newID returns an unguessable identifier.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return strings.TrimRight(base64.RawURLEncoding.EncodeToString(b[:]), "=")
}
