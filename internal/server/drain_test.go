package server_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/server"
)

// meridian drain's endpoint drains only with the data directory's admin secret; the node
// then announces draining and, its rooms being empty, Wait returns for the caller to stop
// it.
func TestAdminDrainNeedsTheSecret(t *testing.T) {
	dir := t.TempDir()
	srv := startServerIn(t, dir)
	secret, err := os.ReadFile(filepath.Join(dir, server.AdminSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	post := func(auth string) int {
		req, err := http.NewRequest(http.MethodPost, srv.URL()+"/admin/drain", nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, bad := range []string{"", "Bearer wrong-secret-wrong-secret", strings.TrimSpace(string(secret))} {
		if got := post(bad); got != http.StatusNotFound {
			t.Fatalf("drain with Authorization %q: %d, want 404", bad, got)
		}
	}
	if srv.Draining() {
		t.Fatal("draining after refused requests")
	}
	if got := post("Bearer " + strings.TrimSpace(string(secret))); got != http.StatusAccepted {
		t.Fatalf("drain with the secret: %d", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Wait(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("Wait after the drain: %v %v", err, ctx.Err())
	}
	if n, _ := srv.Registry.Node(srv.NodeID()); !srv.Draining() || !n.Draining {
		t.Fatalf("after drain: draining %v, heartbeat %+v", srv.Draining(), n)
	}
}
