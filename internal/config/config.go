// Package config holds the server's settings: defaults that need nothing installed, an
// optional YAML file, and command-line flags over both.
package config

import (
	"bytes"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meridian-video/meridian/internal/topology"
)

// Config is everything `meridian serve` can be told.
type Config struct {
	// Addr is the HTTP listen address.
	Addr string `yaml:"addr"`
	// DataDir holds the region key, the secret, the SQLite database (unless Database names
	// PostgreSQL) and the dev mail outbox (unless Mail names an SMTP server).
	DataDir string `yaml:"data"`
	// RegionKeyFile holds the private Ed25519 key of this node's region, which signs the
	// join tokens of the meetings homed here; the region's nodes share it, and its public
	// half goes in the region list (public_key). Empty, it is <data>/region-<region>.key,
	// created on first start; a relative path is taken from the config file's directory.
	// See RegionKeyPath.
	RegionKeyFile string `yaml:"region_key_file"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// PolicyFile is the jurisdiction policy document (YAML, docs/policy.md) sales are
	// decided by; empty, no rule restricts them. A file that does not load stops the
	// server from starting, with the file, line and reason.
	PolicyFile string `yaml:"policy_file"`
	// PolicyStart says which version a node starts with: "activated" (the default) runs
	// the last version an operator activated, kept in the region's store, and policy_file
	// only while none was; "file" runs policy_file whatever was activated (the way out
	// when the last activated version does not load, which otherwise stops the start).
	PolicyStart string `yaml:"policy_start"`
	// PublicURL is the address users reach the server at, e.g. "https://meet.example.com",
	// used in links the server mails. Empty, it is http:// and Addr. An https URL also
	// marks the session cookie Secure when TLS ends at a proxy in front of the server.
	PublicURL string `yaml:"public_url"`
	// GeoIPFile is a MaxMind DB file (GeoIP2 or GeoLite2 Country or City) that tells the
	// country, and with a City database the position, of a client's address: placement
	// puts a meeting's first join near it, and accounts may allow or block entry by
	// country. Empty, there is no GeoIP. A file that cannot be read, or is not a sound
	// database with countries, stops the server from starting. A relative path is taken
	// from the config file's directory.
	GeoIPFile string   `yaml:"geoip_file"`
	Media     Media    `yaml:"media"`
	Database  Database `yaml:"database"`
	Mail      Mail     `yaml:"mail"`
	HTTP      HTTP     `yaml:"http"`

	// Region is the id of this node's region; it must be in the region list. Default
	// topology.DefaultRegion ("local"), the one region of a deployment without a list.
	Region string `yaml:"region"`
	// NodeID names this node in the deployment ([a-z0-9][a-z0-9_-]{0,63}); empty, it is
	// "<region>-1" (see Node).
	NodeID string `yaml:"node_id"`
	// Regions is the deployment's region list, inline. RegionsFile names a YAML file
	// holding it instead (`regions: [...]`, as topology.Parse reads); a relative path in a
	// config file is taken from that file's directory, one given by flag from the working
	// directory. With neither, the deployment is topology.Default(): the one region local.
	Regions     []topology.Region `yaml:"regions"`
	RegionsFile string            `yaml:"regions_file"`

	// Operators are the email addresses of the users who may read, validate, stage,
	// activate and dry-run the jurisdiction policy (the policy console), signed in with a
	// session: an API key never may. Empty, nobody may.
	Operators []string `yaml:"operators"`
	// Capacity is how many participants this node takes at most, in all its meetings;
	// placement sends no new join to a node at capacity.
	Capacity int `yaml:"capacity"`
	// Bus is the node's connection to the other nodes (the control plane).
	Bus Bus `yaml:"bus"`
	// DrainTimeout is how long a draining node (meridian drain, SIGTERM) keeps its live
	// meetings before it stops anyway.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

// HTTP bounds what one client can hold of the HTTP server: slow or idle connections, and
// how many at once.
type HTTP struct {
	// ReadHeaderTimeout bounds reading a request's headers, ReadTimeout the whole request
	// with its body (API bodies and WHIP offers are small). A WebSocket is bound by
	// neither once upgraded: its liveness is the signalling ping's.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	// IdleTimeout closes a keep-alive connection that sends no next request in time.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds a request's header block.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxConnsPerClient bounds the connections open at once from one client: an IPv4
	// address or an IPv6 /64. Connections over it are closed as they are accepted. Zero
	// turns the cap off.
	MaxConnsPerClient int `yaml:"max_conns_per_client"`
	// UncappedClients are networks (CIDR) whose connections MaxConnsPerClient does not
	// count: a reverse proxy or load balancer in front of the server, through which every
	// client comes, or a load tool. Loopback by default.
	UncappedClients []string `yaml:"uncapped_clients"`
	// TrustedProxies are networks (CIDR) of reverse proxies in front of the server whose
	// X-Forwarded-For the server believes: a request from one of them is taken to come
	// from the address the proxies recorded (rate limits, audit trail, GeoIP). From any
	// other peer the header is ignored. Empty by default: nobody is believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Database says where accounts, sessions and meetings are stored.
type Database struct {
	// PostgresDSN selects PostgreSQL, as a URL or keyword/value string; empty keeps the
	// embedded SQLite database in the data dir.
	PostgresDSN string `yaml:"postgres_dsn"`
}

// Mail says how the server sends mail (password resets).
type Mail struct {
	// SMTPAddr is the mail server's host:port; empty writes mail to files in
	// <data>/outbox instead, for the operator to read.
	SMTPAddr string `yaml:"smtp_addr"`
	// From is the sender address; required with SMTPAddr.
	From     string `yaml:"from"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// Media configures the WebRTC transport.
type Media struct {
	// UDPPort is the one UDP port all media shares (each peer connection is told apart
	// by its ICE credentials); zero lets the kernel pick one at start.
	UDPPort uint16 `yaml:"udp_port"`
	// PublicIPs are announced to clients instead of local addresses (1:1 NAT).
	PublicIPs []string `yaml:"public_ips"`
	// LoopbackOnly restricts ICE to loopback addresses. Unset, it follows Addr: a server
	// listening on loopback offers loopback media addresses only.
	LoopbackOnly *bool `yaml:"loopback_only"`
	// InitialBitrate is the bandwidth, in bits per second, a subscriber is assumed to have
	// until its estimate says otherwise; zero is the SFU's default (1 Mbit/s). Where most
	// viewers are known to be on slow links, a lower start saves them a congested first
	// few seconds; the SFU probes its way up from there.
	InitialBitrate int `yaml:"initial_bitrate"`
}

// Default is the configuration of a server started with no file and no flags.
func Default() Config {
	return Config{Addr: "127.0.0.1:8080", DataDir: "./data", LogLevel: "info", Region: topology.DefaultRegion,
		Capacity: DefaultCapacity, DrainTimeout: DefaultDrainTimeout, HTTP: HTTP{
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			MaxConnsPerClient: 64,
			UncappedClients:   []string{"127.0.0.0/8", "::1/128"},
		}}
}

// Load reads a YAML file over the defaults; unknown keys are errors, so a typo does not
// silently leave a default in force.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("parse config %s: %w", path, err)
	}
	if len(cfg.Regions) > 0 {
		// Read the inline list again the way a regions file is read, so that it gets the
		// same checks (a missing location is not 0, 0) and errors with the file's lines.
		block, err := regionsBlock(b)
		if err != nil {
			return cfg, fmt.Errorf("parse config %s: %w", path, err)
		}
		dep, err := topology.Parse(block)
		if err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
		cfg.Regions = dep.Regions
	}
	if cfg.RegionsFile != "" && !filepath.IsAbs(cfg.RegionsFile) {
		cfg.RegionsFile = filepath.Join(filepath.Dir(path), cfg.RegionsFile)
	}
	if cfg.RegionKeyFile != "" && !filepath.IsAbs(cfg.RegionKeyFile) {
		cfg.RegionKeyFile = filepath.Join(filepath.Dir(path), cfg.RegionKeyFile)
	}
	for _, f := range []*string{&cfg.GeoIPFile, &cfg.Bus.SecretFile, &cfg.Bus.TLS.CertFile, &cfg.Bus.TLS.KeyFile, &cfg.Bus.TLS.CAFile} {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(filepath.Dir(path), *f)
		}
	}
	return cfg, cfg.Validate()
}

// regionsBlock returns the config file with every line blanked but those of its top-level
// regions key and value, so that topology.Parse reads the list alone and reports the
// config file's own line numbers.
func regionsBlock(b []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode ||
		doc.Content[0].Style&yaml.FlowStyle != 0 {
		return nil, fmt.Errorf("regions: write the config as a block mapping (one key a line)")
	}
	root := doc.Content[0]
	first, end := 0, -1 // 1-based line range [first, end) of the regions entry
	for i := 0; i+1 < len(root.Content); i += 2 {
		if first > 0 {
			end = root.Content[i].Line
			break
		}
		if root.Content[i].Value == "regions" {
			first = root.Content[i].Line
		}
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	var out []byte
	for n, line := range lines {
		if n+1 < first || (end > 0 && n+1 >= end) {
			out = append(out, '\n')
			continue
		}
		out = append(out, line...)
	}
	return out, nil
}

// Deployment is the region list this node is configured with: the inline list, the
// regions file, or topology.Default() with neither.
func (c Config) Deployment() (topology.Deployment, error) {
	switch {
	case c.RegionsFile != "" && len(c.Regions) > 0:
		return topology.Deployment{}, fmt.Errorf("regions and regions_file: give the region list one way, not both")
	case c.RegionsFile != "":
		b, err := os.ReadFile(c.RegionsFile)
		if err != nil {
			return topology.Deployment{}, fmt.Errorf("regions_file: %w", err)
		}
		dep, err := topology.Parse(b)
		if err != nil {
			return topology.Deployment{}, fmt.Errorf("regions_file %s: %w", c.RegionsFile, err)
		}
		return dep, nil
	case len(c.Regions) > 0:
		dep := topology.Deployment{Regions: c.Regions}
		if err := dep.Validate(); err != nil {
			return topology.Deployment{}, err
		}
		return dep, nil
	}
	return topology.Default(), nil
}

// Node is this node's id: NodeID, or "<region>-1" when it is empty.
func (c Config) Node() string {
	if c.NodeID != "" {
		return c.NodeID
	}
	return c.Region + "-1"
}

// validateRegion checks the region list and this node's place in it.
func (c Config) validateRegion() error {
	dep, err := c.Deployment()
	if err != nil {
		return err
	}
	if _, ok := dep.Lookup(c.Region); !ok {
		ids := make([]string, len(dep.Regions))
		for i, r := range dep.Regions {
			ids[i] = r.ID
		}
		return fmt.Errorf("region %q is not in the region list (%s); set region to one of them", c.Region, strings.Join(ids, ", "))
	}
	if !topology.ValidNodeID(c.Node()) {
		return fmt.Errorf("node_id %q: want [a-z0-9][a-z0-9_-]{0,63}, such as %s-1", c.Node(), c.Region)
	}
	return c.validateCluster(dep)
}

// PolicyStart values.
const (
	PolicyStartActivated = "activated"
	PolicyStartFile      = "file"
)

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("addr %q: %w", c.Addr, err)
	}
	if c.DataDir == "" {
		return fmt.Errorf("data dir is empty")
	}
	for _, ip := range c.Media.PublicIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("media public_ips: %q is not an IP address", ip)
		}
	}
	if b := c.Media.InitialBitrate; b != 0 && (b < 50_000 || b > 100_000_000) {
		return fmt.Errorf("media initial_bitrate %d: want bits per second between 50000 and 100000000, or 0 for the default", b)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("public_url %q: want an http or https URL such as https://meet.example.com", c.PublicURL)
		}
	}
	if err := c.HTTP.validate(); err != nil {
		return err
	}
	if err := c.validateRegion(); err != nil {
		return err
	}
	switch c.PolicyStart {
	case "", PolicyStartActivated, PolicyStartFile:
	default:
		return fmt.Errorf("policy_start %q: want activated or file", c.PolicyStart)
	}
	for _, op := range c.Operators {
		if a, err := mail.ParseAddress(op); err != nil || a.Address != op {
			return fmt.Errorf("operators: %q is not a plain email address such as ops@example.com", op)
		}
	}
	return c.Mail.validate()
}

func (h HTTP) validate() error {
	for name, d := range map[string]time.Duration{
		"read_header_timeout": h.ReadHeaderTimeout, "read_timeout": h.ReadTimeout, "idle_timeout": h.IdleTimeout,
	} {
		if d <= 0 {
			return fmt.Errorf("http %s %v: want a positive duration such as 30s", name, d)
		}
	}
	if h.MaxHeaderBytes < 4<<10 {
		return fmt.Errorf("http max_header_bytes %d: want at least 4096", h.MaxHeaderBytes)
	}
	if h.MaxConnsPerClient < 0 {
		return fmt.Errorf("http max_conns_per_client %d: want 0 (no cap) or more", h.MaxConnsPerClient)
	}
	if _, err := h.UncappedPrefixes(); err != nil {
		return err
	}
	_, err := h.TrustedProxyPrefixes()
	return err
}

// UncappedPrefixes parses UncappedClients.
func (h HTTP) UncappedPrefixes() ([]netip.Prefix, error) {
	return prefixes("uncapped_clients", h.UncappedClients)
}

// TrustedProxyPrefixes parses TrustedProxies.
func (h HTTP) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	return prefixes("trusted_proxies", h.TrustedProxies)
}

func prefixes(key string, networks []string) ([]netip.Prefix, error) {
	ps := make([]netip.Prefix, 0, len(networks))
	for _, s := range networks {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("http %s: %q is not a network such as 10.0.0.0/8", key, s)
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

func (m Mail) validate() error {
	if m.SMTPAddr == "" {
		if m.From != "" || m.Username != "" || m.Password != "" {
			return fmt.Errorf("mail: from, username and password need smtp_addr")
		}
		return nil
	}
	if host, port, err := net.SplitHostPort(m.SMTPAddr); err != nil || host == "" || port == "" {
		return fmt.Errorf("mail smtp_addr %q: want host:port", m.SMTPAddr)
	}
	if a, err := mail.ParseAddress(m.From); err != nil || a.Address != m.From {
		return fmt.Errorf("mail from %q: want a plain address such as meridian@example.com", m.From)
	}
	if (m.Username == "") != (m.Password == "") {
		return fmt.Errorf("mail: username and password go together")
	}
	return nil
}

// BaseURL is the server's public address without a trailing slash: PublicURL, or else
// http:// and Addr (a wildcard host read as localhost).
func (c Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return "http://" + c.Addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// PasswordResetURL is the page that password-reset mails link to.
func (c Config) PasswordResetURL() string { return c.BaseURL() + "/reset-password" }

// InviteURL is the page that member invitations link to.
func (c Config) InviteURL() string { return c.BaseURL() + "/accept-invite" }

// MediaLoopbackOnly tells whether ICE is restricted to loopback addresses.
func (c Config) MediaLoopbackOnly() bool {
	if c.Media.LoopbackOnly != nil {
		return *c.Media.LoopbackOnly
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RegionKeyPath is where the key of region is: RegionKeyFile, or region-<region>.key in
// the data directory.
func (c Config) RegionKeyPath(region string) string {
	if c.RegionKeyFile != "" {
		return c.RegionKeyFile
	}
	return filepath.Join(c.DataDir, "region-"+region+".key")
}
