package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/client"
)

func TestHealthAndMetrics(t *testing.T) {
	srv := startServer(t)
	resp, err := http.Get(srv.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %s", resp.Status)
	}

	ctx, cancel := testContext(t)
	defer cancel()
	a := join(t, ctx, srv, "m", "a", pubSub, client.Options{})
	b := join(t, ctx, srv, "m", "b", pubSub, client.Options{})
	publishAV(t, ctx, a, 300_000)
	waitTrack(t, b, "video")
	time.Sleep(600 * time.Millisecond)

	for name, want := range map[string]float64{
		"meridian_sfu_rooms":        1,
		"meridian_sfu_participants": 2,
		"meridian_sfu_tracks":       2,
	} {
		if got := metricValue(t, srv, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"meridian_sfu_packets_in_total", "meridian_sfu_packets_out_total",
		"meridian_sfu_bytes_in_total", "meridian_sfu_bytes_out_total", "meridian_sfu_forward_seconds_count"} {
		if got := metricValue(t, srv, name); got <= 0 {
			t.Errorf("%s = %v, want > 0", name, got)
		}
	}
	resp, err = http.Get(srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"meridian_sfu_nacks_total", "meridian_sfu_plis_total", "meridian_sfu_forward_seconds_bucket"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("%s not exported", name)
		}
	}

	b.Close()
	a.Close()
	eventually(t, 5*time.Second, "gauges to return to zero", func() bool {
		return metricValue(t, srv, "meridian_sfu_rooms") == 0 && metricValue(t, srv, "meridian_sfu_participants") == 0 &&
			metricValue(t, srv, "meridian_sfu_tracks") == 0
	})
}
