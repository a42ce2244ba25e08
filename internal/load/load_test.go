package load_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/load"
	"github.com/meridian-video/meridian/internal/server"
)

// startServer runs a real node on a free loopback port with its own data directory.
func startServer(t *testing.T) (*server.Server, string) {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	srv, err := server.Start(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, cfg.DataDir
}

func TestRunFanOut(t *testing.T) {
	srv, dataDir := startServer(t)
	secret, err := load.ReadSecret(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := load.Run(ctx, load.Options{
		URL:          srv.URL(),
		Rooms:        1,
		Publishers:   1,
		Subscribers:  3,
		Duration:     2 * time.Second,
		Secret:       secret,
		VideoBitrate: 500_000,
		LoopbackOnly: true,
		ServerPID:    os.Getpid(), // the server runs in this process
		ProbeJoins:   1,
		Progress:     &progress,
	})
	if err != nil {
		t.Fatalf("run: %v\nprogress:\n%s", err, progress.String())
	}
	t.Logf("progress:\n%s\n%s", progress.String(), res.Summary())

	if res.Clients != 4 || res.ClientsReceiving != 4 || res.JoinFailures != 0 {
		t.Errorf("clients %d, receiving %d, failures %d; want 4, 4, 0", res.Clients, res.ClientsReceiving, res.JoinFailures)
	}
	if res.ForwardedPacketsPerSec <= 0 {
		t.Errorf("forwarded %.0f packets/s, want > 0", res.ForwardedPacketsPerSec)
	}
	if res.LossPercent >= 5 {
		t.Errorf("loss %.2f%%, want below 5%%", res.LossPercent)
	}
	if res.Latency.P50 <= 0 {
		t.Errorf("latency p50 %v ms, want > 0", res.Latency.P50)
	}
	if res.JoinToFirstFrame.P50 <= 0 || res.JoinToFirstFrame.Samples != 3 {
		t.Errorf("join-to-first-frame p50 %v ms over %d tracks, want > 0 over 3", res.JoinToFirstFrame.P50, res.JoinToFirstFrame.Samples)
	}
	if res.LateJoinToFirstFrame.Samples != 1 || res.LateJoinToFirstFrame.P50 <= 0 {
		t.Errorf("late join-to-first-frame %+v, want one sample", res.LateJoinToFirstFrame)
	}
	if res.NACKs == nil || res.ServerForward == nil {
		t.Errorf("server metrics unread: %v", res.Warnings)
	}
	if res.Server == nil || res.Server.CPUSeconds <= 0 || res.Server.PeakRSSBytes <= 0 {
		t.Errorf("server cost %+v, want CPU and RSS", res.Server)
	}
	if !strings.Contains(progress.String(), "measuring") {
		t.Errorf("no progress line while measuring:\n%s", progress.String())
	}

	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{
		"rooms", "publishers_per_room", "subscribers_per_room", "clients", "clients_receiving",
		"join_failures", "join_concurrency", "duration_seconds", "packets_received", "forwarded_packets_per_sec",
		"cores", "forwarded_packets_per_sec_per_core", "packets_expected", "packets_lost",
		"loss_percent", "nacks", "retransmits", "server_packets_in_per_sec", "server_packets_out_per_sec", "latency_ms",
		"server_forward_ms", "join_to_first_frame_ms", "late_join_to_first_frame_ms", "server", "load_tool_cpu_seconds",
		"machine_busy_cores", "warnings",
	} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	sub := func(k string, fields ...string) {
		m, _ := doc[k].(map[string]any)
		for _, f := range fields {
			if _, ok := m[f]; !ok {
				t.Errorf("JSON %s lacks %q: %s", k, f, b)
			}
		}
	}
	sub("latency_ms", "p50", "p95", "p99", "samples")
	sub("server_forward_ms", "p50", "p95", "p99", "samples")
	sub("join_to_first_frame_ms", "p50", "p99", "samples")
	sub("late_join_to_first_frame_ms", "p50", "p99", "samples")
	sub("server", "pid", "cpu_seconds", "cpu_seconds_per_million_packets", "packets_per_cpu_second", "peak_rss_bytes")
}

func TestReadSecretDoesNotCreate(t *testing.T) {
	dir := t.TempDir()
	_, err := load.ReadSecret(dir)
	if err == nil || !strings.Contains(err.Error(), "signing.key") {
		t.Fatalf("ReadSecret of an empty dir: %v, want an error naming signing.key", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("ReadSecret wrote %d files", len(entries))
	}
}

func TestOptionsRejected(t *testing.T) {
	base := load.Options{URL: "http://127.0.0.1:1", Rooms: 1, Publishers: 1, Subscribers: 1, Duration: time.Second, Token: "x"}
	for name, mod := range map[string]func(*load.Options){
		"nothing to forward": func(o *load.Options) { o.Subscribers = 0 },
		"no credentials":     func(o *load.Options) { o.Token = "" },
		"both credentials":   func(o *load.Options) { o.Secret = make([]byte, 32) },
		"token and meeting":  func(o *load.Options) { o.Meeting = "12345678901" },
		"token, two rooms":   func(o *load.Options) { o.Rooms = 2 },
		"no duration":        func(o *load.Options) { o.Duration = 0 },
	} {
		o := base
		mod(&o)
		if _, err := load.Run(context.Background(), o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
