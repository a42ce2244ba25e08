package sfu

import (
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// gatheredCandidates offers to receive a video track on pc and returns the candidates it
// gathers.
func gatheredCandidates(t *testing.T, pc *webrtc.PeerConnection) []string {
	t.Helper()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		t.Fatal("gathering did not complete")
	}
	var out []string
	for _, line := range strings.Split(pc.LocalDescription().SDP, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "a=candidate:"); ok {
			out = append(out, c)
		}
	}
	return out
}

// candidateAddr is a candidate's address and port.
func candidateAddr(t *testing.T, cand string) (string, int) {
	t.Helper()
	f := strings.Fields(cand)
	if len(f) < 6 {
		t.Fatalf("malformed candidate %q", cand)
	}
	port, err := strconv.Atoi(f[5])
	if err != nil {
		t.Fatalf("candidate %q: %v", cand, err)
	}
	return f[4], port
}

// In loopback mode every connection, publisher or subscriber, shares one socket on
// 127.0.0.1 and offers nothing else; Close frees the port.
func TestLoopbackConnectionsShareOneLoopbackSocket(t *testing.T) {
	probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := probe.LocalAddr().(*net.UDPAddr).Port
	_ = probe.Close()

	s := New(Config{LoopbackOnly: true, UDPPort: uint16(port)}, slog.New(slog.DiscardHandler), nil)
	pub, err := s.newPublisherConnection(consentFor(true))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, _, err := s.newSubscriberConnection("", consentFor(true))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	for name, pc := range map[string]*webrtc.PeerConnection{"publisher": pub, "subscriber": sub} {
		cands := gatheredCandidates(t, pc)
		if len(cands) == 0 {
			t.Fatalf("%s connection gathered no candidate", name)
		}
		for _, c := range cands {
			addr, p := candidateAddr(t, c)
			if addr != "127.0.0.1" || p != port {
				t.Errorf("%s candidate %q: want 127.0.0.1:%d, the configured first port", name, c, port)
			}
		}
	}
	// The socket is bound to loopback only.
	if c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err == nil {
		_ = c.Close()
		t.Fatalf("port %d on 127.0.0.1 is free while the SFU runs", port)
	}

	_ = pub.Close()
	_ = sub.Close()
	s.Close()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatalf("port %d still taken after Close: %v", port, err)
	}
	_ = c.Close()
	if _, err := s.newPublisherConnection(consentFor(true)); !errors.Is(err, ErrClosed) {
		t.Fatalf("connection after Close: %v, want ErrClosed", err)
	}
}

func TestMuxAddressesFilter(t *testing.T) {
	addrs, err := muxAddresses(Config{LoopbackOnly: true, IPFilter: func(net.IP) bool { return false }})
	if err != nil || len(addrs) != 1 || addrs[0].String() != "127.0.0.1" {
		t.Fatalf("loopback mode: %v, %v; want exactly 127.0.0.1", addrs, err)
	}
	if _, err := muxAddresses(Config{IPFilter: func(net.IP) bool { return false }}); !errors.Is(err, errNoAddress) {
		t.Fatalf("a filter refusing every address: %v, want errNoAddress", err)
	}
	addrs, err = muxAddresses(Config{})
	if err != nil {
		t.Skipf("no non-loopback address on this machine: %v", err)
	}
	for _, a := range addrs {
		if a.IsLoopback() || a.IsLinkLocalUnicast() {
			t.Errorf("gathered %v outside loopback mode", a)
		}
	}
}
