// Package connlimit caps the connections one client holds open at once, so that one
// address cannot exhaust the server's file descriptors and memory with idle or trickling
// connections. A client is an IPv4 address or an IPv6 /64, as in the rate limits.
package connlimit

import (
	"net"
	"net/netip"
	"sync"

	"github.com/meridian-video/meridian/internal/ratelimit"
)

// Listener accepts at most Max connections at once from each client; a connection over
// the cap is closed as it is accepted, and Accept goes on to the next. Addresses in
// Exempt (the reverse proxy that every client comes through, a local load tool) are not
// counted.
type Listener struct {
	net.Listener
	max    int
	exempt []netip.Prefix
	// OnRefuse, if set, is called for each connection closed over the cap (a metric:
	// behind an unlisted proxy every client shares one address, and this is how it shows).
	OnRefuse func()

	mu   sync.Mutex
	open map[string]int
}

// New wraps ln with a cap of max connections per client.
func New(ln net.Listener, max int, exempt []netip.Prefix) *Listener {
	return &Listener{Listener: ln, max: max, exempt: exempt, open: map[string]int{}}
}

// Accept returns the next connection within its client's cap.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := l.take(c.RemoteAddr())
		if !ok {
			c.Close()
			if l.OnRefuse != nil {
				l.OnRefuse()
			}
			continue
		}
		if key == "" {
			return c, nil
		}
		return &conn{Conn: c, release: func() { l.give(key) }}, nil
	}
}

// take counts a new connection from addr, and tells whether it is within the cap. The key
// is empty for an address that is not counted.
func (l *Listener) take(addr net.Addr) (string, bool) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return "", true // not an IP connection (a test pipe): nothing to count by
	}
	ip := ap.Addr().Unmap()
	for _, p := range l.exempt {
		if p.Contains(ip) {
			return "", true
		}
	}
	key := ratelimit.IPKey(ip.String())
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.max {
		return key, false
	}
	l.open[key]++
	return key, true
}

func (l *Listener) give(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// conn gives its place back once, when first closed.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite lets net/http half-close the connection as it does a bare TCP one.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
