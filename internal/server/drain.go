package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// AdminSecretFile, in the data directory, holds the secret `meridian drain` presents.
const AdminSecretFile = "admin.secret"

// drainPoll is how often a draining node looks whether its rooms are empty.
const drainPoll = 250 * time.Millisecond

// Drain makes the node draining: it announces so at once (placement sends it no new
// meeting; the live ones stay, and their participants may rejoin them here), then waits
// until its rooms are empty, drain_timeout passes or ctx ends. The caller then closes the
// node. Draining cannot be undone but by a restart.
func (s *Server) Drain(ctx context.Context) error {
	if !s.draining.Swap(true) {
		s.log.Info("draining: taking no new meetings", "live_participants", s.SFU.Seated(), "drain_timeout", s.cfg.DrainTimeout)
		s.Registry.AnnounceNow()
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	defer cancel()
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for s.SFU.Seated() > 0 {
		select {
		case <-ctx.Done():
			s.log.Warn("drain: stopping with meetings still live", "live_participants", s.SFU.Seated(), "err", ctx.Err())
			return nil
		case <-t.C:
		}
	}
	s.log.Info("drain: no meeting left")
	return nil
}

// loadAdminSecret reads the admin secret from the data directory, creating it on first
// start (0600): whoever can read the data directory may drain the node.
func loadAdminSecret(dataDir string) (string, error) {
	path := filepath.Join(dataDir, AdminSecretFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if secret := strings.TrimSpace(string(b)); len(secret) >= 16 {
			return secret, nil
		}
		return "", fmt.Errorf("admin secret %s: shorter than 16 characters; remove it to get a new one", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("admin secret: %w", err)
	}
	secret := rand.Text()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		// A node sharing the directory is writing it: read what it wrote.
		time.Sleep(50 * time.Millisecond)
		if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
			return strings.TrimSpace(string(b)), nil
		}
		return "", fmt.Errorf("admin secret %s: being written by another process; start again", path)
	}
	if err != nil {
		return "", fmt.Errorf("admin secret: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("admin secret: %w", err)
	}
	return secret, f.Close()
}

// adminHandler serves POST /admin/drain: only from loopback, only with the admin secret
// (Authorization: Bearer). It answers at once and drains in the background; Wait returns
// once the drain is done, and the node is then closed by its caller. Anything else gets
// 404, telling a stranger nothing.
func (s *Server) adminHandler(secret string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/admin/drain" {
			next.ServeHTTP(w, r)
			return
		}
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if err != nil || ip == nil || !ip.IsLoopback() || r.Method != http.MethodPost || !ok ||
			subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
			s.log.Warn("admin request refused", "remote", r.RemoteAddr, "method", r.Method)
			http.NotFound(w, r)
			return
		}
		s.log.Info("drain requested", "remote", r.RemoteAddr)
		go func() {
			_ = s.Drain(context.Background())
			select {
			case s.drained <- struct{}{}:
			default:
			}
		}()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"draining"}` + "\n"))
	})
}
