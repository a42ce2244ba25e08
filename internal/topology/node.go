package topology

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// Limits on a heartbeat, which comes from another node.
const (
	maxMediaAddrs = 16
	maxCapacity   = 1_000_000
)

// NodeInfo is what a node announces about itself, about once a second: the heartbeat
// payload of the node registry. It holds no personal data, so it may cross every gateway.
type NodeInfo struct {
	// ID is unique in the deployment: [a-z0-9][a-z0-9_-]{0,63}, safe as a NATS subject
	// token.
	ID     string `json:"id"`
	Region string `json:"region"`
	// HTTPURL is the node's public base URL (http or https); SignalURL its signalling
	// WebSocket (ws or wss), which a join answer names.
	HTTPURL   string `json:"http_url"`
	SignalURL string `json:"signal_url"`
	// MediaAddrs are the host:port addresses its media is reached on.
	MediaAddrs []string `json:"media_addrs,omitempty"`
	// Capacity is the configured maximum of participants; Load the participants now.
	Capacity int `json:"capacity"`
	Load     int `json:"load"`
	// Draining: the node takes no new meeting and keeps its live ones.
	Draining bool `json:"draining,omitempty"`
	// Fingerprint is the node's Deployment.Fingerprint.
	Fingerprint string `json:"fingerprint"`
	// Seen is when the heartbeat was received. A registry sets it from its own clock on
	// receipt, never trusting the sender's, so that a node with a clock ahead cannot stay
	// alive after it stops.
	Seen time.Time `json:"seen"`
}

// Validate reports the first field of a heartbeat that cannot be right. It checks shape
// only; whether the region exists is the deployment's question (Deployment.Lookup).
func (n NodeInfo) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &Error{Code: CodeInvalidInput, Message: "node " + field + ": " + fmt.Sprintf(format, args...)}
	}
	if !ValidNodeID(n.ID) {
		return bad("id", "%q: want [a-z0-9][a-z0-9_-]{0,63}", n.ID)
	}
	if !ValidRegionID(n.Region) {
		return bad("region", "%q is not a region id", n.Region)
	}
	if !validURL(n.HTTPURL, "http", "https") {
		return bad("http_url", "%q: want an http or https URL with a host and no user, query or fragment", n.HTTPURL)
	}
	if !validURL(n.SignalURL, "ws", "wss") {
		return bad("signal_url", "%q: want a ws or wss URL with a host and no user, query or fragment", n.SignalURL)
	}
	if len(n.MediaAddrs) > maxMediaAddrs {
		return bad("media_addrs", "%d addresses; at most %d", len(n.MediaAddrs), maxMediaAddrs)
	}
	for _, a := range n.MediaAddrs {
		if !validHostPort(a) {
			return bad("media_addrs", "%q: want host:port", a)
		}
	}
	if n.Capacity < 1 || n.Capacity > maxCapacity {
		return bad("capacity", "%d: want 1 to %d participants", n.Capacity, maxCapacity)
	}
	if n.Load < 0 {
		return bad("load", "%d is negative", n.Load)
	}
	if !validFingerprint(n.Fingerprint) {
		return bad("fingerprint", "%q: want 64 lowercase hex digits", n.Fingerprint)
	}
	return nil
}

// ValidNodeID reports whether id has the shape of a node id: [a-z0-9][a-z0-9_-]{0,63}.
func ValidNodeID(id string) bool {
	if id == "" || len(id) > 64 || id[0] == '-' || id[0] == '_' {
		return false
	}
	for i := range len(id) {
		if c := id[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func validURL(s string, schemes ...string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	for _, sc := range schemes {
		if u.Scheme == sc {
			// A query is part of no base URL; the signalling URL may carry none either.
			return u.RawQuery == ""
		}
	}
	return false
}

func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && p >= 1 && p <= 65535
}

func validFingerprint(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
