//go:build linux

package netlab

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BuildMeridian builds the meridian binary into dir and returns its path. It builds
// without the race detector even under `go test -race`: the servers are the system under
// test here, not the code being checked for races (their own packages' tests do that),
// and an instrumented binary is several times slower to build and to run.
func BuildMeridian(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "meridian")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/meridian-video/meridian/cmd/meridian")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build meridian: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}

// Node is a `meridian serve` running in a host.
type Node struct {
	// Host is where it runs.
	Host *Host
	// URL is its base URL on the host's address, e.g. http://198.18.1.1:8080.
	URL string
	// DataDir is its data directory.
	DataDir string
	// Process is the server's process.
	Process *Process
}

// NodePort is the HTTP port of every node; each host has an address of its own.
const NodePort = 8080

// StartMeridian runs `meridian serve` (the binary at bin) in h, with a data directory of
// its own, HTTP on the host's address and media on that address alone (never loopback, so
// nothing reaches it from inside the host except through its address). extraYAML, if
// not empty, is appended to the generated config file. It returns once /healthz answers.
func StartMeridian(t testing.TB, h *Host, bin, extraYAML string) *Node {
	t.Helper()
	n := LaunchMeridian(t, h, bin, extraYAML)
	n.WaitReady(t, 30*time.Second)
	return n
}

// LaunchMeridian is StartMeridian without the wait: nodes of a deployment of several
// regions are ready only once enough of them run to elect JetStream's meta leader, so
// they are all launched first, then waited for (WaitReady).
func LaunchMeridian(t testing.TB, h *Host, bin, extraYAML string) *Node {
	t.Helper()
	dataDir := t.TempDir()
	addr := fmt.Sprintf("%s:%d", h.Addr, NodePort)
	cfg := fmt.Sprintf("addr: %q\ndata: %q\nmedia:\n  loopback_only: false\n%s", addr, dataDir, extraYAML)
	cfgPath := filepath.Join(dataDir, "meridian.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatalf("netlab: %v", err)
	}
	n := &Node{Host: h, URL: "http://" + addr, DataDir: dataDir}
	n.Process = h.Start(t, bin, "serve", "--config", cfgPath)
	return n
}

// WaitReady polls the node's /healthz until it answers 200, failing t when the process
// exits first or timeout passes.
func (n *Node) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	hc := n.Host.HTTPClient()
	hc.Timeout = 2 * time.Second
	deadline := time.Now().Add(timeout)
	for {
		resp, err := hc.Get(n.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		select {
		case <-n.Process.Exited():
			t.Fatalf("netlab: meridian in %s exited before it was ready: %v (log: %s)", n.Host.Name, n.Process.Err(), n.Process.Log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("netlab: meridian in %s not ready at %s/healthz after %v: %v (log: %s)", n.Host.Name, n.URL, timeout, err, n.Process.Log)
		}
	}
}
