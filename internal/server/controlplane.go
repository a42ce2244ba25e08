package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/meridian-video/meridian/internal/bus"
	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/topology"
)

// standaloneWait bounds how long Start waits for a standalone node's control plane.
const standaloneWait = 10 * time.Second

// ErrControlPlane is returned (wrapped) by what needs the control plane while it does not
// answer: the node refuses rather than guess (fail closed).
var ErrControlPlane = errors.New("server: control plane not ready")

// startControlPlane brings up the bus, the directory and the registry, in that order.
// None of them waits for JetStream: see Ready.
func (s *Server) startControlPlane() error {
	cfg := s.cfg
	secret, err := cfg.BusSecret()
	if err != nil {
		return err
	}
	if secret == "" && cfg.Bus.Standalone() {
		// Nothing but this process connects to a standalone server (in-process), so a
		// secret of its own each start keeps anything else on the machine out.
		secret = rand.Text()
	}
	var busTLS *bus.TLSFiles
	if t := cfg.Bus.TLS; t.Enabled() {
		busTLS = &bus.TLSFiles{CertFile: t.CertFile, KeyFile: t.KeyFile, CAFile: t.CAFile}
	} else if !cfg.Bus.Standalone() {
		s.log.Warn("the bus runs without TLS: routing facts, heartbeats and the bus secret cross the network in clear; set bus.tls unless the nodes' links are private")
	}
	s.Bus, err = bus.Start(context.Background(), bus.Config{
		NodeID:      cfg.Node(),
		Region:      cfg.Region,
		Listen:      cfg.Bus.Listen,
		Cluster:     bus.ClusterConfig{Listen: cfg.Bus.Cluster.Listen, Routes: cfg.Bus.Cluster.Routes},
		Gateways:    bus.GatewayConfig{Listen: cfg.Bus.Gateways.Listen, Peers: cfg.Bus.Gateways.Peers},
		ExternalURL: cfg.Bus.ExternalURL,
		// One directory per node: the nodes of a region may share a data directory.
		StoreDir: filepath.Join(cfg.BusStoreDir(), cfg.Node()),
		Secret:   secret,
		TLS:      busTLS,
	}, s.log)
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	dcfg := directory.Config{Deployment: s.Deployment, Replicas: cfg.Bus.Replicas}
	if cfg.Bus.Standalone() {
		// No other region's bucket can ever reach a bus of its own: nothing to wait for.
		dcfg.SourceWait = time.Millisecond
	}
	s.Directory, err = directory.Open(context.Background(), s.Bus, dcfg, s.log)
	if err != nil {
		s.Bus.Close()
		return fmt.Errorf("control plane: %w", err)
	}
	s.Registry, err = directory.StartRegistry(s.Bus, directory.RegistryConfig{Deployment: s.Deployment}, s.nodeInfo, s.log)
	if err != nil {
		s.Directory.Close()
		s.Bus.Close()
		return fmt.Errorf("control plane: %w", err)
	}
	s.placer.Directory, s.placer.Registry = s.Directory, s.Registry
	if s.endedSub, err = s.Bus.Conn().Subscribe(endedPrefix+".*", s.onMeetingEnded); err != nil {
		s.Registry.Close()
		s.Directory.Close()
		s.Bus.Close()
		return fmt.Errorf("control plane: subscribe: %w", err)
	}
	return nil
}

// endedPrefix starts the subjects on which a meeting's end is told to every node:
// meridian.ended.<meeting id> (an opaque number, no personal data).
const endedPrefix = "meridian.ended"

// meetingEnded closes an ended meeting's room here and tells every node, since the node
// that ended it (the host's API call, a time limit) need not be the one carrying it.
func (s *Server) meetingEnded(id, reason string) {
	s.closeMeetingRoom(id, reason)
	subject, err := bus.Subject("meridian", "ended", id)
	if err == nil {
		err = s.Bus.Conn().Publish(subject, []byte(reason))
	}
	if err != nil {
		// The carrier still refuses every new entry (the meeting is ended in the store);
		// those in its room stay until they leave.
		s.log.Warn("meeting end not told to the other nodes", "meeting", id, "err", err)
	}
}

func (s *Server) onMeetingEnded(m *nats.Msg) {
	id := strings.TrimPrefix(m.Subject, endedPrefix+".")
	if len(m.Data) > 256 || bus.Token(id) != nil {
		return
	}
	s.closeMeetingRoom(id, string(m.Data))
}

// nodeOrigins are the browser origins of the deployment's nodes (from the registry, this
// node's public URL included): a page served by any of them may open a signalling
// connection here, where placement sent it. Nothing else is allowed across origins.
func (s *Server) nodeOrigins() []string {
	snap := s.Registry.Snapshot()
	out := make([]string, 0, len(snap)+1)
	out = append(out, originPattern(s.HTTPURL()))
	for _, n := range snap {
		out = append(out, originPattern(n.HTTPURL))
	}
	return out
}

// nodeSignalURLs are the signalling URLs of the deployment's nodes, from the registry.
func (s *Server) nodeSignalURLs() []string {
	snap := s.Registry.Snapshot()
	out := make([]string, 0, len(snap))
	for _, n := range snap {
		out = append(out, n.SignalURL)
	}
	return out
}

// originPattern is the pattern matching exactly the origin of base URL u: scheme and host,
// with path.Match's special characters (an IPv6 address's brackets) escaped.
func originPattern(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.IndexByte(u[i+3:], '/'); j >= 0 {
			u = u[:i+3+j]
		}
	}
	var b strings.Builder
	for _, c := range u {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (s *Server) closeControlPlane() {
	if err := s.endedSub.Unsubscribe(); err != nil {
		s.log.Debug("unsubscribe", "err", err)
	}
	s.Registry.Close()
	s.Directory.Close()
	s.Bus.Close()
}

// nodeInfo is this node's heartbeat; the registry adds id, region and fingerprint.
func (s *Server) nodeInfo() topology.NodeInfo {
	return topology.NodeInfo{
		HTTPURL:   s.HTTPURL(),
		SignalURL: s.SignalURL(),
		Capacity:  s.cfg.Capacity,
		Load:      s.SFU.Seated(),
		Draining:  s.draining.Load(),
	}
}

// HTTPURL is the base URL this node announces: public_url, or the address it is bound to.
func (s *Server) HTTPURL() string { return strings.TrimRight(s.public.BaseURL(), "/") }

// SignalURL is this node's signalling WebSocket, the one a join answer names.
func (s *Server) SignalURL() string {
	u := s.HTTPURL()
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		return "wss://" + rest + "/ws"
	}
	return "ws://" + strings.TrimPrefix(u, "http://") + "/ws"
}

// NodeID and Region name this node in the deployment.
func (s *Server) NodeID() string { return s.cfg.Node() }
func (s *Server) Region() string { return s.cfg.Region }

// ControlPlaneErr is nil when the control plane answers: the directory is ready and this
// node's own last heartbeat came back through the bus within topology.DefaultDownAfter.
// Otherwise it says why (wrapping ErrControlPlane).
func (s *Server) ControlPlaneErr() error {
	if err := s.Directory.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrControlPlane, err)
	}
	n, ok := s.Registry.Node(s.NodeID())
	if !ok || !n.Up(time.Now(), topology.DefaultDownAfter) {
		return fmt.Errorf("%w: this node's heartbeat has not come back through the bus", ErrControlPlane)
	}
	return nil
}

// Ready reports whether the node serves: started, not stopping, its control plane
// answering. /healthz says 503 otherwise.
func (s *Server) Ready() bool { return s.ready.Load() && s.ControlPlaneErr() == nil }

// WaitReady blocks until Ready or ctx ends.
func (s *Server) WaitReady(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !s.Ready() {
		select {
		case <-ctx.Done():
			err := s.ControlPlaneErr()
			if err == nil {
				err = errors.New("server: stopping")
			}
			return fmt.Errorf("%w (%v)", err, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Draining reports whether the node is draining: it takes no new meeting.
func (s *Server) Draining() bool { return s.draining.Load() }
