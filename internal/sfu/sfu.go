// Package sfu forwards media between the participants of rooms: it terminates WebRTC
// peer connections, receives each published track once and writes it to every subscriber
// without decoding, answering NACKs from a packet cache, relaying keyframe requests,
// selecting simulcast layers per subscriber bandwidth and detecting the active speaker.
//
// The SFU knows rooms, participants and tracks only: who may join which room, and why, is
// decided before it is called.
package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Config sets how the SFU reaches the network.
type Config struct {
	// UDPPort is the UDP port every peer connection shares (see openUDPMux); zero means
	// one the kernel picks.
	UDPPort uint16
	// LoopbackOnly gathers ICE candidates on loopback interfaces only: for a server bound to
	// 127.0.0.1 and for tests, which must send nothing to the machine's other addresses.
	LoopbackOnly bool
	// IPFilter, when set, keeps only the local addresses it accepts as ICE candidates.
	IPFilter func(net.IP) bool
	// PublicIPs are announced as host candidates in place of local ones (a server behind
	// 1:1 NAT).
	PublicIPs []string
	// InitialBitrate is the bandwidth a subscriber is assumed to have before the estimate
	// converges, bits per second.
	InitialBitrate int
}

// ErrClosed is returned for operations on a closed room or participant.
var ErrClosed = errors.New("sfu: closed")

// SFU owns the live rooms of this node.
type SFU struct {
	cfg     Config
	log     *slog.Logger
	metrics *Metrics

	mu    sync.Mutex
	rooms map[string]*Room

	muxMu     sync.Mutex
	mux       ice.UDPMux // opened on first use; see udpMux
	muxClosed bool
	sendConns atomic.Pointer[[]*batchConn] // the mux's sockets, for holdSends

	// directIn finds the direct path of the subscriber at a remote address, for the RTCP
	// the media sockets read (see takeRTCP).
	directMu sync.RWMutex
	directIn map[netip.AddrPort]*directPath
}

// New returns an SFU. metrics may be nil.
func New(cfg Config, log *slog.Logger, metrics *Metrics) *SFU {
	if cfg.InitialBitrate == 0 {
		cfg.InitialBitrate = 1_000_000
	}
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &SFU{cfg: cfg, log: log, metrics: metrics, rooms: map[string]*Room{}, directIn: map[netip.AddrPort]*directPath{}}
}

// Room returns the live room with the given name, creating it on first use.
func (s *SFU) Room(name string) *Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[name]
	if !ok {
		r = newRoom(s, name)
		s.rooms[name] = r
		s.metrics.Rooms.Inc()
	}
	return r
}

// LookupRoom returns the live room with the given name, if any.
func (s *SFU) LookupRoom(name string) (*Room, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[name]
	return r, ok
}

// removeRoom forgets a room once its last participant has left.
func (s *SFU) removeRoom(r *Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.name] == r {
		delete(s.rooms, r.name)
		s.metrics.Rooms.Dec()
	}
}

// Close ends every room and closes the media sockets; the SFU takes no new connection
// afterwards.
func (s *SFU) Close() {
	s.mu.Lock()
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.Close("room closed")
	}
	s.closeUDPMux()
}

// newPublisherConnection builds the connection a participant publishes on: the SFU
// receives, so it generates NACKs, sends receiver reports and TWCC feedback.
func (s *SFU) newPublisherConnection() (*webrtc.PeerConnection, error) {
	return s.newPeerConnection(publisherInterceptors, nil)
}

// newSubscriberConnection builds the connection a participant subscribes on. It has no
// interceptors: what a sending connection needs (transport-wide sequence numbers, the
// bandwidth estimate, NACK answers from a packet cache, sender reports) the downTracks do
// themselves, once per packet per subscriber and without pion's per-packet maps and copies.
//
// The returned secrets learn, during the DTLS handshake, what the connection's direct SRTP
// send path needs (see startDirectPath). offer is the client's offer the connection is
// built to answer, or "" if the SFU offers.
func (s *SFU) newSubscriberConnection(offer string) (*webrtc.PeerConnection, *dtlsSecrets, error) {
	secrets := &dtlsSecrets{answer: offer}
	pc, err := s.newPeerConnection(func(m *webrtc.MediaEngine, _ *interceptor.Registry) error {
		for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
				return fmt.Errorf("twcc header extension: %w", err)
			}
		}
		return nil
	}, secrets.configure)
	return pc, secrets, err
}

// newPeerConnection builds a peer connection with the SFU's codecs, header extensions and
// network settings, and the interceptors its direction needs; settings, if not nil, adds
// to the connection's settings.
func (s *SFU) newPeerConnection(
	interceptors func(*webrtc.MediaEngine, *interceptor.Registry) error,
	settings func(*webrtc.SettingEngine) error,
) (*webrtc.PeerConnection, error) {
	m := &webrtc.MediaEngine{}
	if err := registerCodecs(m); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := interceptors(m, reg); err != nil {
		return nil, err
	}

	se := webrtc.SettingEngine{}
	mux, err := s.udpMux()
	if err != nil {
		return nil, err
	}
	se.SetICEUDPMux(mux)
	if s.cfg.LoopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	} else if s.cfg.IPFilter != nil {
		se.SetIPFilter(s.cfg.IPFilter)
	}
	if len(s.cfg.PublicIPs) > 0 {
		se.SetNAT1To1IPs(s.cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	// Remote mDNS names are not resolved: a server cannot count on reaching a client's
	// local network's multicast, a browser that hides its addresses is reached by the
	// peer-reflexive candidate its checks reveal, and a selected pair always names an
	// address (which the direct path sends to).
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if settings != nil {
		if err := settings(&se); err != nil {
			return nil, err
		}
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	return api.NewPeerConnection(webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan})
}

// publisherInterceptors are what a connection the SFU receives on needs: NACK generation
// (the SFU asks its publishers for lost packets), RTCP receiver reports and transport-wide
// congestion control feedback, from which the publisher estimates its uplink.
func publisherInterceptors(m *webrtc.MediaEngine, reg *interceptor.Registry) error {
	generator, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return fmt.Errorf("nack generator: %w", err)
	}
	reg.Add(generator)
	receiver, err := report.NewReceiverInterceptor()
	if err != nil {
		return fmt.Errorf("receiver reports: %w", err)
	}
	reg.Add(receiver)
	if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
		return fmt.Errorf("twcc feedback: %w", err)
	}
	return nil
}

// Header extensions the SFU reads from publishers: the audio level (active speaker) and the
// simulcast stream identifiers.
const audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

func registerCodecs(m *webrtc.MediaEngine) error {
	fb := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "transport-cc"}, {Type: "ccm", Parameter: "fir"},
		{Type: "nack"}, {Type: "nack", Parameter: "pli"},
	}
	codecs := []struct {
		params webrtc.RTPCodecParameters
		kind   webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0", RTCPFeedback: fb}, PayloadType: 98}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: fb}, PayloadType: 102}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", RTCPFeedback: fb}, PayloadType: 104}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 45}, webrtc.RTPCodecTypeVideo},
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.params, c.kind); err != nil {
			return fmt.Errorf("register codec %s: %w", c.params.MimeType, err)
		}
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: audioLevelURI}, webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverDirectionRecvonly); err != nil {
		return err
	}
	return webrtc.ConfigureSimulcastExtensionHeaders(m)
}

// Seated is how many are in the SFU's rooms, waiting rooms included: the node's load.
func (s *SFU) Seated() int {
	s.mu.Lock()
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	n := 0
	for _, r := range rooms {
		n += r.Occupancy()
	}
	return n
}
