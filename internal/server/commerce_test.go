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
	"sync/atomic"
	"testing"
	"time"

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
	if st, body := client("GET", "/api/plans", ""); st != http.StatusOK || !strings.Contains(body, `"amount_minor":1500`) ||
		!strings.Contains(body, `"payments":false`) {
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

// The 2020 China timeline through a whole server's HTTP API, with a fixed clock and the
// payment provider of server.Options: a CN business's online checkout with a CN billing
// address is refused on 24 August 2020 (the partners named) and charges nothing; the
// same checkout on 22 August is refused by the earlier rule (self-service closed); with a
// US billing address on 24 August it is sold, charged once and invoiced by Meridian.
func TestCheckoutChina2020ThroughTheServer(t *testing.T) {
	data, err := fs.ReadFile(policy.Examples(), "examples/china-2020.yaml")
	if err != nil {
		t.Fatal(err)
	}
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Addr, cfg.DataDir, cfg.PolicyFile = "127.0.0.1:0", t.TempDir(), policyFile
	var now atomic.Int64 // the clock, in Unix ms: the server's requests and ticks read it
	set := func(t time.Time) { now.Store(t.UnixMilli()) }
	set(time.Date(2020, 8, 24, 9, 0, 0, 0, time.UTC))
	pay := &commerce.TestProvider{}
	srv, err := server.StartWith(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)),
		server.Options{Now: func() time.Time { return time.UnixMilli(now.Load()).UTC() }, Payments: pay})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Commerce.PutPriceBook(t.Context(), commerce.PriceBook{Channel: store.ChannelDirect, Currency: "USD",
		Prices: []store.Price{{Plan: "business", Interval: store.IntervalMonth, AmountMinor: 3100}}}); err != nil {
		t.Fatal(err)
	}
	client := signedInAs(t, srv, `{"account_type":"business","account_name":"Shanghai Tea Co","email":"chen@example.com","display_name":"Chen","password":"correct horse battery","country":"CN"}`)
	if st, body := client("GET", "/api/plans", ""); st != http.StatusOK || !strings.Contains(body, `"payments":true`) {
		t.Fatalf("plans: %d %s", st, body)
	}
	buy := func(key, country string) (int, string) {
		return client("POST", "/api/checkout", `{"kind":"new","plan":"business","currency":"USD","billing_country":"`+country+`","payment_token":"tok_test"}`,
			"Idempotency-Key", key)
	}
	st, body := buy("k1", "CN")
	if st != http.StatusForbidden || !strings.Contains(body, `"rule_id":"cn-buy-via-partner"`) {
		t.Fatalf("CN checkout on 2020-08-24: %d %s", st, body)
	}
	for _, want := range []string{`"lotus-bridge"`, `"jade-harbor"`, `"red-lantern"`, `sales@lotus-bridge.example.com`, `+86 21 0000 0303`} {
		if !strings.Contains(body, want) {
			t.Errorf("the refusal lacks %s: %s", want, body)
		}
	}
	set(time.Date(2020, 8, 22, 9, 0, 0, 0, time.UTC))
	if st, body := buy("k2", "CN"); st != http.StatusForbidden || !strings.Contains(body, `"rule_id":"cn-buy-no-self-service"`) {
		t.Fatalf("CN checkout on 2020-08-22: %d %s", st, body)
	}
	if n := len(pay.Charges()); n != 0 {
		t.Fatalf("refused checkouts charged %d times", n)
	}
	set(time.Date(2020, 8, 24, 9, 0, 0, 0, time.UTC))
	if st, body := buy("k3", "US"); st != http.StatusCreated || !strings.Contains(body, `"status":"paid"`) || !strings.Contains(body, `"name":"Meridian"`) {
		t.Fatalf("US checkout on 2020-08-24: %d %s", st, body)
	}
	if c := pay.Charges(); len(c) != 1 || c[0].AmountMinor != 3100 || c[0].Currency != "USD" {
		t.Fatalf("charges %+v", c)
	}
	if st, body := client("GET", "/api/subscription", ""); st != http.StatusOK || !strings.Contains(body, `"plan":"business"`) ||
		!strings.Contains(body, `"billing_country":"US"`) {
		t.Fatalf("subscription: %d %s", st, body)
	}
}

// signedIn signs up a user on srv and returns a client that calls as them.
func signedIn(t *testing.T, srv *server.Server) func(method, path, body string, h ...string) (int, string) {
	t.Helper()
	return signedInAs(t, srv, `{"account_type":"individual","email":"ada@example.com","display_name":"Ada","password":"correct horse battery","country":"US"}`)
}

// signedInAs is signedIn with the sign-up request's body.
func signedInAs(t *testing.T, srv *server.Server, signup string) func(method, path, body string, h ...string) (int, string) {
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
	resp, body := call("POST", "/api/signup", signup)
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
