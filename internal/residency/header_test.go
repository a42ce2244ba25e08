package residency

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	testKey = []byte("0123456789abcdef0123456789abcdef")
	t0      = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	client  = netip.MustParseAddr("203.0.113.9")
)

func signed(t *testing.T) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://eu-central-1.example/api/meetings?limit=5", nil)
	signer{key: testKey}.sign(r, "us-west-1", "eu-central", client, t0)
	return r
}

func TestForwardingHeaderVerifies(t *testing.T) {
	fw, err := signer{key: testKey}.verify(signed(t), "eu-central", t0.Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if fw.Origin != "us-west-1" || fw.Home != "eu-central" || fw.ClientIP != client || !fw.At.Equal(t0) {
		t.Fatalf("verified %+v", fw)
	}
}

func TestForwardingHeaderTampered(t *testing.T) {
	field := func(r *http.Request, i int, v string) {
		f := strings.Split(r.Header.Get(ForwardedHeader), " ")
		f[i] = v
		r.Header.Set(ForwardedHeader, strings.Join(f, " "))
	}
	cases := map[string]func(r *http.Request){
		"method":         func(r *http.Request) { r.Method = http.MethodDelete },
		"path":           func(r *http.Request) { r.URL.Path = "/api/keys" },
		"query":          func(r *http.Request) { r.URL.RawQuery = "limit=50" },
		"client address": func(r *http.Request) { r.Header.Set("X-Forwarded-For", "198.51.100.1") },
		"two addresses":  func(r *http.Request) { r.Header.Add("X-Forwarded-For", "198.51.100.1") },
		"no address":     func(r *http.Request) { r.Header.Del("X-Forwarded-For") },
		"origin":         func(r *http.Request) { field(r, 1, "cn-north-1") },
		"time":           func(r *http.Request) { field(r, 3, strconv.FormatInt(t0.Unix()+1, 10)) },
		"mac":            func(r *http.Request) { field(r, 4, strings.Repeat("A", 43)) },
		"version":        func(r *http.Request) { field(r, 0, "v2") },
		"two headers":    func(r *http.Request) { r.Header.Add(ForwardedHeader, r.Header.Get(ForwardedHeader)) },
		"truncated":      func(r *http.Request) { r.Header.Set(ForwardedHeader, "v1 us-west-1 eu-central") },
		"another key": func(r *http.Request) {
			signer{key: []byte("another deployment's key, 32 b..")}.sign(r, "us-west-1", "eu-central", client, t0)
		},
	}
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			r := signed(t)
			tamper(r)
			if _, err := (signer{key: testKey}).verify(r, "eu-central", t0); !errors.Is(err, ErrForged) {
				t.Fatalf("verify: %v, want ErrForged", err)
			}
		})
	}
}

func TestForwardingHeaderExpires(t *testing.T) {
	for _, at := range []time.Time{t0.Add(MaxSkew + time.Second), t0.Add(-MaxSkew - time.Second)} {
		if _, err := (signer{key: testKey}).verify(signed(t), "eu-central", at); !errors.Is(err, ErrExpired) {
			t.Errorf("verified %s after signing: %v, want ErrExpired", at.Sub(t0), err)
		}
	}
}

func TestForwardingHeaderOutsideItsHome(t *testing.T) {
	// Forwarded to eu-central and replayed into cn-north: refused there, and the home
	// cannot be rewritten to cn-north without the key.
	r := signed(t)
	if _, err := (signer{key: testKey}).verify(r, "cn-north", t0); !errors.Is(err, ErrWrongHome) {
		t.Fatalf("verify in cn-north: %v, want ErrWrongHome", err)
	}
	f := strings.Split(r.Header.Get(ForwardedHeader), " ")
	f[2] = "cn-north"
	r.Header.Set(ForwardedHeader, strings.Join(f, " "))
	if _, err := (signer{key: testKey}).verify(r, "cn-north", t0); !errors.Is(err, ErrForged) {
		t.Fatalf("home rewritten: %v, want ErrForged", err)
	}
}
