// Package config holds the server's settings: defaults that need nothing installed, an
// optional YAML file, and command-line flags over both.
package config

import (
	"bytes"
	"fmt"
	"net"
	"os"

	"gopkg.in/yaml.v3"
)

// Config is everything `meridian serve` can be told.
type Config struct {
	// Addr is the HTTP listen address.
	Addr string `yaml:"addr"`
	// DataDir holds the signing secret and, later, the embedded database.
	DataDir string `yaml:"data"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	Media    Media  `yaml:"media"`
}

// Media configures the WebRTC transport.
type Media struct {
	UDPPortMin uint16 `yaml:"udp_port_min"`
	UDPPortMax uint16 `yaml:"udp_port_max"`
	// PublicIPs are announced to clients instead of local addresses (1:1 NAT).
	PublicIPs []string `yaml:"public_ips"`
	// LoopbackOnly restricts ICE to loopback addresses. Unset, it follows Addr: a server
	// listening on loopback offers loopback media addresses only.
	LoopbackOnly *bool `yaml:"loopback_only"`
}

// Default is the configuration of a server started with no file and no flags.
func Default() Config {
	return Config{Addr: "127.0.0.1:8080", DataDir: "./data", LogLevel: "info"}
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
	return cfg, cfg.Validate()
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("addr %q: %w", c.Addr, err)
	}
	if c.DataDir == "" {
		return fmt.Errorf("data dir is empty")
	}
	if c.Media.UDPPortMax < c.Media.UDPPortMin {
		return fmt.Errorf("media udp_port_max %d is below udp_port_min %d", c.Media.UDPPortMax, c.Media.UDPPortMin)
	}
	for _, ip := range c.Media.PublicIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("media public_ips: %q is not an IP address", ip)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

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
