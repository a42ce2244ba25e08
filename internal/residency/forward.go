package residency

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/auditlog"
	"github.com/meridian-video/meridian/internal/httpapi"
	"github.com/meridian-video/meridian/internal/store"
	"github.com/meridian-video/meridian/internal/topology"
)

// Error codes of forwarding (see api/openapi.yaml).
const (
	// CodeHomeRegionUnavailable: no node of the request's home region answers; the
	// request is not served anywhere else.
	CodeHomeRegionUnavailable = "home_region_unavailable"
	// CodeControlPlaneUnavailable: the directory that says where the request's home is
	// did not answer.
	CodeControlPlaneUnavailable = "control_plane_unavailable"
	// CodeForwardingRefused: a forwarding header that is not authentic, or expired.
	CodeForwardingRefused = "forwarding_refused"
	// CodeForwardingBusy: more forwarded requests within MaxSkew than a node remembers
	// to refuse their replays; temporary.
	CodeForwardingBusy = "forwarding_busy"
	// CodeMisdirected: an authentic forwarded request that reached a node outside the
	// region it was forwarded to; it is not forwarded again.
	CodeMisdirected = "misdirected_request"
)

// Config places a Forwarder in the deployment.
type Config struct {
	Deployment topology.Deployment
	Region     string // this node's region
	Node       string // this node's id
	// Dir finds homes; Nodes is the registry's snapshot of every node.
	Dir   Directory
	Nodes func() []topology.NodeInfo
	// DirectorySecret keys the hashes of addresses and credentials (as in Facts);
	// ForwardKey authenticates forwarding headers. Every node of the deployment has the
	// same of each. See Keys.
	DirectorySecret []byte
	ForwardKey      []byte
	// LagWait is how long a home that is not found is looked up again, since the
	// directory reaches other regions a few milliseconds after it is written (a session
	// made a moment ago in another region); default 1s.
	LagWait time.Duration
	// Transport carries forwarded requests (default: a clone of http.DefaultTransport).
	Transport http.RoundTripper
	// Audit, if set, records the forwarded requests refused (summed per client, as every
	// refusal of unauthenticated traffic is). It is this node's own record of what it
	// refused, and holds no account's data.
	Audit *auditlog.Log
	Log   *slog.Logger
	Now   func() time.Time
}

// Keys derives the directory secret and the forwarding key from the deployment's shared
// secret, each under its own label, so neither use of it can stand in for the other.
func Keys(shared []byte) (directorySecret, forwardKey []byte) {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, shared)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	return derive("meridian/directory-secret/v1"), derive("meridian/forward-key/v1")
}

// Forwarder serves each API request in its home region: the request of an account homed
// elsewhere is forwarded, with an authenticated header, to a node of that region.
type Forwarder struct {
	cfg    Config
	fp     string
	signer signer
}

// New checks cfg and returns its Forwarder.
func New(cfg Config) (*Forwarder, error) {
	if _, ok := cfg.Deployment.Lookup(cfg.Region); !ok {
		return nil, fmt.Errorf("residency: region %q not in the deployment", cfg.Region)
	}
	if !topology.ValidNodeID(cfg.Node) {
		return nil, fmt.Errorf("residency: node id %q", cfg.Node)
	}
	if cfg.Dir == nil || cfg.Nodes == nil {
		return nil, errors.New("residency: a directory and the registry's nodes are required")
	}
	if len(cfg.DirectorySecret) < 16 || len(cfg.ForwardKey) < 16 {
		return nil, errors.New("residency: the directory secret and forwarding key must be at least 16 bytes")
	}
	if cfg.LagWait <= 0 {
		cfg.LagWait = time.Second
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Log = cfg.Log.With("component", "residency", "node", cfg.Node)
	return &Forwarder{cfg: cfg, fp: cfg.Deployment.Fingerprint(), signer: newSigner(cfg.ForwardKey)}, nil
}

// Wrap serves the API requests (under /api/) homed in this region with next, forwards
// those homed elsewhere, and refuses what cannot be placed (fail closed). A request
// forwarded here by another node is authenticated, never forwarded again, and served
// with its client's address (from X-Forwarded-For, trusted on such requests only) as
// its RemoteAddr, so that rate limits and the audit trail see the client, not the node.
// Other paths (pages, signalling, WHIP and WHEP) pass to next untouched.
func (f *Forwarder) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		if len(r.Header.Values(ForwardedHeader)) > 0 {
			f.receive(next, w, r)
			return
		}
		home, err := f.home(r)
		if err != nil {
			f.cfg.Log.WarnContext(r.Context(), "request's home region not found", "path", r.URL.Path, "err", err)
			httpapi.WriteError(w, http.StatusServiceUnavailable, CodeControlPlaneUnavailable,
				"the deployment's directory is not answering, so this request cannot be sent to its home region; try again shortly")
			return
		}
		if home == "" || home == f.cfg.Region {
			next.ServeHTTP(w, r)
			return
		}
		f.forward(w, r, home)
	})
}

// receive serves a request another node forwarded here, once its header checks out.
func (f *Forwarder) receive(next http.Handler, w http.ResponseWriter, r *http.Request) {
	fw, err := f.signer.verify(r, f.cfg.Region, f.cfg.Now())
	if err != nil && f.cfg.Audit != nil {
		remote := clientAddr(r).String()
		f.cfg.Audit.Refusal(r.Context(), remote, store.AuditEntry{At: f.cfg.Now(), Actor: "anonymous",
			Action: "request.forwarded", Outcome: "refused", Detail: fmt.Sprintf("%v; from=%s path=%s", err, remote, r.URL.Path)})
	}
	switch {
	case errors.Is(err, ErrWrongHome):
		f.cfg.Log.WarnContext(r.Context(), "forwarded request outside its home region refused", "origin", fw.Origin, "err", err)
		httpapi.WriteError(w, http.StatusMisdirectedRequest, CodeMisdirected,
			"this request was forwarded to another region than this node's, and is not forwarded again")
		return
	case errors.Is(err, ErrBusy):
		f.cfg.Log.WarnContext(r.Context(), "forwarded request refused: too many to check for replays", "origin", fw.Origin)
		httpapi.WriteError(w, http.StatusServiceUnavailable, CodeForwardingBusy,
			"this node is receiving more forwarded requests than it can check; try again shortly")
		return
	case err != nil:
		f.cfg.Log.WarnContext(r.Context(), "forwarding header refused", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
		httpapi.WriteError(w, http.StatusForbidden, CodeForwardingRefused,
			"the request carries a forwarding header that is not a valid one of this deployment")
		return
	}
	r.RemoteAddr = net.JoinHostPort(fw.ClientIP.String(), "0")
	next.ServeHTTP(w, r)
}

// forward sends r to a node of home, or answers 503 when none answers.
func (f *Forwarder) forward(w http.ResponseWriter, r *http.Request, home string) {
	node, ok := f.pick(home)
	if !ok {
		httpapi.WriteError(w, http.StatusServiceUnavailable, CodeHomeRegionUnavailable,
			"no node of the region that keeps this data ("+home+") is up; it is not served from anywhere else")
		return
	}
	target, err := url.Parse(node.HTTPURL)
	if err != nil { // a heartbeat's URL is checked on receipt
		httpapi.WriteError(w, http.StatusServiceUnavailable, CodeHomeRegionUnavailable, "the home region's node has no usable address")
		return
	}
	// The MAC covers the body, so it is read first; the API refuses a larger one anyway.
	body, ok := bodyOf(r)
	if !ok {
		httpapi.WriteError(w, http.StatusBadRequest, "body_too_large", "the request body is larger than any API request takes (1 MiB)")
		return
	}
	client := clientAddr(r)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// The host the client asked for, which the home node's cross-origin check
			// compares with the request's Origin.
			pr.Out.Host = pr.In.Host
			f.signer.sign(pr.Out, body, f.cfg.Node, home, client, f.cfg.Now())
		},
		Transport: f.cfg.Transport,
		ErrorLog:  slog.NewLogLogger(f.cfg.Log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			f.cfg.Log.WarnContext(r.Context(), "forwarding to the home region failed", "home", home, "to", node.ID, "err", err)
			httpapi.WriteError(w, http.StatusServiceUnavailable, CodeHomeRegionUnavailable,
				"the region that keeps this data ("+home+") did not answer; it is not served from anywhere else")
		},
	}
	rp.ServeHTTP(w, r)
}

// pick chooses the node of home to forward to: up, of this deployment's region list,
// not draining if any is not, least loaded, then lowest id.
func (f *Forwarder) pick(home string) (topology.NodeInfo, bool) {
	now := f.cfg.Now()
	var best topology.NodeInfo
	found := false
	for _, n := range f.cfg.Nodes() {
		if n.Region != home || n.ID == f.cfg.Node || n.Fingerprint != f.fp || !n.Up(now, topology.DefaultDownAfter) {
			continue
		}
		if !found || better(n, best) {
			best, found = n, true
		}
	}
	return best, found
}

func better(a, b topology.NodeInfo) bool {
	if a.Draining != b.Draining {
		return !a.Draining
	}
	// Load relative to capacity, compared without division.
	if la, lb := a.Load*b.Capacity, b.Load*a.Capacity; la != lb {
		return la < lb
	}
	return a.ID < b.ID
}

// clientAddr is the address the request came from (never a header a client could set).
func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return ap.Addr().Unmap()
}

// Close drops the idle connections to other nodes.
func (f *Forwarder) Close() {
	if t, ok := f.cfg.Transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}
