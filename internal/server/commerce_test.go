package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/commerce"
	"github.com/meridian-video/meridian/internal/store"
)

// A server with no payment provider configured sells nothing (fail closed): checkout
// answers payments_unavailable and records no subscription, while the sales routes are
// served.
func TestCheckoutWithoutPaymentProvider(t *testing.T) {
	srv := startServer(t)
	if err := srv.Commerce.PutPriceBook(t.Context(), commerce.PriceBook{Channel: store.ChannelDirect, Currency: "USD",
		Prices: []store.Price{{Plan: "pro", Interval: store.IntervalMonth, AmountMinor: 1500}}}); err != nil {
		t.Fatal(err)
	}
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
	resp, body := call("POST", "/api/signup", `{"account_type":"individual","email":"ada@example.com","display_name":"Ada","password":"correct horse battery"}`)
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || len(resp.Cookies()) == 0 {
		t.Fatalf("sign-up: %s %s", resp.Status, body)
	}
	auth = []string{"Cookie", resp.Cookies()[0].Name + "=" + resp.Cookies()[0].Value, "X-CSRF-Token", out.CSRFToken}

	if resp, body := call("GET", "/api/plans", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"amount_minor":1500`) {
		t.Fatalf("plans: %s %s", resp.Status, body)
	}
	resp, body = call("POST", "/api/checkout", `{"kind":"new","plan":"pro","currency":"USD","billing_country":"US","payment_token":"t"}`,
		"Idempotency-Key", "k1")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"payments_unavailable"`) {
		t.Fatalf("checkout: %s %s", resp.Status, body)
	}
	if resp, body := call("GET", "/api/subscription", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"subscription":null`) {
		t.Fatalf("subscription: %s %s", resp.Status, body)
	}
}
