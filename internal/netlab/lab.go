//go:build linux

package netlab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// prefix starts the name of every namespace this package makes.
	prefix = "mrdn-nl-"
	// netnsDir is where ip keeps the bind mounts that name namespaces.
	netnsDir = "/run/netns"
	// bridge is the bridge's name in the hub namespace.
	bridge = "br0"
	// hostIface is the name of a host's veth inside its namespace.
	hostIface = "eth0"
	// prefixLen is the lab's subnet, 198.18.0.0/15.
	prefixLen = 15
)

// hubAddr is the bridge's address, every host's default gateway.
var hubAddr = netip.AddrFrom4([4]byte{198, 18, 0, 1})

// Lab is a hub namespace with a bridge, and the hosts attached to it.
type Lab struct {
	t   testing.TB
	run string // this lab's part of every namespace name: <pid>-<random>
	hub string // the hub namespace's name

	mu    sync.Mutex
	hosts []*Host
}

// Host is a network namespace attached to the lab's bridge.
type Host struct {
	// Name is the name the test gave the host ("us", "near-cn").
	Name string
	// Addr is the host's address on the bridge.
	Addr netip.Addr
	// Netns is the namespace's name, as `ip netns` knows it.
	Netns string

	lab      *Lab
	captures int // how many captures the host has had; guarded by lab.mu
}

// New makes a lab for t: the hub namespace and its bridge. It and everything in it are
// removed when t ends. New calls Require first, so a test without the means to run a lab
// is skipped (or failed under CI) there.
func New(t testing.TB) *Lab {
	t.Helper()
	Require(t)
	sweep(t)
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("netlab: name the lab: %v", err)
	}
	l := &Lab{t: t, run: strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)}
	l.hub = prefix + l.run + "-hub"
	// Registered before the first namespace exists, so a failure half-way still cleans up.
	t.Cleanup(l.close)
	if err := addNetns(l.hub); err != nil {
		t.Fatalf("netlab: %v", err)
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", bridge, "type", "bridge"},
		{"addr", "add", hubAddr.String() + "/" + strconv.Itoa(prefixLen), "dev", bridge},
		{"link", "set", bridge, "up"},
	} {
		if err := ip(append([]string{"-n", l.hub}, args...)...); err != nil {
			t.Fatalf("netlab: hub: %v", err)
		}
	}
	return l
}

// AddHost makes a namespace named after name, with loopback up and a veth to the bridge
// that has the next free address of the lab, and a default route via the hub.
func (l *Lab) AddHost(name string) *Host {
	l.t.Helper()
	l.mu.Lock()
	n := len(l.hosts) + 1
	if n >= 250 {
		l.mu.Unlock()
		l.t.Fatalf("netlab: host %s: a lab has at most 249 hosts", name)
	}
	h := &Host{Name: name, lab: l, Netns: prefix + l.run + "-" + name}
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	h.Addr = netip.AddrFrom4([4]byte{198, 18, 1, byte(n)}) // 198.18.1.1, 198.18.1.2, ...
	if err := addNetns(h.Netns); err != nil {
		l.t.Fatalf("netlab: host %s: %v", name, err)
	}
	peer := "v" + strconv.Itoa(n) // the hub's end; names are per namespace, so short is unique
	for _, args := range [][]string{
		{"-n", h.Netns, "link", "set", "lo", "up"},
		{"-n", l.hub, "link", "add", peer, "type", "veth", "peer", "name", hostIface, "netns", h.Netns},
		{"-n", l.hub, "link", "set", peer, "master", bridge},
		{"-n", l.hub, "link", "set", peer, "up"},
		{"-n", h.Netns, "addr", "add", h.Addr.String() + "/" + strconv.Itoa(prefixLen), "dev", hostIface},
		{"-n", h.Netns, "link", "set", hostIface, "up"},
		{"-n", h.Netns, "route", "add", "default", "via", hubAddr.String()},
	} {
		if err := ip(args...); err != nil {
			l.t.Fatalf("netlab: host %s: %v", name, err)
		}
	}
	return h
}

// close kills what still runs in the lab's namespaces and deletes them.
func (l *Lab) close() {
	l.mu.Lock()
	names := []string{l.hub}
	for _, h := range l.hosts {
		names = append(names, h.Netns)
	}
	l.mu.Unlock()
	for _, ns := range names {
		if err := deleteNetns(ns); err != nil {
			l.t.Errorf("netlab: %v", err)
		}
	}
}

// Wrap makes cmd, not yet started, run inside the host's namespace (through `ip netns
// exec`, which also gives it a /sys of that namespace). It suits commands made by other
// packages, such as a browser launcher's.
func (h *Host) Wrap(cmd *exec.Cmd) {
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		ipPath = "ip" // Start reports it
	}
	args := append([]string{"ip", "netns", "exec", h.Netns, cmd.Path}, cmd.Args[1:]...)
	cmd.Path, cmd.Args, cmd.Err = ipPath, args, nil
}

// Command is exec.CommandContext for a program run inside the host's namespace.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	h.Wrap(cmd)
	return cmd
}

// Do runs fn on an OS thread that has entered the host's namespace: sockets fn opens
// belong to the namespace for their whole life, whichever thread uses them later. The
// thread is never given back to the Go scheduler, so no other goroutine runs in the
// namespace by accident.
func (h *Host) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread ends with this goroutine.
		f, err := os.Open(filepath.Join(netnsDir, h.Netns))
		if err != nil {
			errc <- fmt.Errorf("netlab: open namespace %s: %w", h.Netns, err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netlab: enter namespace %s: %w", h.Netns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// DialContext opens a connection from inside the host's namespace.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := h.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// HTTPClient is an HTTP client whose connections start from inside the host's namespace,
// with a cookie jar of its own (a person with a browser session). It follows no proxy.
func (h *Host) HTTPClient() *http.Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:       h.DialContext,
			Proxy:             nil,
			ForceAttemptHTTP2: false,
		},
	}
}

// addNetns creates a named network namespace.
func addNetns(name string) error {
	return ip("netns", "add", name)
}

// deleteNetns ends every process still in the namespace, then deletes it.
func deleteNetns(name string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	killIn(name)
	return ip("netns", "delete", name)
}

// killIn sends SIGKILL to every process in the namespace, and waits (a little) for them to
// go: a process left behind would keep the namespace alive after its name is gone.
func killIn(name string) {
	for range 50 {
		out, err := exec.Command("ip", "netns", "pids", name).Output()
		if err != nil {
			return
		}
		pids := strings.Fields(string(out))
		alive := 0
		for _, p := range pids {
			pid, err := strconv.Atoi(p)
			// Never this process: a thread of it that entered the namespace (Host.Do)
			// can make it look as if it were inside.
			if err != nil || pid == os.Getpid() {
				continue
			}
			alive++
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if alive == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ip runs the ip command, with its output in the error.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
