package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says how a node reaches the control plane.
type Config struct {
	NodeID string // unique in the deployment; the embedded server's name
	Region string // the region id; the embedded server's cluster and gateway name

	// Listen is the embedded server's client address (default 127.0.0.1 on any free port:
	// the node itself connects in-process, so nothing outside needs it by default).
	Listen string
	// Cluster joins the nodes of one region.
	Cluster ClusterConfig
	// Gateways join regions into a supercluster.
	Gateways GatewayConfig

	// ExternalURL, when set, uses an external NATS cluster or supercluster instead of
	// embedding a server; its clusters must be named after the region ids.
	ExternalURL string
	// StoreDir is the embedded server's JetStream directory, one per node.
	StoreDir string
	// Secret, when set, is required of every client, route and gateway connection (user
	// "meridian"): the deployment's nodes share it. Without it, anyone who reaches the
	// listeners joins the bus, which is why they default to loopback.
	Secret string
	// TLS, when set, puts every route, gateway and client connection on TLS with
	// certificates of the deployment's CA (and a connection to ExternalURL too).
	TLS *TLSFiles

	// RequestTimeout bounds every control-plane request (default 2s).
	RequestTimeout time.Duration
	// Debug passes the embedded server's debug logs through.
	Debug bool
}

// ClusterConfig lists the routes between the nodes of one region.
type ClusterConfig struct {
	Listen string   // host:port for routes from the region's other nodes
	Routes []string // nats://host:port of the region's other nodes
}

// GatewayConfig joins this region to the others.
type GatewayConfig struct {
	Listen string              // host:port for gateway connections from other regions
	Peers  map[string][]string // region id -> nats://host:port of its gateways
}

// connectTimeout bounds the connection's handshake at least.
const connectTimeout = 10 * time.Second

// ErrNotReady is returned (wrapped) by callers that need the control plane while it does
// not answer.
var ErrNotReady = errors.New("bus: control plane not ready")

// Bus is a node's connection to the control plane.
type Bus struct {
	cfg Config
	log *slog.Logger
	srv *server.Server // nil with an external URL
	nc  *nats.Conn
	js  jetstream.JetStream

	jsOK    atomic.Bool
	fails   int // consecutive failed probes, owned by probe's caller under probeMu
	probeMu sync.Mutex
	closing atomic.Bool
	mu      sync.Mutex
	reason  error // why not ready, for Err
	fatal   error // set once by the embedded server's fatal error

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Start starts the embedded server (or connects to the external one) and returns once the
// connection is up; JetStream readiness follows in the background, see [Bus.Ready].
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Bus, error) {
	if err := Token(cfg.NodeID); err != nil {
		return nil, fmt.Errorf("bus: node id: %w", err)
	}
	if err := Token(cfg.Region); err != nil {
		return nil, fmt.Errorf("bus: region: %w", err)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 2 * time.Second
	}
	log = log.With("component", "bus", "node", cfg.NodeID, "region", cfg.Region)
	b := &Bus{cfg: cfg, log: log, stop: make(chan struct{}), done: make(chan struct{}), reason: ErrNotReady}

	copts := []nats.Option{
		nats.Name(cfg.NodeID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		// Connecting (the handshake, in-process included) may take longer than a request
		// on a machine that is busy starting several servers; it happens once.
		nats.Timeout(max(cfg.RequestTimeout, connectTimeout)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("control plane error", "error", err)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.jsOK.Store(false)
			if b.closing.Load() {
				return
			}
			b.setReason(fmt.Errorf("%w: disconnected: %v", ErrNotReady, err))
			log.Warn("control plane disconnected", "error", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("control plane reconnected") }),
	}
	if cfg.Secret != "" {
		copts = append(copts, nats.UserInfo(secretUser, cfg.Secret))
	}
	var err error
	if cfg.ExternalURL != "" {
		if cfg.Listen != "" || cfg.Cluster.Listen != "" || cfg.Gateways.Listen != "" {
			return nil, errors.New("bus: external_url excludes the embedded server's listen, cluster and gateway settings")
		}
		// RetryOnFailedConnect lets a node start while the external control plane is
		// down: it then reports not ready until the connection comes up.
		copts = append(copts, nats.RetryOnFailedConnect(true))
		if cfg.TLS != nil {
			topts, err := cfg.TLS.clientOptions()
			if err != nil {
				return nil, err
			}
			copts = append(copts, topts...)
		}
		b.nc, err = nats.Connect(cfg.ExternalURL, copts...)
	} else {
		if cfg.StoreDir == "" {
			return nil, errors.New("bus: store_dir is required for the embedded server")
		}
		b.srv, err = startServer(cfg, serverLogger{log: log.With("component", "nats-server"), fatal: b.setFatal}, b.fatalErr)
		if err != nil {
			return nil, err
		}
		copts = append(copts, nats.InProcessServer(b.srv))
		b.nc, err = nats.Connect("", copts...)
	}
	if err != nil {
		b.shutdownServer()
		return nil, fmt.Errorf("bus: connect: %w", err)
	}
	if b.js, err = jetstream.New(b.nc); err != nil {
		b.nc.Close()
		b.shutdownServer()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	go b.watch()
	return b, nil
}

// watch probes JetStream once a second: readiness means the control plane answered within
// the request timeout, not merely that a TCP connection is open.
func (b *Bus) watch() {
	defer close(b.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		b.probe()
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
	}
}

// probe asks JetStream for the account's info. One slow answer on a busy machine is not
// an outage: readiness is lost after two failed probes in a row, or at once when the
// connection drops.
func (b *Bus) probe() {
	b.probeMu.Lock()
	defer b.probeMu.Unlock()
	if b.fatalErr() != nil {
		b.jsOK.Store(false)
		return
	}
	if !b.nc.IsConnected() {
		b.jsOK.Store(false)
		b.setReason(fmt.Errorf("%w: not connected", ErrNotReady))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.RequestTimeout)
	defer cancel()
	if _, err := b.js.AccountInfo(ctx); err != nil {
		if b.fails++; b.fails < 2 && b.jsOK.Load() {
			return
		}
		if b.jsOK.Swap(false) {
			b.log.Warn("control plane not ready", "error", err)
		}
		b.setReason(fmt.Errorf("%w: jetstream: %v", ErrNotReady, err))
		return
	}
	b.fails = 0
	if !b.jsOK.Swap(true) {
		b.log.Info("control plane ready")
	}
}

func (b *Bus) setReason(err error) {
	b.mu.Lock()
	b.reason = err
	b.mu.Unlock()
}

func (b *Bus) setFatal(err error) {
	b.mu.Lock()
	if b.fatal == nil {
		b.fatal = err
	}
	b.mu.Unlock()
	b.jsOK.Store(false)
}

func (b *Bus) fatalErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fatal
}

// Ready reports whether the control plane answered the last probe (at most a second ago)
// and the connection is up.
func (b *Bus) Ready() bool { return b.jsOK.Load() && b.nc.IsConnected() }

// Err is nil when ready, else why not (wrapping [ErrNotReady]).
func (b *Bus) Err() error {
	if b.Ready() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fatal != nil {
		return fmt.Errorf("%w: %v", ErrNotReady, b.fatal)
	}
	return b.reason
}

// WaitReady blocks until the control plane is ready or ctx ends.
func (b *Bus) WaitReady(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if b.probe(); b.Ready() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", b.Err(), ctx.Err())
		case <-t.C:
		}
	}
}

// Conn is the NATS connection; subjects published on it must be built with [Subject].
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream is the connection's JetStream context.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// NodeID and Region name this node.
func (b *Bus) NodeID() string { return b.cfg.NodeID }
func (b *Bus) Region() string { return b.cfg.Region }

// RequestTimeout bounds each control-plane request.
func (b *Bus) RequestTimeout() time.Duration { return b.cfg.RequestTimeout }

// ClientURL is the embedded server's client URL ("" with an external URL).
func (b *Bus) ClientURL() string {
	if b.srv == nil {
		return ""
	}
	return b.srv.ClientURL()
}

// Close disconnects and shuts the embedded server down.
func (b *Bus) Close() {
	b.once.Do(func() {
		b.closing.Store(true)
		close(b.stop)
		<-b.done
		b.jsOK.Store(false)
		b.nc.Close()
		b.shutdownServer()
	})
}

func (b *Bus) shutdownServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}
