// Package devcluster starts a whole multi-region deployment in one process, every node a
// real Meridian server on loopback with its own HTTP port and embedded NATS (routes between
// the nodes of a region, gateways between regions): what `meridian dev` runs, and what the
// tests of several nodes start (internal/server/servertest).
//
// # Layout
//
// Everything lives under one directory: the bus secret every node shares (bus.secret), the
// bus's TLS certificates and their CA (tls/), and
// per region a data directory <dir>/<region>/ that the region's nodes share: its store
// (SQLite), its signing secret, its region key (region-<region>.key, whose public half
// the region list given to every node carries) and the nodes' JetStream stores
// (nats/<node>/). The nodes of
// a region share its store because any of them may answer a request for the region's
// accounts and meetings, and a meeting that fails over to another node of the region must
// be found there; in production that is the region's PostgreSQL database, and one SQLite
// file (WAL, a busy timeout) is its stand-in on one machine.
package devcluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/devca"
	"github.com/meridian-video/meridian/internal/freeport"
	"github.com/meridian-video/meridian/internal/server"
	"github.com/meridian-video/meridian/internal/token"
	"github.com/meridian-video/meridian/internal/topology"
)

// Spec describes a deployment.
type Spec struct {
	// Regions of the deployment, in list order (see ParseRegions).
	Regions []topology.Region
	// Nodes per region; 1 if zero. RegionNodes overrides it for the regions it names.
	Nodes       int
	RegionNodes map[string]int
	// Dir holds everything (see the package comment); it is created if missing.
	Dir string
	// Capacity of every node; config.DefaultCapacity if zero.
	Capacity int
	// HTTPPort is the first node's HTTP port, the others following in order; 0 gives each
	// node a free port.
	HTTPPort int
	// Configure, if set, adjusts each node's config before it starts.
	Configure func(*config.Config)
	// Log is every node's logger, with node and region attributes added.
	Log *slog.Logger
}

// Node is one running node and the config it runs with.
type Node struct {
	*server.Server
	Config config.Config
}

// Cluster is a running deployment.
type Cluster struct {
	Nodes      []*Node
	Deployment topology.Deployment
	Dir        string
	spec       Spec
}

// Configs builds every node's config, ordered by region (in spec order) then node; node i
// of region r is "<r>-<i+1>".
func Configs(spec Spec) ([]config.Config, error) {
	if len(spec.Regions) == 0 {
		return nil, errors.New("devcluster: no regions")
	}
	if spec.Nodes <= 0 {
		spec.Nodes = 1
	}
	// The bus's listeners name each other's ports before they open.
	var ports freeport.Ports
	dep := topology.Deployment{Regions: spec.Regions}
	if err := dep.Validate(); err != nil {
		return nil, fmt.Errorf("devcluster: %w", err)
	}
	secretFile := filepath.Join(spec.Dir, "bus.secret")
	if err := writeSecret(secretFile); err != nil {
		return nil, err
	}
	regions, err := withKeys(spec.Dir, spec.Regions)
	if err != nil {
		return nil, err
	}
	multi := len(spec.Regions) > 1 || spec.Nodes > 1
	for _, n := range spec.RegionNodes {
		multi = multi || n > 1
	}
	// The bus runs on TLS, as it should in production, with a CA of the deployment's own
	// under <dir>/tls (kept across runs; each node's certificate is made anew).
	var ca *devca.CA
	if multi {
		if ca, err = devca.Open(filepath.Join(spec.Dir, "tls"), "meridian-dev"); err != nil {
			return nil, fmt.Errorf("devcluster: %w", err)
		}
	}
	gateways := map[string][]string{}
	var cfgs []config.Config
	for _, r := range regions {
		first := len(cfgs)
		var routes []string
		count := spec.Nodes
		if n := spec.RegionNodes[r.ID]; n > 0 {
			count = n
		}
		for i := range count {
			c := config.Default()
			c.Addr = "127.0.0.1:0"
			if spec.HTTPPort != 0 {
				c.Addr = fmt.Sprintf("127.0.0.1:%d", spec.HTTPPort+len(cfgs))
			}
			c.DataDir = filepath.Join(spec.Dir, r.ID)
			c.Region, c.NodeID, c.Regions = r.ID, fmt.Sprintf("%s-%d", r.ID, i+1), regions
			if spec.Capacity != 0 {
				c.Capacity = spec.Capacity
			}
			if count >= 3 {
				c.Bus.Replicas = 3 // the region's directory survives the loss of a node
			}
			if multi {
				c.Bus.SecretFile = secretFile
				f, err := ca.Issue(c.NodeID)
				if err != nil {
					return nil, fmt.Errorf("devcluster: %w", err)
				}
				c.Bus.TLS = config.BusTLS{CertFile: f.CertFile, KeyFile: f.KeyFile, CAFile: ca.File}
				p, err := ports.Take()
				if err != nil {
					return nil, err
				}
				c.Bus.Cluster.Listen = fmt.Sprintf("127.0.0.1:%d", p)
				routes = append(routes, "nats://"+c.Bus.Cluster.Listen)
			}
			if len(spec.Regions) > 1 {
				p, err := ports.Take()
				if err != nil {
					return nil, err
				}
				c.Bus.Gateways.Listen = fmt.Sprintf("127.0.0.1:%d", p)
				c.Bus.Gateways.Peers = gateways // filled in for every region below
				gateways[r.ID] = append(gateways[r.ID], "nats://"+c.Bus.Gateways.Listen)
			}
			cfgs = append(cfgs, c)
		}
		for i := first; i < len(cfgs); i++ {
			cfgs[i].Bus.Cluster.Routes = routes
		}
	}
	for i := range cfgs {
		if spec.Configure != nil {
			spec.Configure(&cfgs[i])
		}
		if err := cfgs[i].Validate(); err != nil {
			return nil, fmt.Errorf("devcluster: node %s: %w", cfgs[i].Node(), err)
		}
	}
	return cfgs, nil
}

// withKeys returns the regions with the public key of each region's key, created in its
// data directory (where its nodes find it) if missing: a deployment of several regions
// lists every region's key. A key already in the list is kept.
func withKeys(dir string, regions []topology.Region) ([]topology.Region, error) {
	out := slices.Clone(regions)
	if len(out) < 2 {
		return out, nil
	}
	for i, r := range out {
		if r.PublicKey != "" {
			continue
		}
		path := config.Config{DataDir: filepath.Join(dir, r.ID)}.RegionKeyPath(r.ID)
		k, err := token.LoadOrCreateRegionKey(path, r.ID)
		if err != nil {
			return nil, fmt.Errorf("devcluster: %w", err)
		}
		out[i].PublicKey = k.PublicBase64()
	}
	return out, nil
}

// Start starts every node, one after the other (the nodes of a region share its store,
// whose migrations run on the first open). It does not wait for the control plane: see
// WaitReady. On an error the nodes already started are closed.
func Start(spec Spec) (*Cluster, error) {
	cfgs, err := Configs(spec)
	if err != nil {
		return nil, err
	}
	log := spec.Log
	if log == nil {
		log = slog.Default()
	}
	c := &Cluster{Deployment: topology.Deployment{Regions: cfgs[0].Regions}, Dir: spec.Dir, spec: spec}
	for _, cfg := range cfgs {
		srv, err := server.Start(cfg, log.With("node", cfg.Node()))
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("devcluster: start %s: %w", cfg.Node(), err)
		}
		c.Nodes = append(c.Nodes, &Node{Server: srv, Config: cfg})
	}
	return c, nil
}

// WaitReady blocks until every node's control plane answers and every node has heard
// every other (JetStream's first election in a supercluster takes seconds), or ctx ends.
func (c *Cluster) WaitReady(ctx context.Context) error {
	for _, n := range c.Nodes {
		if err := n.WaitReady(ctx); err != nil {
			return fmt.Errorf("devcluster: %s: %w", n.NodeID(), err)
		}
	}
	for _, n := range c.Nodes {
		if err := n.waitHeard(ctx, len(c.Nodes)); err != nil {
			return fmt.Errorf("devcluster: %s: %w", n.NodeID(), err)
		}
	}
	return nil
}

// Node returns the node with the given id, or nil.
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Nodes {
		if n.NodeID() == id {
			return n
		}
	}
	return nil
}

// Region returns the nodes of a region, in order.
func (c *Cluster) Region(id string) []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Region() == id {
			out = append(out, n)
		}
	}
	return out
}

// Close closes every node (a node closed already stays closed).
func (c *Cluster) Close() error {
	var err error
	for i := len(c.Nodes) - 1; i >= 0; i-- {
		err = errors.Join(err, c.Nodes[i].Close())
	}
	return err
}

// ParseRegions reads "id:JURISDICTION" items, such as "us-west:US,eu-central:EU". A
// well-known id gets its name, location and opt-in from KnownRegion; another gets its id as
// name and 0, 0 as location, which warn reports.
func ParseRegions(list string, warn func(id string)) ([]topology.Region, error) {
	var out []topology.Region
	for item := range strings.SplitSeq(list, ",") {
		id, jur, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok || id == "" || jur == "" {
			return nil, fmt.Errorf("regions: %q: want id:JURISDICTION, such as us-west:US", item)
		}
		r, known := KnownRegion(id)
		if !known {
			if warn != nil {
				warn(id)
			}
			r = topology.Region{Name: id}
		}
		r.ID, r.Jurisdiction = id, jur
		out = append(out, r)
	}
	dep := topology.Deployment{Regions: out}
	if err := dep.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// KnownRegion returns the name, location and opt-in of a well-known region id. Regions in
// CN are opt-in, the case the regions feature was made for.
func KnownRegion(id string) (topology.Region, bool) {
	r, ok := map[string]topology.Region{
		"us-west":      {Name: "US West (Oregon)", Location: topology.LatLng{Lat: 45.6, Lng: -121.2}},
		"us-east":      {Name: "US East (Virginia)", Location: topology.LatLng{Lat: 39.0, Lng: -77.5}},
		"ca-central":   {Name: "Canada Central (Montreal)", Location: topology.LatLng{Lat: 45.5, Lng: -73.6}},
		"sa-east":      {Name: "South America East (Sao Paulo)", Location: topology.LatLng{Lat: -23.5, Lng: -46.6}},
		"eu-central":   {Name: "EU Central (Frankfurt)", Location: topology.LatLng{Lat: 50.1, Lng: 8.7}},
		"eu-west":      {Name: "EU West (Dublin)", Location: topology.LatLng{Lat: 53.3, Lng: -6.3}},
		"uk-south":     {Name: "UK South (London)", Location: topology.LatLng{Lat: 51.5, Lng: -0.1}},
		"cn-north":     {Name: "CN North (Beijing)", Location: topology.LatLng{Lat: 39.9, Lng: 116.4}, OptIn: true},
		"cn-east":      {Name: "CN East (Shanghai)", Location: topology.LatLng{Lat: 31.2, Lng: 121.5}, OptIn: true},
		"jp-east":      {Name: "Japan East (Tokyo)", Location: topology.LatLng{Lat: 35.7, Lng: 139.7}},
		"ap-southeast": {Name: "Asia Pacific Southeast (Singapore)", Location: topology.LatLng{Lat: 1.35, Lng: 103.8}},
		"ap-south":     {Name: "Asia Pacific South (Mumbai)", Location: topology.LatLng{Lat: 19.1, Lng: 72.9}},
		"au-southeast": {Name: "Australia Southeast (Sydney)", Location: topology.LatLng{Lat: -33.9, Lng: 151.2}},
	}[id]
	return r, ok
}

// waitHeard blocks until this node's registry has n nodes up.
func (n *Node) waitHeard(ctx context.Context, want int) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		up := 0
		now := time.Now()
		for _, h := range n.Registry.Snapshot() {
			if h.Up(now, topology.DefaultDownAfter) {
				up++
			}
		}
		if up >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("heard from %d of %d nodes: %w", up, want, ctx.Err())
		case <-t.C:
		}
	}
}

func writeSecret(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("devcluster: %w", err)
	}
	if err := os.WriteFile(path, []byte(rand.Text()+"\n"), 0o600); err != nil {
		return fmt.Errorf("devcluster: bus secret: %w", err)
	}
	return nil
}
