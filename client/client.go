// Package client is Meridian's Go SDK: it joins a room over the signalling WebSocket,
// publishes tracks (synthetic media, or IVF and Ogg files), subscribes to everyone else's,
// and keeps statistics. Tests, bots and the load tool use it.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// Options configure a client.
type Options struct {
	// URL is the server's base URL (http://host:port) or its signalling URL (ws://host:port/ws).
	URL string
	// Token is a join token for the room.
	Token string
	// LoopbackOnly gathers ICE candidates on loopback only (tests on one machine).
	LoopbackOnly bool
	// Net, when set, is the network the client's ICE uses: tests pass one that drops or
	// delays packets, or one inside a network namespace.
	Net transport.Net
	// HTTPClient, when set, opens the signalling WebSocket (its Transport's dialer, TLS
	// settings and proxy); nil is http.DefaultClient.
	HTTPClient *http.Client
	// OnTrack is called for every remote track received.
	OnTrack func(*RemoteTrack)
	// OnChat is called for every chat message, including the client's own.
	OnChat func(Chat)
	// OnSpeakers is called when the set of active speakers changes, loudest first.
	OnSpeakers func([]SpeakerLevel)
	// OnEvent is called for every change in the room the server tells of (see Event).
	OnEvent func(Event)
	// Log receives debug output; nil discards it.
	Log *slog.Logger
}

// Participant is another member of the room.
type Participant struct {
	ID       string `json:"id"`
	Identity string `json:"identity"`
	Name     string `json:"name"`
	// Role is "host", "cohost" or "".
	Role string `json:"role"`
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

// Chat is a chat message.
type Chat struct {
	From Participant `json:"from"`
	Text string      `json:"text"`
	At   time.Time   `json:"at"`
}

// SpeakerLevel is a participant's recent loudness, 0 (silence) to 1.
type SpeakerLevel struct {
	ParticipantID string  `json:"participantId"`
	Level         float64 `json:"level"`
}

// audioLevelURI is the RTP header extension carrying a packet's audio level (RFC 6464).
const audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// Error is an error the server reported, with its stable code.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return "meridian: " + e.Code + ": " + e.Message }

// message is any signalling message, both directions.
type message struct {
	Type          string                   `json:"type"`
	Token         string                   `json:"token,omitempty"`
	Target        string                   `json:"target,omitempty"`
	SDP           string                   `json:"sdp,omitempty"`
	Tracks        json.RawMessage          `json:"tracks,omitempty"`
	Candidate     *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	Sources       map[string]string        `json:"sources,omitempty"`
	TrackID       string                   `json:"trackId,omitempty"`
	MaxHeight     int                      `json:"maxHeight,omitempty"`
	Text          string                   `json:"text,omitempty"`
	Code          string                   `json:"code,omitempty"`
	Message       string                   `json:"message,omitempty"`
	Reason        string                   `json:"reason,omitempty"`
	Participant   *Participant             `json:"participant,omitempty"`
	Participants  []Participant            `json:"participants,omitempty"`
	ParticipantID string                   `json:"participantId,omitempty"`
	Track         *TrackInfo               `json:"track,omitempty"`
	From          *Participant             `json:"from,omitempty"`
	At            time.Time                `json:"at,omitzero"`
	Speakers      []SpeakerLevel           `json:"speakers,omitempty"`
	Source        string                   `json:"source,omitempty"`
	Muted         *bool                    `json:"muted,omitempty"`
	Locked        *bool                    `json:"locked,omitempty"`
	Role          *string                  `json:"role,omitempty"`
	Waiting       []Participant            `json:"waiting,omitempty"`
	By            *Participant             `json:"by,omitempty"`
}

// Client is a participant connected to a room.
type Client struct {
	opts    Options
	conn    *websocket.Conn
	log     *slog.Logger
	joined  time.Time
	self    Participant
	ctx     context.Context
	cancel  context.CancelFunc
	writeMu sync.Mutex
	// pubDescMu and subDescMu keep each connection's trickled candidates behind the
	// description (publisher offer, subscriber answer) they belong to.
	pubDescMu, subDescMu sync.Mutex

	mu          sync.Mutex
	pub, sub    *webrtc.PeerConnection
	pubAnswer   chan error        // how applying the server's publisher answer went
	midTracks   map[string]string // subscriber mid -> published track id
	trackInfo   map[string]TrackInfo
	remotes     []*RemoteTrack
	errs        chan *Error
	admitted    chan struct{} // closed once the client is in the room, not its waiting room
	closed      chan struct{}
	closeReason string
	closeOnce   sync.Once
	wg          sync.WaitGroup
}

// Join connects to the server and enters the room named in the token.
func Join(ctx context.Context, opts Options) (*Client, error) {
	start := time.Now()
	wsURL, err := signalURL(opts.URL)
	if err != nil {
		return nil, err
	}
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: opts.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", wsURL, err)
	}
	conn.SetReadLimit(1 << 20)
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		opts: opts, conn: conn, log: log, joined: start, ctx: cctx, cancel: cancel,
		pubAnswer: make(chan error, 1),
		midTracks: map[string]string{},
		trackInfo: map[string]TrackInfo{},
		errs:      make(chan *Error, 16),
		admitted:  make(chan struct{}),
		closed:    make(chan struct{}),
	}
	if err := c.send(message{Type: "join", Token: opts.Token}); err != nil {
		conn.CloseNow()
		cancel()
		return nil, err
	}
	for {
		var m message
		if err := c.read(ctx, &m); err != nil {
			conn.CloseNow()
			cancel()
			return nil, err
		}
		if m.Type == "error" {
			conn.Close(websocket.StatusNormalClosure, "")
			cancel()
			return nil, &Error{Code: m.Code, Message: m.Message}
		}
		if m.Type == "joined" && m.Participant != nil {
			c.onJoined(m)
			break
		}
		if m.Type == "waiting" {
			break
		}
	}
	c.wg.Add(1)
	go c.readLoop()
	return c, nil
}

func signalURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("server url: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("server url %q: want http(s) or ws(s)", base)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/ws"
	}
	return u.String(), nil
}

// onJoined records the room as the joined message describes it.
func (c *Client) onJoined(m message) {
	var tracks []TrackInfo
	if len(m.Tracks) > 0 {
		_ = json.Unmarshal(m.Tracks, &tracks)
	}
	c.mu.Lock()
	c.self = *m.Participant
	for _, t := range tracks {
		c.trackInfo[t.ID] = t
	}
	c.mu.Unlock()
	close(c.admitted)
}

// Self is this client's participant record.
func (c *Client) Self() Participant {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.self
}

// Admitted is closed once the client is in the room. Join returns before that when the
// server holds the client in the waiting room; until a host admits it, it may only leave.
func (c *Client) Admitted() <-chan struct{} { return c.admitted }

// Done is closed when the session ends.
func (c *Client) Done() <-chan struct{} { return c.closed }

// CloseReason tells why the server ended the session, if it did.
func (c *Client) CloseReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeReason
}

// closedError tells that the session has ended, and why if the server said.
func (c *Client) closedError() error {
	if r := c.CloseReason(); r != "" {
		return fmt.Errorf("client: session closed: %s", r)
	}
	return errors.New("client: session closed")
}

// Errors delivers errors the server reports after joining.
func (c *Client) Errors() <-chan *Error { return c.errs }

func (c *Client) send(m message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.sendRaw(b)
}

// sendRaw writes one text frame; tests use it to send malformed messages.
func (c *Client) sendRaw(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, b)
}

func (c *Client) read(ctx context.Context, m *message) error {
	_, data, err := c.conn.Read(ctx)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, m)
}

func (c *Client) readLoop() {
	defer c.wg.Done()
	defer c.shutdown("")
	for {
		var m message
		if err := c.read(c.ctx, &m); err != nil {
			if !errors.Is(err, context.Canceled) {
				c.log.Debug("signalling ended", "err", err)
			}
			return
		}
		if err := c.handle(m); err != nil {
			c.log.Debug("signalling message failed", "type", m.Type, "err", err)
		}
		if m.Type == "closed" {
			c.mu.Lock()
			c.closeReason = m.Reason
			c.mu.Unlock()
			return
		}
	}
}

func (c *Client) handle(m message) error {
	switch m.Type {
	case "answer":
		// Applied here rather than by the waiting negotiatePublisher, so that the
		// candidates that follow the answer on the wire are added after it, to the ICE
		// generation it describes; added before it, they would be dropped.
		err := c.onPublisherAnswer(m)
		select {
		case c.pubAnswer <- err:
		default:
		}
		if err != nil {
			return err
		}
	case "offer":
		return c.onSubscriberOffer(m)
	case "candidate":
		c.mu.Lock()
		pc := c.pub
		if m.Target == "subscriber" {
			pc = c.sub
		}
		c.mu.Unlock()
		if pc != nil && m.Candidate != nil {
			return pc.AddICECandidate(*m.Candidate)
		}
	case "trackPublished":
		if m.Track != nil {
			c.mu.Lock()
			c.trackInfo[m.Track.ID] = *m.Track
			c.mu.Unlock()
		}
	case "chat":
		if c.opts.OnChat != nil && m.From != nil {
			c.opts.OnChat(Chat{From: *m.From, Text: m.Text, At: m.At})
		}
	case "speakers":
		if c.opts.OnSpeakers != nil {
			c.opts.OnSpeakers(m.Speakers)
		}
	case "joined":
		select {
		case <-c.admitted:
		default:
			if m.Participant != nil {
				c.onJoined(m)
			}
		}
	case "error":
		select {
		case c.errs <- &Error{Code: m.Code, Message: m.Message}:
		default:
		}
	}
	if c.opts.OnEvent != nil {
		if ev, ok := eventOf(m); ok {
			c.opts.OnEvent(ev)
		}
	}
	return nil
}

// newPeerConnection builds a connection with the client's network options.
func (c *Client) newPeerConnection() (*webrtc.PeerConnection, error) {
	return newPeerConnection(c.opts.LoopbackOnly, c.opts.Net)
}

// newPeerConnection builds a connection with pion's default codecs, the interceptors a
// browser's receiver has (NACK, RTCP reports, TWCC feedback) and the audio level and simulcast
// header extensions. pion's stats interceptor, which RegisterDefaultInterceptors would add, is
// left out: the client keeps its own counters and never calls GetStats, and the interceptor
// cost the load tool 6 % of its CPU, stamping every packet in and out.
func newPeerConnection(loopbackOnly bool, network transport.Net) (*webrtc.PeerConnection, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: audioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	if loopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	if network != nil {
		se.SetNet(network)
	}
	// The SFU never offers .local candidates; without mDNS the client joins no multicast group.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureNack(m, reg); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
		return nil, err
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	return api.NewPeerConnection(webrtc.Configuration{})
}

func (c *Client) onCandidate(target string) func(*webrtc.ICECandidate) {
	return func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		mu := &c.subDescMu
		if target == "publisher" {
			mu = &c.pubDescMu
		}
		mu.Lock()
		defer mu.Unlock()
		init := cand.ToJSON()
		_ = c.send(message{Type: "candidate", Target: target, Candidate: &init})
	}
}

// onPublisherAnswer applies the server's answer to the publisher connection.
func (c *Client) onPublisherAnswer(m message) error {
	c.mu.Lock()
	pc := c.pub
	c.mu.Unlock()
	if pc == nil {
		return errors.New("client: answer without a publisher connection")
	}
	return pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
}

func (c *Client) onSubscriberOffer(m message) error {
	var tracks map[string]string
	if len(m.Tracks) > 0 {
		_ = json.Unmarshal(m.Tracks, &tracks)
	}
	c.mu.Lock()
	for mid, id := range tracks {
		c.midTracks[mid] = id
	}
	pc := c.sub
	if pc == nil {
		var err error
		pc, err = c.newPeerConnection()
		if err != nil {
			c.mu.Unlock()
			return err
		}
		pc.OnICECandidate(c.onCandidate("subscriber"))
		pc.OnTrack(c.onTrack)
		c.sub = pc
	}
	c.mu.Unlock()
	// Candidates wait from before the offer is applied: an offer with new ICE credentials
	// makes pion restart ICE inside SetRemoteDescription and gather the new generation's
	// candidates at once. The SFU applies a candidate against the answer it has, so one
	// sent ahead of the answer it belongs to is dropped there.
	c.subDescMu.Lock()
	defer c.subDescMu.Unlock()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
		return err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		return err
	}
	return c.send(message{Type: "answer", Target: "subscriber", SDP: answer.SDP})
}

// Chat sends a chat message to the room.
func (c *Client) Chat(text string) error { return c.send(message{Type: "chat", Text: text}) }

// SetVideoPreference asks for no larger simulcast layer than maxHeight for a track.
func (c *Client) SetVideoPreference(trackID string, maxHeight int) error {
	return c.send(message{Type: "videoPreference", TrackID: trackID, MaxHeight: maxHeight})
}

// RestartICE restarts ICE on the connections the client has, as after a change of network.
// The subscriber connection's restart completes after RestartICE returns, when the server's
// new offer arrives.
func (c *Client) RestartICE(ctx context.Context) error {
	c.mu.Lock()
	hasPub, hasSub := c.pub != nil, c.sub != nil
	c.mu.Unlock()
	if hasPub {
		if err := c.negotiatePublisher(ctx, true); err != nil {
			return err
		}
	}
	if !hasSub {
		// The server would refuse with no_negotiation, and the next publisher
		// negotiation would take that error for its own.
		return nil
	}
	return c.send(message{Type: "restartIce"})
}

// Close leaves the room.
func (c *Client) Close() error {
	_ = c.send(message{Type: "leave"})
	c.shutdown("")
	c.wg.Wait()
	return nil
}

func (c *Client) shutdown(reason string) {
	c.closeOnce.Do(func() {
		c.cancel()
		c.conn.Close(websocket.StatusNormalClosure, reason)
		c.mu.Lock()
		pub, sub := c.pub, c.sub
		c.mu.Unlock()
		if pub != nil {
			_ = pub.Close()
		}
		if sub != nil {
			_ = sub.Close()
		}
		close(c.closed)
	})
}

// ConnectionStates reports the publisher and subscriber connection states.
func (c *Client) ConnectionStates() (pub, sub webrtc.PeerConnectionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pub, sub = webrtc.PeerConnectionStateNew, webrtc.PeerConnectionStateNew
	if c.pub != nil {
		pub = c.pub.ConnectionState()
	}
	if c.sub != nil {
		sub = c.sub.ConnectionState()
	}
	return pub, sub
}

// LocalUfrags returns the ICE username fragments of the publisher and subscriber
// connections' current local descriptions ("" where there is none); an ICE restart changes
// them.
func (c *Client) LocalUfrags() (pub, sub string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ufrag(c.pub), ufrag(c.sub)
}

func ufrag(pc *webrtc.PeerConnection) string {
	if pc == nil || pc.CurrentLocalDescription() == nil {
		return ""
	}
	for _, line := range strings.Split(pc.CurrentLocalDescription().SDP, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}

// SendRaw sends an arbitrary text frame on the signalling connection. It exists to test a
// server's handling of malformed input.
func (c *Client) SendRaw(b []byte) error { return c.sendRaw(b) }

// requestKeyframe asks the server for a keyframe of the video stream it sends as ssrc.
func (c *Client) requestKeyframe(ssrc uint32) {
	c.mu.Lock()
	pc := c.sub
	c.mu.Unlock()
	if pc != nil {
		_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	}
}
