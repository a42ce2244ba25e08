package server_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/server"
	"github.com/meridian-video/meridian/internal/store"
)

// A server with no payment provider configured sells nothing (fail closed): checkout
// answers payments_unavailable and records no subscription, while the sales routes are
// served.
func TestCheckoutWithoutPaymentProvider(t *testing.T) {
	srv := startServer(t)
	client := signedIn(t, srv)
	if err := srv.Commerce.PutPriceBook(t.Context(), commerce.PriceBook{Channel: store.ChannelDirect, Currency: "USD",
		Prices: []store.Price{{Plan: "pro", Interval: store.IntervalMonth, AmountMinor: 1500}}}); err != nil {
		t.Fatal(err)
	}
	if st, body := client("GET", "/api/plans", ""); st != http.StatusOK || !strings.Contains(body, `"amount_minor":1500`) {
		t.Fatalf("plans: %d %s", st, body)
	}
	st, body := client("POST", "/api/checkout", `{"kind":"new","plan":"pro","currency":"USD","billing_country":"US","payment_token":"t"}`,
		"Idempotency-Key", "k1")
	if st != http.StatusServiceUnavailable || !strings.Contains(body, `"payments_unavailable"`) {
		t.Fatalf("checkout: %d %s", st, body)
	}
	if st, body := client("GET", "/api/subscription", ""); st != http.StatusOK || !strings.Contains(body, `"subscription":null`) {
		t.Fatalf("subscription: %d %s", st, body)
	}
}

// The policy_file decides the server's sales: with the 2020 China example, a CN billing
// address checking out directly today is refused with the rule, before any payment. A
// policy file that does not load stops the start with its file and line.
func TestPolicyFileDecidesSales(t *testing.T) {
	data, err := fs.ReadFile(policy.Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "policy.yaml"), filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("version: \"x\"\nrules:\n  - id: r1\n    jurisdiction: XZ\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Addr, cfg.DataDir, cfg.PolicyFile = "127.0.0.1:0", t.TempDir(), bad
	if srv, err := server.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		srv.Close()
		t.Fatal("a server started with a policy file that does not load")
	} else if !strings.Contains(err.Error(), bad+":3") {
		t.Fatalf("error %q does not name the file and line", err)
	}
	cfg.PolicyFile = good
	srv, err := server.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	client := signedIn(t, srv)
	st, body := client("POST", "/api/checkout", `{"kind":"new","plan":"pro","currency":"CNY","billing_country":"CN","payment_token":"t"}`,
		"Idempotency-Key", "k1")
	if st != http.StatusForbidden || !strings.Contains(body, `"rule_id":"cn-buy-via-partner"`) || !strings.Contains(body, `"lotus-bridge"`) {
		t.Fatalf("CN checkout: %d %s", st, body)
	}
}

// signedIn signs up a user on srv and returns a client that calls as them.
func signedIn(t *testing.T, srv *server.Server) func(method, path, body string, h ...string) (int, string) {
	t.Helper()
	var auth []string
	call := func(method, path, body string, h ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for _, hs := range [][]string{auth, h} {
			for i := 0; i+1 < len(hs); i += 2 {
				req.Header.Set(hs[i], hs[i+1])
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := call("POST", "/api/signup", `{"account_type":"individual","email":"ada@example.com","display_name":"Ada","password":"correct horse battery","country":"US"}`)
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || len(resp.Cookies()) == 0 {
		t.Fatalf("sign-up: %s %s", resp.Status, body)
	}
	auth = []string{"Cookie", resp.Cookies()[0].Name + "=" + resp.Cookies()[0].Value, "X-CSRF-Token", out.CSRFToken}
	return func(method, path, body string, h ...string) (int, string) {
		t.Helper()
		resp, b := call(method, path, body, h...)
		return resp.StatusCode, b
	}
}
