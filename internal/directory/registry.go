package directory

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/topology"
)

// Heartbeat subjects are meridian.nodes.<region>.<node>: region and node ids only.
const (
	heartbeatPrefix  = "meridian.nodes"
	maxHeartbeatSize = 16 << 10
)

// RegistryConfig tunes the node registry.
type RegistryConfig struct {
	Deployment topology.Deployment
	// Interval between this node's heartbeats (default 1s).
	Interval time.Duration
	// Expire drops a node silent for this long from the registry (default 30s). Place
	// counts a node down long before, from its Seen (topology.DefaultDownAfter).
	Expire time.Duration
	// Now is the clock (default time.Now); Seen comes from it, never from the sender.
	Now func() time.Time
}

// Registry announces this node and keeps every node's last heartbeat.
type Registry struct {
	b      *bus.Bus
	cfg    RegistryConfig
	fp     string
	self   func() topology.NodeInfo
	log    *slog.Logger
	sub    *nats.Subscription
	sendTo string

	mu       sync.Mutex
	nodes    map[string]topology.NodeInfo
	mismatch map[string]bool // node id -> announced another region list (logged once)
	// announced is this node's latest heartbeat: its own entry shows it at once, while
	// an earlier one still on the bus cannot set it back.
	announced topology.NodeInfo

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// StartRegistry subscribes to every node's heartbeat and starts announcing this node's:
// self is called before each heartbeat for the node's URLs, capacity, load and drain
// state; the registry sets its id, region and fingerprint itself.
func StartRegistry(b *bus.Bus, cfg RegistryConfig, self func() topology.NodeInfo, log *slog.Logger) (*Registry, error) {
	if err := cfg.Deployment.Validate(); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	if _, ok := cfg.Deployment.Lookup(b.Region()); !ok {
		return nil, fmt.Errorf("registry: own region %q not among the deployment's regions", b.Region())
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Expire <= 0 {
		cfg.Expire = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sendTo, err := bus.Subject("meridian", "nodes", b.Region(), b.NodeID())
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	r := &Registry{
		b: b, cfg: cfg, fp: cfg.Deployment.Fingerprint(), self: self, sendTo: sendTo,
		log:   log.With("component", "registry", "node", b.NodeID()),
		nodes: map[string]topology.NodeInfo{}, mismatch: map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	if r.sub, err = b.Conn().Subscribe(heartbeatPrefix+".*.*", r.receive); err != nil {
		return nil, fmt.Errorf("registry: subscribe: %w", err)
	}
	go r.run()
	return r, nil
}

func (r *Registry) run() {
	defer close(r.done)
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		r.announce()
		r.expire()
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
	}
}

// AnnounceNow sends this node's heartbeat at once, not at the next tick: a change that
// placement must see soon (draining) goes out without waiting.
func (r *Registry) AnnounceNow() { r.announce() }

func (r *Registry) announce() {
	n := r.self()
	n.ID, n.Region, n.Fingerprint, n.Seen = r.b.NodeID(), r.b.Region(), r.fp, time.Time{}
	if err := n.Validate(); err != nil {
		r.log.Error("not announcing an invalid heartbeat", "error", err)
		return
	}
	data, err := json.Marshal(n)
	if err != nil {
		r.log.Error("encode heartbeat", "error", err)
		return
	}
	// Publish only queues while disconnected; peers then see this node go silent, which
	// is what it is to them.
	if err := r.b.Conn().Publish(r.sendTo, data); err != nil {
		r.log.Debug("heartbeat not sent", "error", err)
	}
	// This node's own entry takes the new state at once (a draining node must not place
	// the next meeting on itself while its heartbeat is on the way), but keeps the time it
	// was last heard over the bus: being alive is still proven only by the round trip.
	r.mu.Lock()
	r.announced = n
	if old, ok := r.nodes[n.ID]; ok {
		n.Seen = old.Seen
		r.nodes[n.ID] = n
	}
	r.mu.Unlock()
}

func (r *Registry) receive(m *nats.Msg) {
	now := r.cfg.Now()
	if len(m.Data) > maxHeartbeatSize {
		r.log.Warn("heartbeat too large, ignored", "subject", m.Subject, "bytes", len(m.Data))
		return
	}
	var n topology.NodeInfo
	if err := json.Unmarshal(m.Data, &n); err != nil {
		r.log.Warn("heartbeat not JSON, ignored", "subject", m.Subject, "error", err)
		return
	}
	if err := n.Validate(); err != nil {
		r.log.Warn("invalid heartbeat, ignored", "subject", m.Subject, "error", err)
		return
	}
	if m.Subject != heartbeatPrefix+"."+n.Region+"."+n.ID {
		r.log.Warn("heartbeat on another node's subject, ignored", "subject", m.Subject, "node", n.ID)
		return
	}
	n.Seen = now
	r.mu.Lock()
	defer r.mu.Unlock()
	if n.ID == r.announced.ID && m.Subject == r.sendTo {
		fresh := r.announced
		fresh.Seen = now
		n = fresh
	}
	if n.Fingerprint != r.fp {
		if !r.mismatch[n.ID] {
			r.log.Error("node announces another region list; it is never chosen until its config matches",
				"peer", n.ID, "peer_region", n.Region, "peer_fingerprint", n.Fingerprint, "fingerprint", r.fp)
		}
		r.mismatch[n.ID] = true
	} else if r.mismatch[n.ID] {
		delete(r.mismatch, n.ID)
		r.log.Info("node's region list matches again", "peer", n.ID)
	}
	r.nodes[n.ID] = n
}

func (r *Registry) expire() {
	cutoff := r.cfg.Now().Add(-r.cfg.Expire)
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, n := range r.nodes {
		if n.Seen.Before(cutoff) {
			delete(r.nodes, id)
			delete(r.mismatch, id)
		}
	}
}

// Snapshot is every node heard from within Expire, this one included, ordered by id: the
// input topology.Place takes. Seen is the local time of the last heartbeat.
func (r *Registry) Snapshot() []topology.NodeInfo {
	r.mu.Lock()
	out := make([]topology.NodeInfo, 0, len(r.nodes))
	for _, n := range r.nodes {
		n.MediaAddrs = slices.Clone(n.MediaAddrs)
		out = append(out, n)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b topology.NodeInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Node is one node's last heartbeat.
func (r *Registry) Node(id string) (topology.NodeInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.nodes[id]
	n.MediaAddrs = slices.Clone(n.MediaAddrs)
	return n, ok
}

// Mismatched reports whether the node's last heartbeat announced another region list
// (Place never chooses it).
func (r *Registry) Mismatched(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mismatch[id]
}

// Close stops announcing and listening.
func (r *Registry) Close() {
	r.once.Do(func() {
		close(r.stop)
		<-r.done
		if err := r.sub.Unsubscribe(); err != nil {
			r.log.Debug("unsubscribe", "error", err)
		}
	})
}
