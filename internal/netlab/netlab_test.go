//go:build linux

package netlab

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Three hosts on the bridge: a talks to b over UDP and HTTP; the captures of a and b see
// those packets, that of c sees none of them (a bridge that learnt where a and b are
// sends their frames only to their ports), and each host runs commands in its own
// namespace.
func TestLab(t *testing.T) {
	lab := New(t)
	a, b, c := lab.AddHost("a"), lab.AddHost("b"), lab.AddHost("c")
	pair := Involving(a.Addr, b.Addr)
	capA, capB, capC := a.Capture(t, pair), b.Capture(t, pair), c.Capture(t, pair)

	out, err := b.Command(t.Context(), "ip", "-4", "-o", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr in b: %v: %s", err, out)
	}
	if !strings.Contains(string(out), b.Addr.String()+"/15") || strings.Contains(string(out), a.Addr.String()) {
		t.Fatalf("b's addresses:\n%s", out)
	}

	// An HTTP server in b, a client in a.
	var ln net.Listener
	if err := b.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", b.Addr.String()+":8000")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello from b to ", r.RemoteAddr)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	resp, err := a.HTTPClient().Get("http://" + b.Addr.String() + ":8000/")
	if err != nil {
		t.Fatalf("GET from a to b: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "hello from b to " + a.Addr.String() + ":"; !strings.HasPrefix(string(body), want) {
		t.Fatalf("b answered %q, want it to start %q", body, want)
	}

	// UDP from a to b, through the namespaces' own sockets.
	var pc net.PacketConn
	if err := b.Do(func() error {
		var err error
		pc, err = net.ListenPacket("udp", b.Addr.String()+":9000")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	conn, err := a.DialContext(t.Context(), "udp", b.Addr.String()+":9000")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 10 {
		if _, err := conn.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 16)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, from, err := pc.ReadFrom(buf); err != nil || string(buf[:n]) != "ping" || !strings.HasPrefix(from.String(), a.Addr.String()+":") {
		t.Fatalf("b read %q from %v: %v", buf[:n], from, err)
	}

	// A short wait lets the last frames reach every socket before the counts are read.
	time.Sleep(200 * time.Millisecond)
	for _, c := range []*Capture{capA, capB, capC} {
		c.Stop()
		if err := c.Err(); err != nil || c.Drops() != 0 {
			t.Fatalf("capture of %s: %v, %d drops", c.host.Name, err, c.Drops())
		}
	}
	// TCP handshake, request, answer, close, and 10 datagrams: well over 15 frames.
	for _, c := range []*Capture{capA, capB} {
		if c.Matched() < 15 {
			t.Errorf("%s saw %d frames between a and b, want at least 15: %v", c.host.Name, c.Matched(), c.Matches())
		}
	}
	if capC.Matched() != 0 {
		t.Errorf("c saw %d frames between a and b: %v", capC.Matched(), capC.Matches())
	}

	path := filepath.Join(t.TempDir(), "a.pcap")
	if err := capA.WritePcap(path); err != nil {
		t.Fatal(err)
	}
	pcap, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcap) < 24 || binary.LittleEndian.Uint32(pcap) != 0xa1b2c3d4 || !bytes.Contains(pcap, []byte("ping")) {
		t.Fatalf("a.pcap: %d bytes, not a pcap file holding the datagrams", len(pcap))
	}
}

// A run killed before its cleanup leaves namespaces, and processes in them; the next lab
// removes both, and leaves alone the namespaces of a run whose process still lives.
func TestNewSweepsLeftoversOfDeadRuns(t *testing.T) {
	Require(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("%s%d-000000-hub", prefix, gone.Process.Pid)
	live := fmt.Sprintf("%s%d-000000-hub", prefix, os.Getpid())
	for _, ns := range []string{dead, live} {
		if err := addNetns(ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = deleteNetns(ns) })
	}
	// A process left running in the dead run's namespace.
	sleeper := exec.Command("ip", "netns", "exec", dead, "sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sleeper.Wait() }()

	New(t)
	if _, err := os.Stat(filepath.Join(netnsDir, dead)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead run's namespace %s is still there (%v)", dead, err)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, live)); err != nil {
		t.Errorf("the live run's namespace %s was removed: %v", live, err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = sleeper.Process.Kill()
		t.Error("the process in the dead run's namespace still runs")
	}
}
