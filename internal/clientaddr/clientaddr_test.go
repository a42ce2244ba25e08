package clientaddr

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClient(t *testing.T) {
	p := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/8")})
	for _, c := range []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"no proxy: the peer", "203.0.113.9:5000", nil, "203.0.113.9"},
		{"an untrusted peer's header is ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"a trusted proxy's client", "10.0.0.5:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"what the client wrote left of it is ignored", "10.0.0.5:5000", []string{"127.0.0.1, 192.0.2.66, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies", "10.0.0.5:5000", []string{"198.51.100.1, 10.0.0.6"}, "198.51.100.1"},
		{"header lines in order", "10.0.0.5:5000", []string{"192.0.2.66", "198.51.100.1", "10.0.0.6"}, "198.51.100.1"},
		{"IPv6 proxy, port written", "[fd00::1]:443", []string{"[2001:db8::7]:41234"}, "2001:db8::7"},
		{"IPv4 peer in IPv6 form", "[::ffff:10.0.0.5]:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"garbage: the last trusted hop", "10.0.0.5:5000", []string{"198.51.100.1, nonsense, 10.0.0.6"}, "10.0.0.6"},
		{"garbage next to the peer", "10.0.0.5:5000", []string{"unknown"}, "10.0.0.5"},
		{"only proxies", "10.0.0.5:5000", []string{"10.0.0.6"}, "10.0.0.6"},
		{"a trusted proxy with no header", "10.0.0.5:5000", nil, "10.0.0.5"},
		{"a zone is no client address", "10.0.0.5:5000", []string{"fe80::1%eth0"}, "10.0.0.5"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := p.Client(r); got.String() != c.want {
			t.Errorf("%s: client %v, want %s", c.name, got, c.want)
		}
	}
}

// With no trusted proxy, nobody's header is believed: not even loopback's.
func TestNoTrustedProxies(t *testing.T) {
	var seen string
	h := New(nil).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if seen != "127.0.0.1:5000" {
		t.Fatalf("RemoteAddr %q", seen)
	}
}

func TestWrapSetsRemoteAddr(t *testing.T) {
	var seen string
	h := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", "2001:db8::7")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if seen != "[2001:db8::7]:0" {
		t.Fatalf("RemoteAddr %q", seen)
	}
	r.Header.Del("X-Forwarded-For")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if seen != "127.0.0.1:5000" {
		t.Fatalf("RemoteAddr without a header %q", seen)
	}
}
