package residency

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// receiving is the receiving side of a node of eu-central: what arrives with a
// forwarding header never reaches the directory or the registry.
func receiving(t *testing.T) (http.Handler, *string) {
	t.Helper()
	f := &Forwarder{
		cfg:    Config{Region: "eu-central", Node: "eu-central-1", Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 }},
		signer: newSigner(testKey),
	}
	var servedFrom string
	return f.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		servedFrom = r.RemoteAddr
		w.WriteHeader(http.StatusNoContent)
	})), &servedFrom
}

func code(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct{ Code string }
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d %q: %v", w.Code, w.Body, err)
	}
	return e.Code
}

func TestReceiveForwarded(t *testing.T) {
	h, servedFrom := receiving(t)
	w := httptest.NewRecorder()
	r := signed(t)
	r.RemoteAddr = "192.0.2.1:5555" // the forwarding node
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent || *servedFrom != "203.0.113.9:0" {
		t.Fatalf("%d, served as from %q; want the client's address", w.Code, *servedFrom)
	}
}

func TestReceiveRefusesForgedAndMisdirected(t *testing.T) {
	h, servedFrom := receiving(t)
	forged := signed(t)
	forged.Header.Set("X-Forwarded-For", "198.51.100.7") // a client naming its own address
	w := httptest.NewRecorder()
	h.ServeHTTP(w, forged)
	if w.Code != http.StatusForbidden || code(t, w) != CodeForwardingRefused || *servedFrom != "" {
		t.Fatalf("forged: %d %s, served %q", w.Code, w.Body, *servedFrom)
	}

	misdirected := httptest.NewRequest(http.MethodPost, "http://eu-central-1.example/api/meetings?limit=5", nil)
	newSigner(testKey).sign(misdirected, nil, "us-west-1", "cn-north", client, t0)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, misdirected)
	if w.Code != http.StatusMisdirectedRequest || code(t, w) != CodeMisdirected || *servedFrom != "" {
		t.Fatalf("misdirected: %d %s, served %q", w.Code, w.Body, *servedFrom)
	}
}

// A forwarded request is served once; the same request again is refused.
func TestReceiveRefusesReplay(t *testing.T) {
	h, servedFrom := receiving(t)
	r := signed(t)
	replay := r.Clone(r.Context())
	setBody(replay, []byte(testBody))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	*servedFrom = ""
	w = httptest.NewRecorder()
	h.ServeHTTP(w, replay)
	if w.Code != http.StatusForbidden || code(t, w) != CodeForwardingRefused || *servedFrom != "" {
		t.Fatalf("replay: %d %s, served %q", w.Code, w.Body, *servedFrom)
	}
}

func TestClientForwardedForIgnored(t *testing.T) {
	// A request with no forwarding header and no credential is this node's, and its
	// X-Forwarded-For is not believed.
	h, servedFrom := receiving(t)
	r := httptest.NewRequest(http.MethodGet, "http://eu-central-1.example/api/regions", nil)
	r.RemoteAddr = "192.0.2.44:4000"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent || *servedFrom != "192.0.2.44:4000" {
		t.Fatalf("%d, served as from %q", w.Code, *servedFrom)
	}
}
