package whip

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/admission"
	"github.com/meridian-video/meridian/internal/sfu"
	"github.com/meridian-video/meridian/internal/token"
)

// WHIP and WHEP refusals are JSON with a stable code, marked nosniff.
func TestRefusalsAreJSONWithNosniff(t *testing.T) {
	gate, iss := newGate(t)
	h := New(gate, iss, slog.New(slog.DiscardHandler))
	for _, c := range []struct{ method, path, code string }{
		{"POST", "/whip/room", "token_missing"},
		{"POST", "/whep/room", "token_missing"},
		{"PATCH", "/whip/room/x", "trickle_unsupported"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, strings.NewReader("v=0")))
		res := w.Result()
		if res.Header.Get("Content-Type") != "application/json" || res.Header.Get("X-Content-Type-Options") != "nosniff" ||
			!strings.Contains(w.Body.String(), `"code":"`+c.code+`"`) || res.StatusCode < http.StatusBadRequest {
			t.Errorf("%s %s: %d %v %s", c.method, c.path, res.StatusCode, res.Header, w.Body)
		}
	}
}

// newGate is an admission gate on a loopback SFU with a fresh region key, as a node has.
func newGate(t *testing.T) (*admission.Gate, *token.Issuer) {
	t.Helper()
	node := sfu.New(sfu.Config{LoopbackOnly: true}, slog.New(slog.DiscardHandler), nil)
	t.Cleanup(node.Close)
	key, err := token.GenerateKey("local")
	if err != nil {
		t.Fatal(err)
	}
	iss := token.NewIssuer(key, nil)
	return &admission.Gate{SFU: node, Tokens: iss, Rooms: admission.NoLastingState{}, Log: slog.New(slog.DiscardHandler)}, iss
}
