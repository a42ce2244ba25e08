// Package freeport hands out loopback TCP ports for listeners that must be named before they
// are opened (a NATS cluster's routes and gateways name each other's ports up front).
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Ports hands out ports below the kernel's range of ephemeral ports, each at most once. A
// port of that range (what a listen on port 0 returns) can be taken, between the moment it
// is handed out and the moment its server listens, as the source port of any outgoing
// connection, such as another node's route or gateway being dialled: then the server
// cannot start. The zero value is ready to use.
type Ports struct {
	mu   sync.Mutex
	used map[int]bool
}

// lowest is the lowest port handed out: above the registered ports most services use.
const lowest = 20000

// Take returns a port that no other Take of p returned and that was free a moment ago.
func (p *Ports) Take() (int, error) {
	high := ephemeralLow() - 1
	if high <= lowest {
		return 0, fmt.Errorf("freeport: no ports between %d and the ephemeral range", lowest)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used == nil {
		p.used = map[int]bool{}
	}
	for range 200 {
		port := lowest + rand.IntN(high-lowest+1)
		if p.used[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		p.used[port] = true
		return port, nil
	}
	return 0, errors.New("freeport: no free port found in 200 tries")
}

// ephemeralLow is where the kernel's ephemeral ports begin (Linux's default when it cannot
// be read).
func ephemeralLow() int {
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				return n
			}
		}
	}
	return 32768
}
