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
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/webrtc/v4"
)

// Config sets how the SFU reaches the network.
type Config struct {
	// UDPPortMin and UDPPortMax bound the ports used for media; zero means any.
	UDPPortMin, UDPPortMax uint16
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
}

// New returns an SFU. metrics may be nil.
func New(cfg Config, log *slog.Logger, metrics *Metrics) *SFU {
	if cfg.InitialBitrate == 0 {
		cfg.InitialBitrate = 1_000_000
	}
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &SFU{cfg: cfg, log: log, metrics: metrics, rooms: map[string]*Room{}}
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

// Close ends every room.
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
}

// newPeerConnection builds a peer connection with the SFU's codecs, header extensions and
// interceptors: NACK generation and response (the responder keeps the packet cache that
// answers subscribers' NACKs), RTCP sender and receiver reports, transport-wide congestion
// control feedback for publishers and a send-side bandwidth estimate (GCC) per subscriber,
// reported to onEstimator.
func (s *SFU) newPeerConnection(onEstimator func(cc.BandwidthEstimator)) (*webrtc.PeerConnection, error) {
	m := &webrtc.MediaEngine{}
	if err := registerCodecs(m); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	ccFactory, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return gcc.NewSendSideBWE(
			gcc.SendSideBWEInitialBitrate(s.cfg.InitialBitrate),
			gcc.SendSideBWEPacer(gcc.NewNoOpPacer()),
		)
	})
	if err != nil {
		return nil, fmt.Errorf("congestion control: %w", err)
	}
	ccFactory.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) {
		if onEstimator != nil {
			onEstimator(e)
		}
	})
	reg.Add(ccFactory)
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, reg); err != nil {
		return nil, err
	}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, err
	}

	se := webrtc.SettingEngine{}
	if s.cfg.UDPPortMin != 0 || s.cfg.UDPPortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(s.cfg.UDPPortMin, s.cfg.UDPPortMax); err != nil {
			return nil, fmt.Errorf("udp port range: %w", err)
		}
	}
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
	se.SetICEMulticastDNSMode(0)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	return api.NewPeerConnection(webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan})
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
