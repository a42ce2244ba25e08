package signal

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/meridian-video/meridian/internal/admission"
	"github.com/meridian-video/meridian/internal/sfu"
	"github.com/meridian-video/meridian/internal/token"
)

const (
	// defaultJoinTimeout is how long a new connection may take to send its join.
	defaultJoinTimeout = 10 * time.Second
	// outboxSize is how many messages may wait for a slow client before it is dropped.
	outboxSize = 512
	// pingInterval keeps NAT bindings and proxies open and detects dead clients.
	pingInterval = 15 * time.Second
)

// Admitter decides who enters a room, on every way in (*admission.Gate).
type Admitter interface {
	Enter(ctx context.Context, req admission.Request) (*admission.Entry, error)
}

// entryTimeout bounds how long the Admitter may take to decide on a join.
const entryTimeout = 10 * time.Second

// Moderator is told of every host control a moderator uses, after the signalling layer
// checked their role, and applies what outlives the room: a removal is remembered, a lock
// refuses new joins, an end ends the meeting. An error refuses the action, and nothing
// changes in the room. The meeting layer is one; rooms outside meetings need none.
type Moderator interface {
	Moderate(ctx context.Context, m Moderation) error
}

// Moderation is one use of a host control.
type Moderation struct {
	Room string
	// Action is one of the Action constants.
	Action string
	// Actor and Subject are identities: who acted, and on whom ("" when on no one).
	Actor, Subject string
	Detail         string
}

// Moderation actions.
const (
	ActionAdmit    = "admit"
	ActionAdmitAll = "admit_all"
	ActionDeny     = "deny"
	ActionMute     = "mute"
	ActionMuteAll  = "mute_all"
	ActionRemove   = "remove"
	ActionLock     = "lock"
	ActionUnlock   = "unlock"
	ActionSetRole  = "set_role"
	ActionEnd      = "end"
)

// Handler serves the signalling WebSocket.
type Handler struct {
	// Admission verifies join tokens and lets participants into rooms.
	Admission Admitter
	// Moderator, if set, records host controls and applies their lasting effects.
	Moderator Moderator
	Log       *slog.Logger
	Now       func() time.Time
	// OriginPatterns are the browser origins allowed besides the server's own host.
	OriginPatterns []string
	// Origins, if set, gives more allowed origin hosts at each upgrade: the deployment's
	// nodes, whose pages send participants to whichever node carries their meeting.
	Origins func() []string
	// JoinTimeout is how long a connection may take to join; 10 s when zero.
	JoinTimeout time.Duration
}

// ServeHTTP upgrades the request and runs one participant's session until it ends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	patterns := h.OriginPatterns
	if h.Origins != nil {
		patterns = append(slices.Clip(patterns), h.Origins()...)
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: patterns})
	if err != nil {
		return
	}
	// Twice the message limit, so that a message somewhat too large gets a bad_message
	// error from Decode rather than a closed connection.
	conn.SetReadLimit(2 * MaxMessageSize)
	s := &session{
		h:       h,
		conn:    conn,
		outbox:  make(chan any, outboxSize),
		done:    make(chan struct{}),
		dropped: make(chan struct{}),
		limits:  newMessageLimits(),
		errs:    rate.NewLimiter(10, 20),
		log:     h.Log.With("remote", r.RemoteAddr),
	}
	s.run(r.Context())
}

// session is one client's signalling connection. States: awaiting join (only join, ping),
// joined (everything else), closed.
type session struct {
	h    *Handler
	conn *websocket.Conn
	log  *slog.Logger

	outbox    chan any
	done      chan struct{}
	closeOnce sync.Once
	reason    string // why the session ended; written once, before done is closed
	dropOnce  sync.Once
	dropped   chan struct{} // closed when the outbox overflowed

	limits *messageLimits
	errs   *rate.Limiter

	participant *sfu.Participant
	claims      *token.Claims
	joined      atomic.Bool
	// welcome is the joined message without the room's snapshot, ready before the SFU can
	// admit the participant from the waiting room.
	welcome joinedMsg
}

func (s *session) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The writer always closes the connection as it ends, which also ends the reader.
		s.writeLoop(ctx)
	}()

	reason := s.readLoop(ctx)
	s.endWith(reason)
	if s.participant != nil {
		s.participant.Close("")
	}
	wg.Wait()
	s.conn.CloseNow()
}

// endWith ends the session: the writer sends what is queued, then closes the connection
// with the first reason given.
func (s *session) endWith(reason string) {
	s.closeOnce.Do(func() {
		s.reason = reason
		close(s.done)
	})
}

// Send implements sfu.Sink. It never blocks: a client that cannot keep up is dropped
// rather than allowed to hold up the room.
func (s *session) Send(ev sfu.Event) {
	var msg any
	if a, ok := ev.(sfu.Admitted); ok {
		msg = s.joinedMessage(a.Snapshot)
	} else {
		msg = eventMessage(ev)
	}
	if msg == nil {
		return
	}
	select {
	case <-s.done:
	case s.outbox <- msg:
	default:
		s.dropOnce.Do(func() { close(s.dropped) })
	}
}

func (s *session) writeLoop(ctx context.Context) {
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	for {
		select {
		case <-s.done:
			s.flush(ctx)
			s.conn.Close(websocket.StatusNormalClosure, s.reason)
			return
		case <-s.dropped:
			s.write(ctx, errorMessage(CodeSlowConsumer, "too many messages are waiting; reconnect"))
			s.conn.Close(websocket.StatusPolicyViolation, CodeSlowConsumer)
			return
		case msg := <-s.outbox:
			if err := s.write(ctx, msg); err != nil {
				s.conn.CloseNow()
				return
			}
			if c, ok := msg.(closedMsg); ok {
				s.conn.Close(websocket.StatusNormalClosure, c.Reason)
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, pingInterval)
			err := s.conn.Ping(pctx)
			cancel()
			if err != nil {
				s.conn.CloseNow()
				return
			}
		}
	}
}

// flush writes what is already queued, such as a final error, before closing.
func (s *session) flush(ctx context.Context) {
	for {
		select {
		case msg := <-s.outbox:
			if s.write(ctx, msg) != nil {
				return
			}
		default:
			return
		}
	}
}

func (s *session) write(ctx context.Context, msg any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return s.conn.Write(wctx, websocket.MessageText, b)
}

func (s *session) queue(msg any) {
	select {
	case s.outbox <- msg:
	default:
		s.dropOnce.Do(func() { close(s.dropped) })
	}
}

func (s *session) fail(err error) {
	code, msg := errorCode(err)
	if code == CodeInternal {
		s.log.Error("signalling request failed", "err", err)
	}
	s.queue(errorMessage(code, msg))
}

// readLoop handles client messages until the client leaves or misbehaves, and returns the
// close reason.
func (s *session) readLoop(ctx context.Context) string {
	// A connection that never joins is told why before it is closed.
	joinTimer := time.AfterFunc(s.h.joinTimeout(), func() {
		if !s.joined.Load() {
			s.queue(errorMessage(CodeJoinTimeout, "no join message in time; send join first"))
			s.endWith(CodeJoinTimeout)
		}
	})
	defer joinTimer.Stop()
	for {
		_, data, err := s.conn.Read(ctx)
		if err != nil {
			return "read ended"
		}
		req, err := Decode(data)
		if err == nil && req.Type == TypeLeave {
			return "left"
		}
		if err == nil {
			err = s.handle(req)
		}
		if err == nil {
			continue
		}
		var pe *ProtocolError
		if errors.As(err, &pe) && (pe.Code == CodeTokenInvalid || pe.Code == CodeTokenExpired) {
			s.fail(err)
			return pe.Code
		}
		if !s.errs.Allow() {
			s.queue(errorMessage(CodeRateLimited, "too many failed requests; disconnecting"))
			return CodeRateLimited
		}
		s.fail(err)
	}
}

func (h *Handler) joinTimeout() time.Duration {
	if h.JoinTimeout > 0 {
		return h.JoinTimeout
	}
	return defaultJoinTimeout
}

func (s *session) handle(req *Request) error {
	if !s.limits.allow(req.Type) {
		return &ProtocolError{Code: CodeRateLimited, Message: "too many " + req.Type + " messages; slow down"}
	}
	if req.Type == TypePing {
		s.queue(pongMsg{Type: "pong"})
		return nil
	}
	if req.Type == TypeJoin {
		return s.join(req.Token)
	}
	p := s.participant
	if p == nil {
		return &ProtocolError{Code: CodeNotJoined, Message: "send join first"}
	}
	if p.Held() {
		return &ProtocolError{Code: CodeWaiting, Message: "you are in the waiting room; the host will let you in"}
	}
	switch req.Type {
	case TypeOffer:
		// The answer reaches the client as an event, ahead of its candidates.
		_, err := p.HandlePublisherOffer(req.SDP)
		return sfuError(err)
	case TypeAnswer:
		return sfuError(p.HandleSubscriberAnswer(req.SDP))
	case TypeCandidate:
		return sfuError(p.AddICECandidate(sfu.Target(req.Target), *req.Candidate))
	case TypeRestartICE:
		return sfuError(p.RestartSubscriberICE())
	case TypeSources:
		p.DeclareSources(req.Sources)
	case TypeVideoPref:
		return sfuError(p.SetVideoPreference(req.TrackID, req.MaxHeight))
	case TypeChat:
		return sfuError(p.Room().Chat(p.Info(), req.Text, s.h.now()))
	default:
		return s.moderate(req)
	}
	return nil
}

func (s *session) join(tok string) error {
	if s.participant != nil {
		return &ProtocolError{Code: CodeAlreadyJoined, Message: "this connection has already joined"}
	}
	// The joined message must precede any event the SFU sends once the participant exists,
	// so the sink holds events back until it is queued.
	gate := &joinGate{s: s}
	ctx, cancel := context.WithTimeout(context.Background(), entryTimeout)
	defer cancel()
	e, err := s.h.Admission.Enter(ctx, admission.Request{Path: admission.PathSignal, Token: tok, ID: newSessionID(), Sink: gate})
	if ae := (*admission.Error)(nil); errors.As(err, &ae) {
		return &ProtocolError{Code: ae.Code, Message: ae.Message}
	}
	if err != nil {
		return err
	}
	claims, p, snap := e.Claims, e.Participant, e.Snapshot
	s.participant, s.claims = p, claims
	s.welcome = joinedMsg{Type: "joined", Room: claims.Room,
		Grants: grantsMsg{Publish: claims.Publish, Subscribe: claims.Subscribe, Host: claims.Host}}
	s.joined.Store(true)
	info := p.Info()
	s.log = s.log.With("room", claims.Room, "participant", info.ID)
	if snap.Held {
		gate.open(waitingMsg{Type: "waiting"})
		s.log.Info("waiting to be admitted", "identity", claims.Identity)
		return nil
	}
	gate.open(s.joinedMessage(snap))
	s.log.Info("joined", "identity", claims.Identity, "role", info.Role)
	return nil
}

func (s *session) joinedMessage(snap sfu.Snapshot) joinedMsg {
	m := s.welcome
	m.Participant = s.participant.Info()
	m.Participants, m.Tracks, m.Waiting, m.Locked = snap.Participants, snap.Tracks, snap.Waiting, snap.Locked
	return m
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// sfuError maps SFU errors to protocol errors.
func sfuError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sfu.ErrNotAllowed):
		return &ProtocolError{Code: CodeNotAllowed, Message: "your grants do not allow this"}
	case errors.Is(err, sfu.ErrBadSDP):
		return &ProtocolError{Code: CodeBadSDP, Message: err.Error()}
	case errors.Is(err, sfu.ErrBadCandidate):
		return &ProtocolError{Code: CodeBadCandidate, Message: err.Error()}
	case errors.Is(err, sfu.ErrBadChat):
		return &ProtocolError{Code: CodeBadChat, Message: "chat text must be 1 to 4096 bytes of UTF-8"}
	case errors.Is(err, sfu.ErrUnknownTrack):
		return &ProtocolError{Code: CodeUnknownTrack, Message: "no such track"}
	case errors.Is(err, sfu.ErrNoNegotiation):
		return &ProtocolError{Code: CodeNoNegotiation, Message: "nothing to answer or no connection for this target"}
	case errors.Is(err, sfu.ErrClosed):
		return &ProtocolError{Code: CodeRoomClosed, Message: "the session has ended"}
	case errors.Is(err, sfu.ErrHeld):
		return &ProtocolError{Code: CodeWaiting, Message: "you are in the waiting room; the host will let you in"}
	case errors.Is(err, sfu.ErrNotModerator):
		return &ProtocolError{Code: CodeNotHost, Message: "only a host or co-host can do this"}
	case errors.Is(err, sfu.ErrNotHost):
		return &ProtocolError{Code: CodeNotHost, Message: "only the host can do this"}
	case errors.Is(err, sfu.ErrUnknownParticipant):
		return &ProtocolError{Code: CodeUnknownPeer, Message: "no such participant here"}
	case errors.Is(err, sfu.ErrBadSource):
		return &ProtocolError{Code: CodeBadMessage, Message: "source must be microphone, camera, screen or screen_audio"}
	}
	return err
}
