// Package clientaddr finds the address a request comes from: its peer's, or, when the
// peer is a reverse proxy the operator trusts (http.trusted_proxies), the client's as the
// proxies recorded it in X-Forwarded-For. The header of any other peer is ignored, since
// a client can write anything in it.
package clientaddr

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the trusted reverse proxies.
type Proxies struct {
	nets []netip.Prefix
}

// New trusts the proxies in nets; none trusts nobody.
func New(nets []netip.Prefix) *Proxies { return &Proxies{nets: nets} }

func (p *Proxies) trusts(a netip.Addr) bool {
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Client is the address r comes from. Each trusted proxy appends the address it received
// from to X-Forwarded-For, so the header is read from the right: past the trusted proxies,
// the first address is the client's. Where an entry cannot be read, the last trusted
// proxy is taken as the client (nothing further left of it can be believed); so is a
// request whose every hop is a trusted proxy's. A peer that is not a trusted proxy is
// the client, whatever its header says. The zero Addr means RemoteAddr is not an address.
func (p *Proxies) Client(r *http.Request) netip.Addr {
	peer := Peer(r)
	if !peer.IsValid() || len(p.nets) == 0 || !p.trusts(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		entries := strings.Split(hops[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a, ok := parse(entries[j])
			if !ok {
				return client
			}
			client = a
			if !p.trusts(a) {
				return a
			}
		}
	}
	return client
}

// Wrap serves next with each request's RemoteAddr set to its Client (port 0) when that
// is not its peer, so that everything behind (rate limits, the audit trail, GeoIP, the
// forwarding of requests to their home region) sees the client.
func (p *Proxies) Wrap(next http.Handler) http.Handler {
	if len(p.nets) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := p.Client(r); c.IsValid() && c != Peer(r) {
			r2 := *r
			r2.RemoteAddr = net.JoinHostPort(c.String(), "0")
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}

// Peer is the address of r's direct peer, RemoteAddr's (an IPv4 address in IPv6 form
// unmapped); the zero Addr if it is not one.
func Peer(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	a, err := netip.ParseAddr(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// parse reads one X-Forwarded-For entry: an address, or an address with a port as some
// proxies write it ("203.0.113.7:41234", "[2001:db8::1]:41234").
func parse(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
