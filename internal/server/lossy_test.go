package server_test

import (
	"math/rand/v2"
	"net"
	"sync/atomic"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// lossyNet is the client side of a lossy link: it drops a fraction of the inbound
// datagrams large enough to be media, leaving ICE and DTLS handshakes intact.
type lossyNet struct {
	*stdnet.Net
	rate    float64
	dropped atomic.Int64
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

// mediaSize separates media from handshakes: STUN and DTLS records here stay below it,
// synthetic video packets are above.
const mediaSize = 600

func (c *lossyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || n < mediaSize || rand.Float64() >= c.net.rate {
			return n, addr, err
		}
		c.net.dropped.Add(1)
	}
}
