package sfu

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// The SFU encrypts and sends what it forwards to a subscriber itself, on a "direct path",
// instead of through pion's SRTP session, DTLS/SRTP mux and ICE connection. Those layers
// cost about twice the encryption itself per packet per subscriber (locks, a map lookup
// per packet, a channel poll on every write, the mux's address registry, copies): in a
// fan-out profile, a fifth of the node's CPU. Likewise, the RTCP a subscriber sends (feedback,
// NACKs, keyframe requests) is opened and acted on as the media socket reads it, instead
// of passing through four of pion's goroutines and one of the SFU's per track.
//
// pion does not expose a connection's SRTP keys, so they are derived here as pion derives
// them (RFC 5764 section 4.2: the TLS exporter over the DTLS master secret and both hello
// randoms) from what its DTLS handshake hands out: the master secret through the key log
// writer (kept in memory, never written anywhere) and the server's hello through the
// server hello hook. The hook sees only a hello the node sends, so the direct path needs
// the node to be the DTLS server, which subscriber connections arrange (see
// newSubscriberConnection). Where anything is missing (the node was the DTLS client, a
// cipher suite this file does not know), the connection goes through pion as before.
//
// pion keeps everything else on the connection: ICE checks and consent, DTLS, the SRTCP
// the SFU sends, and the RTCP the direct path does not take (from an address the
// connection had before an ICE restart, or before the path started), which the
// downTracks' rtcpLoops handle.

// dtlsSecrets records, during a subscriber connection's DTLS handshake, what its SRTP keys
// are derived from.
type dtlsSecrets struct {
	// answer is the offer the connection answers first, if the client offers.
	answer string

	mu           sync.Mutex
	clientRandom []byte
	masterSecret []byte
	serverRandom []byte
	suite        dtls.CipherSuiteID
	profile      srtp.ProtectionProfile
}

// configure makes the handshakes of connections built with se report to s, and makes the
// node the DTLS server when it answers an offer that leaves the choice to it.
func (s *dtlsSecrets) configure(se *webrtc.SettingEngine) error {
	se.SetDTLSKeyLogWriter(s)
	se.SetDTLSServerHelloMessageHook(s.serverHello)
	// pion answers with the role set here whatever the offer says, so it is set only for
	// an offer the server's role suits: never for one that takes that role itself.
	if s.answer != "" && !offersDTLSRole(s.answer, "passive") {
		if err := se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
			return fmt.Errorf("dtls role: %w", err)
		}
	}
	return nil
}

// offersDTLSRole reports whether a session description's a=setup attribute is role.
func offersDTLSRole(desc, role string) bool {
	for line := range strings.Lines(desc) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=setup:"); ok && v == role {
			return true
		}
	}
	return false
}

// Write takes a key log line, "CLIENT_RANDOM <client random> <master secret>" in hex
// (pion writes each line with one call).
func (s *dtlsSecrets) Write(line []byte) (int, error) {
	fields := bytes.Fields(line)
	if len(fields) != 3 || string(fields[0]) != "CLIENT_RANDOM" {
		return len(line), nil
	}
	random, err1 := hex.DecodeString(string(fields[1]))
	secret, err2 := hex.DecodeString(string(fields[2]))
	if err1 != nil || err2 != nil {
		return len(line), nil
	}
	s.mu.Lock()
	s.clientRandom, s.masterSecret = random, secret
	s.mu.Unlock()
	return len(line), nil
}

// serverHello notes the node's server hello on its way out, unchanged.
func (s *dtlsSecrets) serverHello(m handshake.MessageServerHello) handshake.Message {
	random := m.Random.MarshalFixed()
	s.mu.Lock()
	s.serverRandom = random[:]
	s.suite, s.profile = 0, 0
	if m.CipherSuiteID != nil {
		s.suite = dtls.CipherSuiteID(*m.CipherSuiteID)
	}
	for _, e := range m.Extensions {
		if u, ok := e.(*extension.UseSRTP); ok && len(u.ProtectionProfiles) == 1 {
			s.profile = srtp.ProtectionProfile(u.ProtectionProfiles[0])
		}
	}
	s.mu.Unlock()
	return &m
}

// errNoDirectPath is wrapped by why a connection cannot send on the direct path.
var errNoDirectPath = errors.New("sfu: no direct SRTP path")

// srtpKeys are an SRTP master key and salt on one connection.
type srtpKeys struct {
	key, salt []byte
	profile   srtp.ProtectionProfile
}

// sessionKeys derives the keys the node sends and receives with (it was the DTLS server)
// from the completed handshake, then forgets the master secret.
func (s *dtlsSecrets) sessionKeys() (send, recv srtpKeys, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		clear(s.masterSecret)
		s.masterSecret = nil
	}()
	if s.masterSecret == nil || s.serverRandom == nil {
		return srtpKeys{}, srtpKeys{}, fmt.Errorf("%w: the node was not the DTLS server", errNoDirectPath)
	}
	hashFunc, err := prfHash(s.suite)
	if err != nil {
		return srtpKeys{}, srtpKeys{}, err
	}
	cfg := srtp.Config{Profile: s.profile}
	exp := exporter{secret: s.masterSecret, randoms: append(append([]byte{}, s.clientRandom...), s.serverRandom...), hash: hashFunc}
	if err := cfg.ExtractSessionKeysFromDTLS(exp, false); err != nil {
		return srtpKeys{}, srtpKeys{}, fmt.Errorf("%w: %v", errNoDirectPath, err)
	}
	send = srtpKeys{key: cfg.Keys.LocalMasterKey, salt: cfg.Keys.LocalMasterSalt, profile: s.profile}
	recv = srtpKeys{key: cfg.Keys.RemoteMasterKey, salt: cfg.Keys.RemoteMasterSalt, profile: s.profile}
	return send, recv, nil
}

// prfHash is the hash of the TLS 1.2 PRF for a cipher suite pion's DTLS may negotiate.
func prfHash(suite dtls.CipherSuiteID) (func() hash.Hash, error) {
	switch suite {
	case dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return sha512.New384, nil
	case dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, dtls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, dtls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return sha256.New, nil
	}
	return nil, fmt.Errorf("%w: cipher suite %#04x", errNoDirectPath, uint16(suite))
}

// exporter is the TLS 1.2 keying material exporter (RFC 5705) of one DTLS session.
type exporter struct {
	secret  []byte
	randoms []byte // client random then server random
	hash    func() hash.Hash
}

func (e exporter) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if len(context) != 0 {
		return nil, fmt.Errorf("%w: exporter context", errNoDirectPath)
	}
	seed := append([]byte(label), e.randoms...)
	out, err := prf.PHash(e.secret, seed, length, e.hash)
	if err != nil {
		return nil, fmt.Errorf("export keying material: %w", err)
	}
	return out, nil
}

// directPath is a subscriber connection's direct SRTP path.
type directPath struct {
	owner *Participant
	keys  srtpKeys              // what the node sends with
	route atomic.Pointer[route] // nil once the connection is closed
	// cryptex: the subscriber takes RTP header extensions encrypted too (RFC 9335), as its
	// latest description says.
	cryptex atomic.Bool

	// The subscriber's RTCP, taken off the media socket (see takeRTCP). The socket's reader
	// is the only user, but an ICE restart may move the connection to another socket.
	recvMu  sync.Mutex
	recv    *srtp.Context
	recvBuf []byte
	recvHdr rtcp.Header

	closed bool // guarded by SFU.directMu
}

// route is where a connection's datagrams go: out of which media socket, to what address.
type route struct {
	conn *batchConn
	to   netip.AddrPort
}

// rtcpReplayWindow is how far back in SRTCP index the subscriber's RTCP may arrive and still
// be accepted once, as pion's own session allows.
const rtcpReplayWindow = 64

// takeRTCP opens and acts on an SRTCP packet from the subscriber. Everything RTCP from the
// subscriber's address is its own, so what does not open (forged, replayed, cut short) is
// dropped here: pion's session, whose replay window never saw what was taken here, would
// accept a replay.
func (d *directPath) takeRTCP(b []byte) {
	d.recvMu.Lock()
	defer d.recvMu.Unlock()
	metrics := d.owner.room.sfu.metrics
	plain, err := d.recv.DecryptRTCP(d.recvBuf[:0], b, &d.recvHdr)
	if err != nil {
		metrics.rtcpRejected.Inc()
		return
	}
	d.recvBuf = plain[:0]
	pkts, err := rtcp.Unmarshal(plain)
	if err != nil {
		metrics.rtcpRejected.Inc()
		return
	}
	metrics.rtcpDirect.Inc()
	d.owner.handleRTCP(pkts)
}

// newContext returns an SRTP context for one outgoing stream. Each downTrack has its own,
// so that encrypting takes no lock but the downTrack's.
func (k srtpKeys) newContext() (*srtp.Context, error) {
	ctx, err := srtp.CreateContext(k.key, k.salt, k.profile)
	if err != nil {
		return nil, fmt.Errorf("srtp context: %w", err)
	}
	return ctx, nil
}

// startDirectPath moves the participant's subscriber connection pc, now connected, to the
// direct path if it can take it, and keeps the path's route on the connection's selected
// candidate pair (which an ICE restart changes).
func (p *Participant) startDirectPath(pc *webrtc.PeerConnection, secrets *dtlsSecrets) error {
	send, recv, err := secrets.sessionKeys()
	if err != nil {
		return err
	}
	cryptex, err := remoteHeaderEncryption(pc)
	if err != nil {
		return err
	}
	if _, err := send.newContext(); err != nil {
		return fmt.Errorf("%w: %v", errNoDirectPath, err)
	}
	in, err := srtp.CreateContext(recv.key, recv.salt, recv.profile, srtp.SRTCPReplayProtection(rtcpReplayWindow))
	if err != nil {
		return fmt.Errorf("%w: srtcp context: %v", errNoDirectPath, err)
	}
	path := &directPath{owner: p, keys: send, recv: in, recvBuf: make([]byte, 0, maxPacketSize)}
	path.cryptex.Store(cryptex)
	s := p.room.sfu
	ice := pc.SCTP().Transport().ICETransport()
	ice.OnSelectedCandidatePairChange(func(pair *webrtc.ICECandidatePair) {
		s.setRoute(path, s.routeTo(pair))
	})
	fail := func(err error) error {
		s.forgetRoute(path) // which also disarms the handler
		return err
	}
	pair, err := ice.GetSelectedCandidatePair()
	if err != nil {
		return fail(fmt.Errorf("%w: selected candidate pair: %v", errNoDirectPath, err))
	}
	r := s.routeTo(pair)
	if r == nil {
		return fail(fmt.Errorf("%w: the selected candidate pair is not on a media socket", errNoDirectPath))
	}
	if !s.startRoute(path, r) {
		return fail(fmt.Errorf("%w: the participant left", errNoDirectPath))
	}
	return nil
}

// remoteHeaderEncryption reports whether pc's remote description asks for RTP header
// extensions encrypted (see headerEncryptionOffered).
func remoteHeaderEncryption(pc *webrtc.PeerConnection) (bool, error) {
	remote := pc.RemoteDescription()
	if remote == nil {
		return false, fmt.Errorf("%w: no remote description", errNoDirectPath)
	}
	// Parsed here, not with remote.Unmarshal, which writes into pion's own copy.
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(remote.SDP); err != nil {
		return false, fmt.Errorf("%w: remote description: %v", errNoDirectPath, err)
	}
	return headerEncryptionOffered(&parsed), nil
}

// refreshDirectPath follows a new remote description of the subscriber connection pc, which
// may turn RTP header encryption on or off, as pion's own session would.
func (p *Participant) refreshDirectPath(pc *webrtc.PeerConnection) {
	path := p.direct.Load()
	if path == nil {
		return
	}
	if cryptex, err := remoteHeaderEncryption(pc); err == nil {
		path.cryptex.Store(cryptex)
	}
}

// startRoute gives a new direct path its first route, unless the candidate pair has changed
// (and given it one) since, and makes it the participant's, unless the participant has left
// meanwhile (see closeDirectPath).
func (s *SFU) startRoute(path *directPath, r *route) bool {
	s.directMu.Lock()
	defer s.directMu.Unlock()
	if path.closed || path.owner.directDone {
		return false
	}
	if path.route.Load() == nil {
		s.moveRouteLocked(path, r)
	}
	path.owner.direct.Store(path)
	return true
}

// setRoute moves a direct path to route r, where the subscriber's RTCP is now also expected
// from. A pair the node cannot route (not on a media socket, which no pair the SFU's ICE
// settings allow is) leaves the path where it was: falling back to pion's session for the
// rest of the connection would restart its SRTP streams' rollover counters, and so reuse
// keystream after a sequence number wrap.
func (s *SFU) setRoute(path *directPath, r *route) {
	if r == nil {
		s.log.Warn("selected candidate pair not on a media socket: the direct path keeps its route",
			"participant", path.owner.info.ID)
		return
	}
	s.directMu.Lock()
	defer s.directMu.Unlock()
	s.moveRouteLocked(path, r)
}

func (s *SFU) moveRouteLocked(path *directPath, r *route) {
	if path.closed {
		return
	}
	if old := path.route.Load(); old != nil && s.directIn[old.to] == path {
		delete(s.directIn, old.to)
	}
	path.route.Store(r)
	s.directIn[r.to] = path
}

// forgetRoute retires a direct path: nothing more is sent on it or taken for it.
func (s *SFU) forgetRoute(path *directPath) {
	s.directMu.Lock()
	defer s.directMu.Unlock()
	s.forgetRouteLocked(path)
}

func (s *SFU) forgetRouteLocked(path *directPath) {
	if old := path.route.Load(); old != nil && s.directIn[old.to] == path {
		delete(s.directIn, old.to)
	}
	path.route.Store(nil)
	path.closed = true
}

// closeDirectPath retires the participant's direct path, if any, and any it would start
// later: startDirectPath runs on one of pion's goroutines, unordered with Close.
func (s *SFU) closeDirectPath(p *Participant) {
	s.directMu.Lock()
	defer s.directMu.Unlock()
	p.directDone = true
	if path := p.direct.Load(); path != nil {
		s.forgetRouteLocked(path)
	}
}

// takeRTCP is the media sockets' receive hook: it hands an RTCP datagram from the address
// of a subscriber on a direct path to that path, and reports whether it was taken.
func (s *SFU) takeRTCP(b []byte, from netip.AddrPort) bool {
	s.directMu.RLock()
	path := s.directIn[netip.AddrPortFrom(from.Addr().Unmap(), from.Port())]
	s.directMu.RUnlock()
	if path == nil {
		return false
	}
	path.takeRTCP(b)
	return true
}

// headerEncryptionOffered reports whether a description says its sender takes RTP header
// extensions encrypted (RFC 9335): then pion encrypts them when sending to it, and so must
// the direct path. pion refuses a description that says so for some media sections only.
func headerEncryptionOffered(d *sdp.SessionDescription) bool {
	if _, ok := d.Attribute("cryptex"); ok {
		return true
	}
	for _, m := range d.MediaDescriptions {
		if _, ok := m.Attribute("cryptex"); ok {
			return true
		}
	}
	return false
}

// routeTo is the route of a selected candidate pair, or nil if the pair's local candidate
// is not on one of the node's media sockets.
func (s *SFU) routeTo(pair *webrtc.ICECandidatePair) *route {
	if pair == nil || pair.Local == nil || pair.Remote == nil ||
		pair.Local.Protocol != webrtc.ICEProtocolUDP || pair.Remote.Protocol != webrtc.ICEProtocolUDP {
		return nil
	}
	remote, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil { // an mDNS name pion could not resolve
		return nil
	}
	conns := s.sendConns.Load()
	if conns == nil {
		return nil
	}
	local, _ := netip.ParseAddr(pair.Local.Address)
	for _, c := range *conns {
		addr := c.localAddrPort()
		if addr.Port() != pair.Local.Port {
			continue
		}
		// With 1:1 NAT the candidate shows the public address: one socket is unambiguous.
		if len(*conns) == 1 || addr.Addr().Unmap() == local.Unmap() {
			return &route{conn: c, to: netip.AddrPortFrom(remote.Unmap(), pair.Remote.Port)}
		}
	}
	return nil
}
