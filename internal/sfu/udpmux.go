package sfu

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/pion/ice/v4"
)

// udpMux returns the node's ICE UDP mux, opening its sockets on first use: every peer
// connection of the node sends and receives on them (see openUDPMux). After Close it
// returns ErrClosed.
func (s *SFU) udpMux() (ice.UDPMux, error) {
	s.muxMu.Lock()
	defer s.muxMu.Unlock()
	if s.muxClosed {
		return nil, ErrClosed
	}
	if s.mux == nil {
		m, conns, err := openUDPMux(s.cfg, s.sendCounters(), s.takeRTCP)
		if err != nil {
			return nil, fmt.Errorf("media sockets: %w", err)
		}
		s.mux = m
		s.sendConns.Store(&conns)
	}
	return s.mux, nil
}

// holdSends holds the media sockets' writers for a fan-out (see batchConn.hold); the
// caller passes what it returns to releaseSends when the fan-out is done.
func (s *SFU) holdSends() []*batchConn {
	p := s.sendConns.Load()
	if p == nil {
		return nil
	}
	for _, c := range *p {
		c.hold()
	}
	return *p
}

// sendsBacklogged reports whether a media socket's send queue is a quarter full: the node
// is sending more than the kernel takes, and what is optional (retransmissions) must wait.
func (s *SFU) sendsBacklogged() bool {
	p := s.sendConns.Load()
	if p == nil {
		return false
	}
	for _, c := range *p {
		if c.queued() > sendQueueLimit/4 {
			return true
		}
	}
	return false
}

// releaseSends ends holdSends' hold.
func releaseSends(conns []*batchConn) {
	for _, c := range conns {
		c.release()
	}
}

// closeUDPMux closes the mux, once every connection on it is closed.
func (s *SFU) closeUDPMux() {
	s.muxMu.Lock()
	m := s.mux
	s.mux, s.muxClosed = nil, true
	s.sendConns.Store(nil)
	s.muxMu.Unlock()
	if m != nil {
		_ = m.Close()
	}
}

func (s *SFU) sendCounters() sendCounters {
	return sendCounters{
		dropped: func(reason string, n int) { s.metrics.UDPDropped.WithLabelValues(reason).Add(float64(n)) },
		batch: func(n int) {
			s.metrics.UDPBatches.Inc()
			s.metrics.UDPPacketsOut.Add(float64(n))
		},
	}
}

// openUDPMux opens one batching UDP socket per local address that ICE may use, all on the
// configured port, and multiplexes every peer connection over them by ICE username.
//
// One socket instead of one per connection is what lets the writer batch: the datagrams
// of a fan-out to N subscribers leave in one sendmmsg call instead of N sendto calls.
//
//   - The port is Config.UDPPort; without one the kernel picks an ephemeral port.
//   - In loopback mode there is exactly one socket, bound to 127.0.0.1: nothing can be
//     received on, or gathered from, any other address.
//   - Otherwise there is one socket per up, non-loopback interface address (IPv6
//     link-local excepted) that Config.IPFilter accepts, as pion would gather them.
//
// takeRTCP is offered the RTCP read on the sockets before pion's mux sees it.
func openUDPMux(cfg Config, counters sendCounters, takeRTCP func([]byte, netip.AddrPort) bool) (ice.UDPMux, []*batchConn, error) {
	addrs, err := muxAddresses(cfg)
	if err != nil {
		return nil, nil, err
	}
	conns := make([]*batchConn, 0, len(addrs))
	muxes := make([]ice.UDPMux, 0, len(addrs))
	closeAll := func() {
		for _, m := range muxes {
			_ = m.Close()
		}
	}
	for _, a := range addrs {
		conn, err := listenBatchUDP(netip.AddrPortFrom(a, cfg.UDPPort), counters)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conn.takeRTCP = takeRTCP
		conns = append(conns, conn)
		muxes = append(muxes, ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn}))
	}
	if len(muxes) == 1 {
		return muxes[0], conns, nil
	}
	return ice.NewMultiUDPMuxDefault(muxes...), conns, nil
}

// errNoAddress is returned when no local address may carry media.
var errNoAddress = errors.New("sfu: no local address accepted for media")

// muxAddresses lists the local addresses to open media sockets on.
func muxAddresses(cfg Config) ([]netip.Addr, error) {
	if cfg.LoopbackOnly {
		return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}, nil
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []netip.Addr
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipnet, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip := ipnet.IP
			if ip.IsLoopback() || ip.IsLinkLocalUnicast() || (cfg.IPFilter != nil && !cfg.IPFilter(ip)) {
				continue
			}
			if addr, ok := netip.AddrFromSlice(ip); ok {
				out = append(out, addr.Unmap())
			}
		}
	}
	if len(out) == 0 {
		return nil, errNoAddress
	}
	return out, nil
}
