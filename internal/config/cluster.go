package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/topology"
)

// Defaults of a node's place in a deployment.
const (
	DefaultCapacity     = 1000
	DefaultDrainTimeout = 15 * time.Minute
	maxCapacity         = 1_000_000
)

// Bus says how the node reaches the control plane (internal/bus): an embedded NATS server
// by default, standalone on a loopback port, with its JetStream store under
// <data>/nats. Cluster joins the nodes of one region, Gateways the regions.
type Bus struct {
	// Listen is the embedded server's client address; default 127.0.0.1 on any free port
	// (the node connects in-process, nothing else needs it).
	Listen   string      `yaml:"listen"`
	Cluster  BusCluster  `yaml:"cluster"`
	Gateways BusGateways `yaml:"gateways"`
	// ExternalURL uses an external NATS cluster or supercluster instead of embedding a
	// server; its clusters must be named after the region ids.
	ExternalURL string `yaml:"external_url"`
	// SecretFile holds the secret every client, route and gateway connection presents;
	// the deployment's nodes share it. Required with a cluster or gateways (their
	// listeners are reachable from other machines); a relative path in a config file is
	// taken from that file's directory. A standalone node makes a new one at each start.
	SecretFile string `yaml:"secret_file"`
	// Replicas is how many of the region's servers keep its directory bucket: 1 by
	// default; 3 in a region of three or more nodes, so that the region's control plane
	// survives the loss of one (with 1, losing the node that holds it stops the region's
	// placement: it refuses, failing closed).
	Replicas int `yaml:"replicas"`
	// TLS puts routes, gateways and the client listener (or the connection to
	// external_url) on TLS, each peer verified against the deployment's CA.
	TLS BusTLS `yaml:"tls"`
}

// BusTLS names the node's certificate and key for the bus and the deployment's CA (PEM
// files; relative paths in a config file are taken from its directory).
type BusTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	CAFile   string `yaml:"ca_file"`
}

// Enabled reports whether any TLS file is named.
func (t BusTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.CAFile != "" }

// BusCluster lists the routes between the nodes of one region.
type BusCluster struct {
	Listen string   `yaml:"listen"` // host:port for the region's other nodes
	Routes []string `yaml:"routes"` // nats://host:port of the region's nodes
}

// BusGateways joins this region to the others.
type BusGateways struct {
	Listen string              `yaml:"listen"` // host:port for the other regions' gateways
	Peers  map[string][]string `yaml:"peers"`  // region id -> nats://host:port of its gateways
}

// Standalone reports whether the bus is one embedded server on its own: no cluster, no
// gateways, no external NATS.
func (b Bus) Standalone() bool {
	return b.ExternalURL == "" && b.Cluster.Listen == "" && b.Gateways.Listen == ""
}

// BusStoreDir is the embedded server's JetStream directory.
func (c Config) BusStoreDir() string { return filepath.Join(c.DataDir, "nats") }

// BusSecret reads SecretFile; empty without one.
func (c Config) BusSecret() (string, error) {
	if c.Bus.SecretFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(c.Bus.SecretFile)
	if err != nil {
		return "", fmt.Errorf("bus secret_file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < 16 {
		return "", fmt.Errorf("bus secret_file %s: the secret has %d characters; want at least 16", c.Bus.SecretFile, len(s))
	}
	return s, nil
}

// validateCluster checks capacity, drain timeout and the bus settings.
func (c Config) validateCluster(dep topology.Deployment) error {
	if c.Capacity < 1 || c.Capacity > maxCapacity {
		return fmt.Errorf("capacity %d: want 1 to %d participants", c.Capacity, maxCapacity)
	}
	if c.DrainTimeout < 0 {
		return fmt.Errorf("drain_timeout %v: want a duration such as 15m, or 0 to stop at once", c.DrainTimeout)
	}
	b := c.Bus
	if b.Replicas < 0 || b.Replicas > 5 {
		return fmt.Errorf("bus replicas %d: want 1 to 5, or 0 for 1", b.Replicas)
	}
	if b.ExternalURL != "" {
		if b.Listen != "" || b.Cluster.Listen != "" || len(b.Cluster.Routes) > 0 || b.Gateways.Listen != "" || len(b.Gateways.Peers) > 0 {
			return errors.New("bus external_url: leave listen, cluster and gateways out (they configure the embedded server)")
		}
		if u, err := url.Parse(b.ExternalURL); err != nil || u.Host == "" {
			return fmt.Errorf("bus external_url %q: want nats://host:port", b.ExternalURL)
		}
		return nil
	}
	for name, a := range map[string]string{"listen": b.Listen, "cluster listen": b.Cluster.Listen, "gateways listen": b.Gateways.Listen} {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("bus %s %q: want host:port", name, a)
		}
	}
	if b.Cluster.Listen == "" && (len(b.Cluster.Routes) > 0 || b.Gateways.Listen != "") {
		return errors.New("bus: cluster routes and gateways need cluster listen")
	}
	if b.Gateways.Listen == "" && len(b.Gateways.Peers) > 0 {
		return errors.New("bus: gateway peers need gateways listen")
	}
	if err := natsURLs("cluster routes", b.Cluster.Routes); err != nil {
		return err
	}
	for region, urls := range b.Gateways.Peers {
		if _, ok := dep.Lookup(region); !ok {
			return fmt.Errorf("bus gateways peers: %q is not a region of the region list", region)
		}
		if err := natsURLs("gateways peers "+region, urls); err != nil {
			return err
		}
	}
	if t := b.TLS; t.Enabled() && (t.CertFile == "" || t.KeyFile == "" || t.CAFile == "") {
		return errors.New("bus tls: cert_file, key_file and ca_file go together")
	}
	if !b.Standalone() && b.SecretFile == "" {
		return errors.New("bus: a cluster or gateways need secret_file, the secret every node of the deployment shares")
	}
	return nil
}

func natsURLs(field string, urls []string) error {
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "nats" || u.Host == "" || u.User != nil {
			return fmt.Errorf("bus %s: %q: want nats://host:port", field, s)
		}
	}
	return nil
}
