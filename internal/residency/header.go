package residency

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/topology"
)

// ForwardedHeader marks a request forwarded by a node of the deployment to a node of the
// request's home region: "v1 <origin node> <home region> <unix seconds> <mac>". The MAC
// is HMAC-SHA256 under the deployment's forwarding key over the method, path and query,
// the origin node, the home region, the time and the client address in X-Forwarded-For,
// so none of them can be changed, and a request forwarded to one region cannot be
// replayed into another.
const ForwardedHeader = "Meridian-Forwarded"

// MaxSkew bounds how old (or, for a clock ahead, how new) a forwarding header may be.
const MaxSkew = 30 * time.Second

// Errors of Verify.
var (
	ErrForged     = errors.New("residency: forwarding header not authentic")
	ErrExpired    = errors.New("residency: forwarding header expired")
	ErrWrongHome  = errors.New("residency: forwarded request outside its home region")
	errNoForwardH = errors.New("residency: no forwarding header")
)

// Forwarded is what an authentic forwarding header says.
type Forwarded struct {
	Origin   string     // the node that forwarded the request
	Home     string     // the region it was forwarded to
	At       time.Time  // when
	ClientIP netip.Addr // the client's address, as the origin node saw it
}

// signer makes and checks forwarding headers.
type signer struct{ key []byte }

func (s signer) mac(method, target, origin, home string, at int64, clientIP string) string {
	m := hmac.New(sha256.New, s.key)
	for _, f := range []string{"meridian/forwarded/v1", method, target, origin, home, strconv.FormatInt(at, 10), clientIP} {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// requestTarget is the path and query the MAC covers.
func requestTarget(r *http.Request) string { return r.URL.Path + "?" + r.URL.RawQuery }

// sign sets the forwarding header and X-Forwarded-For of out, a request forwarded to home.
func (s signer) sign(out *http.Request, origin, home string, clientIP netip.Addr, now time.Time) {
	ip := clientIP.String()
	at := now.Unix()
	out.Header.Set("X-Forwarded-For", ip)
	out.Header.Set(ForwardedHeader, fmt.Sprintf("v1 %s %s %d %s", origin, home,
		at, s.mac(out.Method, requestTarget(out), origin, home, at, ip)))
}

// verify checks the forwarding header of r, received by a node of region self.
func (s signer) verify(r *http.Request, self string, now time.Time) (Forwarded, error) {
	h := r.Header.Values(ForwardedHeader)
	if len(h) == 0 {
		return Forwarded{}, errNoForwardH
	}
	xff := r.Header.Values("X-Forwarded-For")
	f := strings.Split(h[0], " ")
	if len(h) != 1 || len(xff) != 1 || len(f) != 5 || f[0] != "v1" {
		return Forwarded{}, fmt.Errorf("%w: malformed", ErrForged)
	}
	origin, home, ts, got := f[1], f[2], f[3], f[4]
	at, err := strconv.ParseInt(ts, 10, 64)
	ip, ipErr := netip.ParseAddr(xff[0])
	if err != nil || ipErr != nil || !topology.ValidNodeID(origin) || !topology.ValidRegionID(home) {
		return Forwarded{}, fmt.Errorf("%w: malformed", ErrForged)
	}
	want := s.mac(r.Method, requestTarget(r), origin, home, at, xff[0])
	if !hmac.Equal([]byte(got), []byte(want)) {
		return Forwarded{}, ErrForged
	}
	fw := Forwarded{Origin: origin, Home: home, At: time.Unix(at, 0), ClientIP: ip}
	if d := now.Sub(fw.At); d > MaxSkew || d < -MaxSkew {
		return fw, fmt.Errorf("%w: made %s from now", ErrExpired, d.Round(time.Second))
	}
	if home != self {
		return fw, fmt.Errorf("%w: forwarded to %s, received in %s", ErrWrongHome, home, self)
	}
	return fw, nil
}
