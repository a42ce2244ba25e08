package bus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"
)

// secretUser is the user name that goes with Config.Secret.
const secretUser = "meridian"

// serverOptions builds fresh options for one start of the embedded server: Options.Clone
// shares *Account pointers between servers, so nothing here is reused across starts.
func serverOptions(cfg Config) (*server.Options, error) {
	host, port, err := hostPort(cfg.Listen, "127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("bus: listen: %w", err)
	}
	opts := &server.Options{
		ServerName: cfg.NodeID,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		// Above the largest thing the bus sends: a policy document (1 MiB at most) as an
		// activation announced to every node.
		MaxPayload: 2 << 20,
	}
	if cfg.Secret != "" {
		// The server keeps a bcrypt hash of the secret for its client listener, as nats-server
		// asks of any password it checks (it warns of a plaintext one on every start).
		h, err := bcrypt.GenerateFromPassword([]byte(cfg.Secret), bcrypt.DefaultCost)
		if err != nil {
			return nil, fmt.Errorf("bus: hash the secret: %w", err)
		}
		opts.Username, opts.Password = secretUser, string(h)
	}
	var tc *tls.Config
	if cfg.TLS != nil {
		if tc, err = cfg.TLS.serverTLS(); err != nil {
			return nil, err
		}
		opts.TLSConfig, opts.TLSVerify, opts.TLSTimeout = tc, true, tlsTimeout
	}
	if cfg.Cluster.Listen == "" {
		if len(cfg.Cluster.Routes) > 0 || cfg.Gateways.Listen != "" {
			return nil, errors.New("bus: cluster routes and gateways need cluster.listen")
		}
		return opts, nil
	}
	chost, cport, err := hostPort(cfg.Cluster.Listen, "127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("bus: cluster listen: %w", err)
	}
	opts.Cluster = server.ClusterOpts{Name: cfg.Region, Host: chost, Port: cport}
	if tc != nil {
		opts.Cluster.TLSConfig, opts.Cluster.TLSTimeout = tc.Clone(), tlsTimeout
	}
	if cfg.Secret != "" {
		opts.Cluster.Username, opts.Cluster.Password = secretUser, cfg.Secret
	}
	routes := cfg.Cluster.Routes
	if cfg.Gateways.Listen != "" {
		// A one-server cluster with a gateway does not start JetStream without a route; a
		// route to its own cluster port is enough, and harmless in larger clusters.
		if cport <= 0 {
			return nil, errors.New("bus: a node with gateways needs a fixed cluster.listen port")
		}
		if self := "nats://" + net.JoinHostPort(chost, strconv.Itoa(cport)); !slices.Contains(routes, self) {
			routes = append(slices.Clone(routes), self)
		}
	}
	if opts.Routes, err = parseURLs(routes, cfg.Secret); err != nil {
		return nil, fmt.Errorf("bus: cluster routes: %w", err)
	}
	if cfg.Gateways.Listen == "" {
		if len(cfg.Gateways.Peers) > 0 {
			return nil, errors.New("bus: gateway peers need gateways.listen")
		}
		return opts, nil
	}
	ghost, gport, err := hostPort(cfg.Gateways.Listen, "127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("bus: gateway listen: %w", err)
	}
	opts.Gateway = server.GatewayOpts{Name: cfg.Region, Host: ghost, Port: gport}
	if tc != nil {
		opts.Gateway.TLSConfig, opts.Gateway.TLSTimeout = tc.Clone(), tlsTimeout
	}
	if cfg.Secret != "" {
		opts.Gateway.Username, opts.Gateway.Password = secretUser, cfg.Secret
	}
	for region, peers := range cfg.Gateways.Peers {
		if err := Token(region); err != nil {
			return nil, fmt.Errorf("bus: gateway peer region: %w", err)
		}
		if region == cfg.Region {
			continue
		}
		urls, err := parseURLs(peers, cfg.Secret)
		if err != nil {
			return nil, fmt.Errorf("bus: gateway peers of %s: %w", region, err)
		}
		opts.Gateway.Gateways = append(opts.Gateway.Gateways, &server.RemoteGatewayOpts{Name: region, URLs: urls})
	}
	return opts, nil
}

// hostPort splits a listen address; port 0 means any free port (nats-server's -1, its 0
// being the default port).
func hostPort(addr, defHost string) (string, int, error) {
	if addr == "" {
		return defHost, server.RANDOM_PORT, nil
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if h == "" {
		h = defHost
	}
	return h, port, nil
}

// parseURLs parses route or gateway URLs, adding the secret as their credentials.
func parseURLs(raw []string, secret string) ([]*url.URL, error) {
	out := make([]*url.URL, 0, len(raw))
	for _, r := range raw {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("bad url %q: want nats://host:port", r)
		}
		if secret != "" {
			u.User = url.UserPassword(secretUser, secret)
		}
		out = append(out, u)
	}
	return out, nil
}

// startServer starts an embedded server and waits until it accepts client connections
// (tens of milliseconds; JetStream becomes ready later, in the background). A fatal error
// while starting (a port in use, say) is returned instead.
func startServer(cfg Config, l server.Logger, fatal func() error) (*server.Server, error) {
	opts, err := serverOptions(cfg)
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded nats-server: %w", err)
	}
	srv.SetLoggerV2(l, cfg.Debug, false, false)
	srv.Start()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if srv.ReadyForConnections(50 * time.Millisecond) {
			if err := fatal(); err != nil {
				break
			}
			return srv, nil
		}
		if fatal() != nil {
			break
		}
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	if err := fatal(); err != nil {
		return nil, err
	}
	return nil, errors.New("bus: embedded nats-server did not start listening within 10s")
}
