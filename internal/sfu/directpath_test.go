package sfu

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// dtlsHandshake runs a DTLS handshake over loopback UDP between a server and a client, both
// configured by cfg, with secrets listening to the server (asServer) or to the client. It
// returns the connection states of the server and the client.
func dtlsHandshake(t *testing.T, cfg dtls.Config, secrets *dtlsSecrets, asServer bool) (server, client dtls.State) {
	t.Helper()
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Certificates = []tls.Certificate{cert}
	cfg.InsecureSkipVerify = true
	serverCfg, clientCfg := cfg, cfg
	listen := &serverCfg
	if !asServer {
		listen = &clientCfg
	}
	listen.KeyLogWriter = secrets
	listen.ServerHelloMessageHook = secrets.serverHello

	a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := dtls.Server(a, b.LocalAddr(), &serverCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := dtls.Client(b, a.LocalAddr(), &clientCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- srv.HandshakeContext(ctx) }()
	go func() { errs <- cli.HandshakeContext(ctx) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("handshake: %v", err)
		}
	}
	server, ok1 := srv.ConnectionState()
	client, ok2 := cli.ConnectionState()
	if !ok1 || !ok2 {
		t.Fatal("no connection state after the handshake")
	}
	return server, client
}

// The keys the direct path derives from what the handshake handed out are the keys pion
// derives from the DTLS connection itself: a packet the node seals on the direct path is
// opened by the receiver's SRTP context, for every cipher suite and SRTP profile the two
// sides may settle on.
func TestDirectPathKeysAreTheConnectionsKeys(t *testing.T) {
	suites := []dtls.CipherSuiteID{
		dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	}
	profiles := []dtls.SRTPProtectionProfile{
		dtls.SRTP_AEAD_AES_128_GCM,
		dtls.SRTP_AEAD_AES_256_GCM,
		dtls.SRTP_AES128_CM_HMAC_SHA1_80,
	}
	for _, suite := range suites {
		for _, profile := range profiles {
			t.Run(fmt.Sprintf("%s/%#04x", dtls.CipherSuiteName(suite), uint16(profile)), func(t *testing.T) {
				secrets := &dtlsSecrets{}
				cfg := dtls.Config{
					CipherSuites:           []dtls.CipherSuiteID{suite},
					SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{profile},
					ExtendedMasterSecret:   dtls.RequireExtendedMasterSecret,
				}
				_, client := dtlsHandshake(t, cfg, secrets, true)

				keys, recv, err := secrets.sessionKeys()
				if err != nil {
					t.Fatal(err)
				}
				if keys.profile != srtp.ProtectionProfile(profile) {
					t.Fatalf("profile %v, negotiated %v", keys.profile, profile)
				}
				// The receiver (the DTLS client) opens what the server sends with its
				// remote keys.
				want := srtp.Config{Profile: srtp.ProtectionProfile(profile)}
				if err := want.ExtractSessionKeysFromDTLS(&client, true); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(keys.key, want.Keys.RemoteMasterKey) || !bytes.Equal(keys.salt, want.Keys.RemoteMasterSalt) ||
					!bytes.Equal(recv.key, want.Keys.LocalMasterKey) || !bytes.Equal(recv.salt, want.Keys.LocalMasterSalt) {
					t.Fatal("derived keys differ from the connection's")
				}
				for _, cryptex := range []bool{false, true} {
					sealSendOpen(t, keys, cryptex, want)
				}
				// And the node opens the receiver's RTCP.
				clientSends, err := srtp.CreateContext(want.Keys.LocalMasterKey, want.Keys.LocalMasterSalt, want.Profile)
				if err != nil {
					t.Fatal(err)
				}
				nodeReceives, err := srtp.CreateContext(recv.key, recv.salt, recv.profile)
				if err != nil {
					t.Fatal(err)
				}
				rr, _ := (&rtcp.ReceiverReport{SSRC: 7}).Marshal()
				sealed, err := clientSends.EncryptRTCP(nil, rr, nil)
				if err != nil {
					t.Fatal(err)
				}
				if opened, err := nodeReceives.DecryptRTCP(nil, sealed, nil); err != nil || !bytes.Equal(opened, rr) {
					t.Fatalf("the node cannot open the receiver's RTCP: %v", err)
				}
				if secrets.masterSecret != nil {
					t.Error("the master secret is kept after the keys are derived")
				}
			})
		}
	}
}

// sealSendOpen seals a packet with a downTrack's context for keys, with or without header
// encryption, and opens it with the receiver's context for cfg.
func sealSendOpen(t *testing.T, keys srtpKeys, cryptex bool, cfg srtp.Config) {
	t.Helper()
	send, err := keys.newContext()
	if err != nil {
		t.Fatal(err)
	}
	var opts []srtp.ContextOption
	if cryptex {
		opts = append(opts, srtp.Cryptex(srtp.CryptexModeEnabled))
		// As a downTrack turns it on when a description asks for it.
		if err := send.UpdateOptions(srtp.Cryptex(srtp.CryptexModeEnabled)); err != nil {
			t.Fatal(err)
		}
	}
	recv, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, cfg.Profile, opts...)
	if err != nil {
		t.Fatal(err)
	}
	hdr := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 65535, Timestamp: 1234, SSRC: 42}
	ext := []byte("header extension")
	if err := hdr.SetExtension(3, ext); err != nil {
		t.Fatal(err)
	}
	payload := []byte("a frame of video")
	plain, err := (&rtp.Packet{Header: hdr, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := send.EncryptRTP(nil, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, payload) {
		t.Fatal("the payload went out in the clear")
	}
	if bytes.Contains(sealed, ext) == cryptex {
		t.Fatalf("header extension in the clear: %v, with header encryption %v", !cryptex, cryptex)
	}
	opened, err := recv.DecryptRTP(nil, sealed, nil)
	if err != nil {
		t.Fatalf("the receiver cannot open what the direct path sends: %v", err)
	}
	if !bytes.Equal(opened, plain) {
		t.Fatal("the receiver opened something else than was sent")
	}
}

// When the node is the DTLS client it never sees a server hello of its own: there is no
// direct path, and the connection sends through pion.
func TestNoDirectPathAsDTLSClient(t *testing.T) {
	secrets := &dtlsSecrets{}
	dtlsHandshake(t, dtls.Config{SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM}}, secrets, false)
	if _, _, err := secrets.sessionKeys(); !errors.Is(err, errNoDirectPath) {
		t.Fatalf("sessionKeys as the DTLS client: %v, want errNoDirectPath", err)
	}
}

// A key log line that is not one the keys come from is ignored.
func TestKeyLogIgnoresOtherLines(t *testing.T) {
	s := &dtlsSecrets{}
	for _, line := range []string{"", "CLIENT_RANDOM zz 00\n", "SERVER_HANDSHAKE_TRAFFIC_SECRET 00 00\n", "CLIENT_RANDOM 00\n"} {
		if n, err := s.Write([]byte(line)); n != len(line) || err != nil {
			t.Errorf("Write(%q) = %d, %v", line, n, err)
		}
	}
	if s.masterSecret != nil {
		t.Error("a malformed line was taken for a master secret")
	}
}

// The media socket's reader hands everything RTCP from a subscriber's address to its direct
// path, which acts on what the subscriber sealed, once, and rejects the rest: forged,
// replayed or cut short, none of it reaches pion either (whose replay window would not know
// what the direct path took). RTCP from other addresses is left to pion.
func TestTakeRTCPOpensOnlyTheSubscribersRTCP(t *testing.T) {
	s := testSFU(t)
	p := newParticipant(s.Room("r"), ParticipantInfo{ID: "p"}, JoinOptions{CanSubscribe: true}, nil)
	profile := srtp.ProtectionProfileAeadAes128Gcm
	key, salt := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 12)
	in, err := srtp.CreateContext(key, salt, profile, srtp.SRTCPReplayProtection(rtcpReplayWindow))
	if err != nil {
		t.Fatal(err)
	}
	path := &directPath{owner: p, recv: in}
	from := netip.MustParseAddrPort("127.0.0.1:5004")
	if !s.startRoute(path, &route{to: from}) {
		t.Fatal("the direct path did not start")
	}

	seal := func(key []byte, index int) []byte {
		t.Helper()
		ctx, err := srtp.CreateContext(key, salt, profile)
		if err != nil {
			t.Fatal(err)
		}
		rr, _ := (&rtcp.ReceiverReport{SSRC: 7}).Marshal()
		var sealed []byte
		for range index + 1 { // SRTCP's index counts the packets sealed
			if sealed, err = ctx.EncryptRTCP(nil, rr, nil); err != nil {
				t.Fatal(err)
			}
		}
		return sealed
	}
	counts := func() (acted, rejected float64) {
		return testutil.ToFloat64(s.metrics.rtcpDirect), testutil.ToFloat64(s.metrics.rtcpRejected)
	}

	first, second := seal(key, 0), seal(key, 1)
	plain, _ := (&rtcp.ReceiverReport{SSRC: 7}).Marshal()
	for _, c := range []struct {
		name        string
		pkt         []byte
		from        netip.AddrPort
		take, acted bool
	}{
		{"sealed by the subscriber", first, from, true, true},
		{"the same again (replayed)", first, from, true, false},
		{"the next one", second, from, true, true},
		{"sealed with another key", seal(bytes.Repeat([]byte{3}, 16), 2), from, true, false},
		{"not sealed", plain, from, true, false},
		{"cut short", seal(key, 3)[:12], from, true, false},
		{"from an address with no direct path", seal(key, 4), netip.MustParseAddrPort("127.0.0.1:5005"), false, false},
	} {
		acted, rejected := counts()
		if got := s.takeRTCP(c.pkt, c.from); got != c.take {
			t.Errorf("%s: taken %v, want %v", c.name, got, c.take)
		}
		wantActed, wantRejected := acted, rejected
		switch {
		case c.acted:
			wantActed++
		case c.take:
			wantRejected++
		}
		if a, r := counts(); a != wantActed || r != wantRejected {
			t.Errorf("%s: acted on %v, rejected %v; want %v, %v", c.name, a, r, wantActed, wantRejected)
		}
	}

	// Once the participant has left, its address is nobody's, and no path starts for it.
	s.closeDirectPath(p)
	if s.takeRTCP(seal(key, 5), from) {
		t.Error("RTCP taken for a participant that left")
	}
	late := &directPath{owner: p, recv: in}
	if s.startRoute(late, &route{to: from}) || len(s.directIn) != 0 {
		t.Error("a direct path started for a participant that left")
	}
}

// Whatever arrives from a subscriber's address, the direct path takes it without a panic,
// and acts only on what the subscriber sealed.
func FuzzTakeRTCP(f *testing.F) {
	profile := srtp.ProtectionProfileAeadAes128Gcm
	key, salt := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 12)
	seal, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		f.Fatal(err)
	}
	nack, _ := (&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: 2, Nacks: []rtcp.NackPair{{PacketID: 10, LostPackets: 3}}}).Marshal()
	sealed, err := seal.EncryptRTCP(nil, nack, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add(nack)
	f.Add(sealed[:len(sealed)-1])

	s := New(Config{LoopbackOnly: true}, slog.New(slog.DiscardHandler), nil)
	defer s.Close()
	p := newParticipant(s.Room("r"), ParticipantInfo{ID: "p"}, JoinOptions{CanSubscribe: true}, nil)
	in, err := srtp.CreateContext(key, salt, profile, srtp.SRTCPReplayProtection(rtcpReplayWindow))
	if err != nil {
		f.Fatal(err)
	}
	from := netip.MustParseAddrPort("127.0.0.1:5004")
	if !s.startRoute(&directPath{owner: p, recv: in}, &route{to: from}) {
		f.Fatal("the direct path did not start")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		acted := testutil.ToFloat64(s.metrics.rtcpDirect)
		if !s.takeRTCP(b, from) {
			t.Fatal("RTCP from the subscriber's address was not taken")
		}
		if testutil.ToFloat64(s.metrics.rtcpDirect) != acted && !bytes.Equal(b, sealed) {
			t.Fatalf("acted on %x, which the subscriber did not seal", b)
		}
	})
}
