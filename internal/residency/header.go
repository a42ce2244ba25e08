package residency

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meridian-video/meridian/internal/topology"
)

// ForwardedHeader marks a request forwarded by a node of the deployment to a node of the
// request's home region: "v2 <origin node> <home region> <unix seconds> <nonce> <mac>".
// The MAC is HMAC-SHA256 under the deployment's forwarding key over the method, path and
// query, the SHA-256 of the body, the origin node, the home region, the time, the nonce
// and the client address in X-Forwarded-For, so none of them can be changed, a request
// forwarded to one region cannot be replayed into another, and (the receiver keeping the
// nonces of the last MaxSkew) none is served twice.
const ForwardedHeader = "Meridian-Forwarded"

// MaxSkew bounds how old (or, for a clock ahead, how new) a forwarding header may be.
const MaxSkew = 30 * time.Second

// Errors of Verify.
var (
	ErrForged     = errors.New("residency: forwarding header not authentic")
	ErrExpired    = errors.New("residency: forwarding header expired")
	ErrWrongHome  = errors.New("residency: forwarded request outside its home region")
	ErrReplayed   = errors.New("residency: forwarded request already served")
	ErrBusy       = errors.New("residency: too many forwarded requests to remember")
	errNoForwardH = errors.New("residency: no forwarding header")
)

// Forwarded is what an authentic forwarding header says.
type Forwarded struct {
	Origin   string     // the node that forwarded the request
	Home     string     // the region it was forwarded to
	At       time.Time  // when
	ClientIP netip.Addr // the client's address, as the origin node saw it
}

// maxNonces bounds the nonces a node remembers: MaxSkew's worth of forwarded requests at
// several thousand a second. Past it, forwarded requests are refused (503) until old
// nonces expire, rather than served without the replay check.
const maxNonces = 1 << 18

// signer makes and checks forwarding headers; seen holds the nonces of the requests
// verified within the last MaxSkew (either side of now).
type signer struct {
	key  []byte
	seen *nonces
}

func newSigner(key []byte) signer {
	return signer{key: key, seen: &nonces{at: map[string]time.Time{}, max: maxNonces}}
}

func (s signer) mac(method, target string, body [sha256.Size]byte, origin, home string, at int64, nonce, clientIP string) string {
	m := hmac.New(sha256.New, s.key)
	for _, f := range [][]byte{[]byte("meridian/forwarded/v2"), []byte(method), []byte(target), body[:], []byte(origin),
		[]byte(home), []byte(strconv.FormatInt(at, 10)), []byte(nonce), []byte(clientIP)} {
		m.Write(f)
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// requestTarget is the path and query the MAC covers.
func requestTarget(r *http.Request) string { return r.URL.Path + "?" + r.URL.RawQuery }

// sign sets the forwarding header and X-Forwarded-For of out, a request forwarded to home
// whose body is body (already read: the MAC covers it).
func (s signer) sign(out *http.Request, body []byte, origin, home string, clientIP netip.Addr, now time.Time) {
	var n [16]byte
	rand.Read(n[:]) // never fails (crypto/rand since Go 1.24)
	nonce := base64.RawURLEncoding.EncodeToString(n[:])
	ip := clientIP.String()
	at := now.Unix()
	out.Header.Set("X-Forwarded-For", ip)
	out.Header.Set(ForwardedHeader, fmt.Sprintf("v2 %s %s %d %s %s", origin, home, at, nonce,
		s.mac(out.Method, requestTarget(out), sha256.Sum256(body), origin, home, at, nonce, ip)))
}

// verify checks the forwarding header of r, received by a node of region self, against
// its body (read, and left for the API to read as it came), and remembers its nonce.
func (s signer) verify(r *http.Request, self string, now time.Time) (Forwarded, error) {
	h := r.Header.Values(ForwardedHeader)
	if len(h) == 0 {
		return Forwarded{}, errNoForwardH
	}
	xff := r.Header.Values("X-Forwarded-For")
	f := strings.Split(h[0], " ")
	if len(h) != 1 || len(xff) != 1 || len(f) != 6 || f[0] != "v2" {
		return Forwarded{}, fmt.Errorf("%w: malformed", ErrForged)
	}
	origin, home, ts, nonce, got := f[1], f[2], f[3], f[4], f[5]
	at, err := strconv.ParseInt(ts, 10, 64)
	ip, ipErr := netip.ParseAddr(xff[0])
	if n, nErr := base64.RawURLEncoding.DecodeString(nonce); nErr != nil || len(n) != 16 {
		err = errors.New("nonce")
	}
	if err != nil || ipErr != nil || !topology.ValidNodeID(origin) || !topology.ValidRegionID(home) {
		return Forwarded{}, fmt.Errorf("%w: malformed", ErrForged)
	}
	body, ok := bodyOf(r)
	if !ok {
		return Forwarded{}, fmt.Errorf("%w: body larger than any forwarded", ErrForged)
	}
	want := s.mac(r.Method, requestTarget(r), sha256.Sum256(body), origin, home, at, nonce, xff[0])
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
	if err := s.seen.add(nonce, fw.At, now); err != nil {
		return fw, err
	}
	return fw, nil
}

// maxForwardBody is the largest body any API route takes (a policy document, 1 MiB): the
// forwarder reads a body whole, for the MAC, and sends none larger.
const maxForwardBody = 1 << 20

// bodyOf reads r's body, at most maxForwardBody, and puts it back for the handler.
func bodyOf(r *http.Request) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxForwardBody+1))
	if err != nil || len(data) > maxForwardBody {
		return nil, false
	}
	setBody(r, data)
	return data, true
}

// nonces remembers the nonces of verified requests until their header expires.
type nonces struct {
	mu    sync.Mutex
	at    map[string]time.Time // nonce -> the header's time
	max   int
	swept time.Time
}

func (n *nonces) add(nonce string, at, now time.Time) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.at[nonce]; ok {
		return ErrReplayed
	}
	// A nonce older than MaxSkew can go: its header is refused as expired anyway. Swept
	// every MaxSkew, and when full at most once a second, so that a full table costs a
	// sweep a second rather than one a request.
	if now.Sub(n.swept) > MaxSkew || (len(n.at) >= n.max && now.Sub(n.swept) > time.Second) {
		for k, t := range n.at {
			if now.Sub(t) > MaxSkew {
				delete(n.at, k)
			}
		}
		n.swept = now
	}
	if len(n.at) >= n.max {
		return ErrBusy
	}
	n.at[nonce] = at
	return nil
}
