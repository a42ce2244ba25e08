//go:build linux

package netlab

import (
	"context"
	"fmt"
	"net"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// Net is a pion network (for webrtc.SettingEngine.SetNet, or client.Options.Net) whose
// sockets are opened in the host's namespace and whose interfaces are the host's: a pion
// peer connection in this process gathers, sends and receives as if it ran in the host.
func (h *Host) Net() (transport.Net, error) {
	var std *stdnet.Net
	err := h.Do(func() error {
		var err error
		std, err = stdnet.NewNet() // it lists the interfaces now, those of the namespace
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlab: pion network of %s: %w", h.Name, err)
	}
	return &hostNet{Net: std, host: h}, nil
}

// hostNet opens every socket through Host.Do; the rest (interfaces, address parsing) is
// stdnet's.
type hostNet struct {
	*stdnet.Net
	host *Host
}

// in runs open in the namespace and returns what it opened.
func in[T any](h *Host, open func() (T, error)) (T, error) {
	var v T
	err := h.Do(func() error {
		var err error
		v, err = open()
		return err
	})
	return v, err
}

func (n *hostNet) ListenPacket(network, address string) (net.PacketConn, error) {
	return in(n.host, func() (net.PacketConn, error) { return n.Net.ListenPacket(network, address) })
}

func (n *hostNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	return in(n.host, func() (transport.UDPConn, error) { return n.Net.ListenUDP(network, laddr) })
}

func (n *hostNet) ListenTCP(network string, laddr *net.TCPAddr) (transport.TCPListener, error) {
	return in(n.host, func() (transport.TCPListener, error) { return n.Net.ListenTCP(network, laddr) })
}

func (n *hostNet) Dial(network, address string) (net.Conn, error) {
	return in(n.host, func() (net.Conn, error) { return n.Net.Dial(network, address) })
}

func (n *hostNet) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	return in(n.host, func() (transport.UDPConn, error) { return n.Net.DialUDP(network, laddr, raddr) })
}

func (n *hostNet) DialTCP(network string, laddr, raddr *net.TCPAddr) (transport.TCPConn, error) {
	return in(n.host, func() (transport.TCPConn, error) { return n.Net.DialTCP(network, laddr, raddr) })
}

func (n *hostNet) CreateDialer(d *net.Dialer) transport.Dialer {
	return hostDialer{host: n.host, d: d}
}

func (n *hostNet) CreateListenConfig(lc *net.ListenConfig) transport.ListenConfig {
	return hostListenConfig{host: n.host, lc: lc}
}

type hostDialer struct {
	host *Host
	d    *net.Dialer
}

func (d hostDialer) Dial(network, address string) (net.Conn, error) {
	return in(d.host, func() (net.Conn, error) { return d.d.Dial(network, address) })
}

type hostListenConfig struct {
	host *Host
	lc   *net.ListenConfig
}

func (l hostListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	return in(l.host, func() (net.Listener, error) { return l.lc.Listen(ctx, network, address) })
}

func (l hostListenConfig) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	return in(l.host, func() (net.PacketConn, error) { return l.lc.ListenPacket(ctx, network, address) })
}
