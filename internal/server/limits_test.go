package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/server"
)

// startServerWith runs a real node whose config adjust changes first.
func startServerWith(t *testing.T, adjust func(*config.Config)) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	adjust(&cfg)
	srv, err := server.Start(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// shortTimeouts makes the HTTP timeouts small enough to wait out in a test.
func shortTimeouts(c *config.Config) {
	c.HTTP.ReadHeaderTimeout = 300 * time.Millisecond
	c.HTTP.ReadTimeout = 300 * time.Millisecond
	c.HTTP.IdleTimeout = 300 * time.Millisecond
}

func dialFrom(t *testing.T, from, to string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A request body trickled in is cut off: the server answers or hangs up before the
// client has finished sending it.
func TestTrickledBodyIsCutOff(t *testing.T) {
	srv := startServerWith(t, shortTimeouts)
	c := dialFrom(t, "127.0.0.1", srv.Addr())
	const n = 40
	fmt.Fprintf(c, "POST /api/signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", n)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for range n {
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	io.Copy(io.Discard, c) // until the server hangs up
	select {
	case <-sent:
		t.Fatal("the server waited for the whole trickled body")
	default:
	}
}

// A keep-alive connection that sends no next request is closed after the idle timeout.
func TestIdleKeepAliveIsClosed(t *testing.T) {
	srv := startServerWith(t, shortTimeouts)
	c := dialFrom(t, "127.0.0.1", srv.Addr())
	r := bufio.NewReader(c)
	fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("status %d, close %v: want a kept-alive 200", resp.StatusCode, resp.Close)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want the server to close it", err)
	}
}

// The per-client cap refuses a connection over it while another address still connects.
func TestConnectionsCappedPerClient(t *testing.T) {
	srv := startServerWith(t, func(c *config.Config) {
		c.HTTP.MaxConnsPerClient = 4
		c.HTTP.UncappedClients = nil
	})
	for range 4 {
		dialFrom(t, "127.0.0.1", srv.Addr())
	}
	get := func(c net.Conn, path string) (string, error) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if _, err := get(dialFrom(t, "127.0.0.1", srv.Addr()), "/healthz"); err == nil {
		t.Fatal("a fifth connection from 127.0.0.1 was served")
	}
	if _, err := get(dialFrom(t, "127.0.0.2", srv.Addr()), "/healthz"); err != nil {
		t.Fatalf("another client was refused: %v", err)
	}
	metrics, err := get(dialFrom(t, "127.0.0.3", srv.Addr()), "/metrics")
	if err != nil || !strings.Contains(metrics, "meridian_http_connections_refused_total 1") {
		t.Fatalf("the refusal is not counted in /metrics (%v)", err)
	}
}

// A signalling WebSocket outlives the HTTP read timeout: upgraded connections are not
// bound by it.
func TestWebSocketOutlivesReadTimeout(t *testing.T) {
	srv := startServerWith(t, shortTimeouts)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL(), "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	time.Sleep(1 * time.Second) // past the read and idle timeouts
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	_, b, err := conn.Read(ctx)
	if err != nil || !strings.Contains(string(b), `"pong"`) {
		t.Fatalf("after the read timeout: %s %v", b, err)
	}
}
