package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/server"
	"github.com/meridian-video/meridian/internal/token"
)

// startServer runs a real node on a free loopback port with its own data directory.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	return startServerIn(t, t.TempDir())
}

func startServerIn(t *testing.T, dataDir string) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	level := slog.LevelWarn
	if os.Getenv("MERIDIAN_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	srv, err := server.Start(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func mint(t *testing.T, srv *server.Server, room, identity string, g token.Grants) string {
	t.Helper()
	tok, err := srv.Tokens.Mint(room, identity, identity, g, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var pubSub = token.Grants{Publish: true, Subscribe: true}

// testContext bounds a test's client calls (join, publish, ICE restart, waiting for the
// connections), so that a call that never returns fails the test with its error instead of
// hanging the test binary until go test's timeout.
func testContext(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), 2*time.Minute)
}

func join(t *testing.T, ctx context.Context, srv *server.Server, room, identity string, g token.Grants, opts client.Options) *client.Client {
	t.Helper()
	opts.URL = srv.URL()
	opts.Token = mint(t, srv, room, identity, g)
	opts.LoopbackOnly = true
	c, err := client.Join(ctx, opts)
	if err != nil {
		t.Fatalf("%s join: %v", identity, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// publishAV publishes a synthetic camera (VP8) and microphone (Opus) track and keeps them
// sending until ctx ends.
func publishAV(t *testing.T, ctx context.Context, c *client.Client, videoBitrate int) {
	t.Helper()
	v, err := client.NewLocalTrack(client.VP8, client.SourceCamera)
	if err != nil {
		t.Fatal(err)
	}
	a, err := client.NewLocalTrack(client.Opus, client.SourceMicrophone)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, v, a); err != nil {
		t.Fatalf("publish: %v", err)
	}
	go (&client.VideoSource{Track: v, FPS: 30, Bitrate: videoBitrate, KeyframeInterval: time.Second}).Run(ctx)
	go (&client.AudioSource{Track: a}).Run(ctx)
}

// publishKeyframesOnRequest joins room as "pub" and publishes VP8 video whose only
// keyframes are its first and those the server asks for.
func publishKeyframesOnRequest(t *testing.T, ctx context.Context, srv *server.Server, room string, fps, bitrate int) {
	t.Helper()
	pub := join(t, ctx, srv, room, "pub", token.Grants{Publish: true}, client.Options{})
	v, err := client.NewLocalTrack(client.VP8, client.SourceCamera)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, v); err != nil {
		t.Fatal(err)
	}
	go (&client.VideoSource{Track: v, FPS: fps, Bitrate: bitrate, KeyframeInterval: time.Hour}).Run(ctx)
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metricValue reads a counter or gauge from the server's /metrics endpoint.
func metricValue(t *testing.T, srv *server.Server, name string) float64 {
	t.Helper()
	v, ok := readMetric(t, srv, name)
	if !ok {
		t.Fatalf("metric %s not exported", name)
	}
	return v
}

// metricValueOr is metricValue for a series that is exported only once it has counted
// something (a label value not seen yet): absent, it is def.
func metricValueOr(t *testing.T, srv *server.Server, name string, def float64) float64 {
	t.Helper()
	if v, ok := readMetric(t, srv, name); ok {
		return v
	}
	return def
}

func readMetric(t *testing.T, srv *server.Server, name string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f, true
		}
	}
	return 0, false
}
