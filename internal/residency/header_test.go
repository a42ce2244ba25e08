package residency

import (
	"errors"
	"io"
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

const testBody = `{"topic":"Budget"}`

func signed(t *testing.T) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://eu-central-1.example/api/meetings?limit=5", strings.NewReader(testBody))
	newSigner(testKey).sign(r, []byte(testBody), "us-west-1", "eu-central", client, t0)
	return r
}

func TestForwardingHeaderVerifies(t *testing.T) {
	r := signed(t)
	fw, err := newSigner(testKey).verify(r, "eu-central", t0.Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if fw.Origin != "us-west-1" || fw.Home != "eu-central" || fw.ClientIP != client || !fw.At.Equal(t0) {
		t.Fatalf("verified %+v", fw)
	}
	// The handler still reads the body as it came.
	if b, _ := io.ReadAll(r.Body); string(b) != testBody {
		t.Fatalf("body after verifying: %q", b)
	}
}

// A forwarded request captured on the way is served once: the same header again, with
// its body or another, is refused for as long as the header is valid.
func TestForwardingHeaderReplayed(t *testing.T) {
	s := newSigner(testKey)
	r := signed(t)
	again := r.Clone(r.Context())
	setBody(again, []byte(testBody))
	if _, err := s.verify(r, "eu-central", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.verify(again, "eu-central", t0.Add(MaxSkew)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replayed: %v, want ErrReplayed", err)
	}
	// Another request of the same origin, signed the same second, is not a replay.
	if _, err := s.verify(signed(t), "eu-central", t0); err != nil {
		t.Fatalf("a second request: %v", err)
	}
}

// The nonces remembered are bounded: past the bound, forwarded requests are refused as
// busy (never served unchecked) until the old ones expire.
func TestForwardingNoncesBounded(t *testing.T) {
	s := newSigner(testKey)
	s.seen.max = 3
	for i := range 3 {
		if _, err := s.verify(signed(t), "eu-central", t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.verify(signed(t), "eu-central", t0.Add(5*time.Second)); !errors.Is(err, ErrBusy) {
		t.Fatalf("past the bound: %v, want ErrBusy", err)
	}
	// Once the first ones are older than MaxSkew they are forgotten, and room is made.
	late := t0.Add(MaxSkew + 2*time.Second)
	r := httptest.NewRequest(http.MethodPost, "http://eu-central-1.example/api/meetings?limit=5", strings.NewReader(testBody))
	s.sign(r, []byte(testBody), "us-west-1", "eu-central", client, late)
	if _, err := s.verify(r, "eu-central", late); err != nil {
		t.Fatalf("after the old nonces expired: %v", err)
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
		"nonce":          func(r *http.Request) { field(r, 4, strings.Repeat("B", 22)) },
		"short nonce":    func(r *http.Request) { field(r, 4, "AAAA") },
		"mac":            func(r *http.Request) { field(r, 5, strings.Repeat("A", 43)) },
		"version":        func(r *http.Request) { field(r, 0, "v1") },
		"body":           func(r *http.Request) { setBody(r, []byte(`{"topic":"Budget cuts"}`)) },
		"no body":        func(r *http.Request) { r.Body = http.NoBody },
		"huge body":      func(r *http.Request) { setBody(r, make([]byte, maxForwardBody+1)) },
		"two headers":    func(r *http.Request) { r.Header.Add(ForwardedHeader, r.Header.Get(ForwardedHeader)) },
		"truncated":      func(r *http.Request) { r.Header.Set(ForwardedHeader, "v1 us-west-1 eu-central") },
		"another key": func(r *http.Request) {
			newSigner([]byte("another deployment's key, 32 b..")).sign(r, []byte(testBody), "us-west-1", "eu-central", client, t0)
		},
	}
	for name, tamper := range cases {
		t.Run(name, func(t *testing.T) {
			r := signed(t)
			tamper(r)
			if _, err := newSigner(testKey).verify(r, "eu-central", t0); !errors.Is(err, ErrForged) {
				t.Fatalf("verify: %v, want ErrForged", err)
			}
		})
	}
}

func TestForwardingHeaderExpires(t *testing.T) {
	for _, at := range []time.Time{t0.Add(MaxSkew + time.Second), t0.Add(-MaxSkew - time.Second)} {
		if _, err := newSigner(testKey).verify(signed(t), "eu-central", at); !errors.Is(err, ErrExpired) {
			t.Errorf("verified %s after signing: %v, want ErrExpired", at.Sub(t0), err)
		}
	}
}

func TestForwardingHeaderOutsideItsHome(t *testing.T) {
	// Forwarded to eu-central and replayed into cn-north: refused there, and the home
	// cannot be rewritten to cn-north without the key.
	r := signed(t)
	if _, err := newSigner(testKey).verify(r, "cn-north", t0); !errors.Is(err, ErrWrongHome) {
		t.Fatalf("verify in cn-north: %v, want ErrWrongHome", err)
	}
	f := strings.Split(r.Header.Get(ForwardedHeader), " ")
	f[2] = "cn-north"
	r.Header.Set(ForwardedHeader, strings.Join(f, " "))
	if _, err := newSigner(testKey).verify(r, "cn-north", t0); !errors.Is(err, ErrForged) {
		t.Fatalf("home rewritten: %v, want ErrForged", err)
	}
}
