package server_test

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// lossyNet is the client side of a lossy link: it drops a fraction of the inbound
// datagrams large enough to be media, leaving ICE and DTLS handshakes intact.
type lossyNet struct {
	*stdnet.Net
	rate    float64
	dropped atomic.Int64
	// dropFirst, while above zero, drops that many more RTP datagrams before any other.
	dropFirst atomic.Int64

	// capBits, when not zero, limits inbound media to this many bits per second, like a
	// narrow last mile: what exceeds it is dropped.
	capBits atomic.Int64
	mu      sync.Mutex
	tokens  float64
	last    time.Time
}

// overCap reports whether a datagram of n bytes exceeds the bandwidth cap.
func (n *lossyNet) overCap(size int) bool {
	capBits := n.capBits.Load()
	if capBits == 0 {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	if !n.last.IsZero() {
		n.tokens = min(n.tokens+now.Sub(n.last).Seconds()*float64(capBits)/8, float64(capBits)/8/10)
	}
	n.last = now
	if n.tokens < float64(size) {
		return true
	}
	n.tokens -= float64(size)
	return false
}

func newLossyNet(rate float64) (*lossyNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &lossyNet{Net: n, rate: rate}, nil
}

func (n *lossyNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &lossyConn{UDPConn: c, net: n}, nil
}

type lossyConn struct {
	transport.UDPConn
	net *lossyNet
}

// mediaSize separates video from handshakes and audio: STUN and DTLS records and Opus
// packets here stay below it, synthetic video packets are above.
const mediaSize = 600

func (c *lossyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.drops(b[:n]) {
			return n, addr, err
		}
		c.net.dropped.Add(1)
	}
}

// drops decides whether a datagram is lost. The bandwidth cap takes RTP of any size, as a
// narrow link would (the SFU's probes are small packets of padding); random loss and
// dropFirst take video-sized packets only, so that handshakes complete.
func (c *lossyConn) drops(b []byte) bool {
	rtp := isRTP(b)
	switch {
	case len(b) < mediaSize:
		return rtp && c.net.overCap(len(b))
	case rtp && c.net.dropFirst.Add(-1) >= 0:
		return true
	case rand.Float64() < c.net.rate:
		return true
	}
	return c.net.overCap(len(b))
}

// isRTP tells (S)RTP from DTLS, STUN and RTCP (RFC 7983, RFC 5761).
func isRTP(b []byte) bool {
	return len(b) > 1 && b[0] >= 128 && b[0] <= 191 && (b[1] < 192 || b[1] > 223)
}
