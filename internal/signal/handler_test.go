package signal

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/meridian-video/meridian/internal/admission"
	"github.com/meridian-video/meridian/internal/sfu"
	"github.com/meridian-video/meridian/internal/token"
)

func newTestHandler(t *testing.T, joinTimeout time.Duration) (*httptest.Server, *token.Issuer) {
	t.Helper()
	node := sfu.New(sfu.Config{LoopbackOnly: true}, slog.New(slog.DiscardHandler), nil)
	t.Cleanup(node.Close)
	key, err := token.GenerateKey("local")
	if err != nil {
		t.Fatal(err)
	}
	iss := token.NewIssuer(key, nil)
	gate := &admission.Gate{SFU: node, Tokens: iss, Rooms: admission.NoLastingState{}, Log: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(&Handler{Admission: gate, Log: slog.New(slog.DiscardHandler), JoinTimeout: joinTimeout})
	t.Cleanup(srv.Close)
	return srv, iss
}

func dial(t *testing.T, srv *httptest.Server) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

func readMsg(t *testing.T, conn *websocket.Conn) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := conn.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// A connection that never joins is told why, then closed.
func TestJoinTimeoutIsExplained(t *testing.T) {
	srv, _ := newTestHandler(t, 100*time.Millisecond)
	conn := dial(t, srv)
	if m := readMsg(t, conn); m["type"] != "error" || m["code"] != CodeJoinTimeout {
		t.Fatalf("got %v", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := conn.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusNormalClosure || ce.Reason != CodeJoinTimeout {
		t.Fatalf("after join timeout: %v, want close 1000 with reason %s (as docs/protocol.md says)", err, CodeJoinTimeout)
	}
}

// A message a little over the limit is refused with bad_message and the session goes on;
// a far larger one closes the connection.
func TestOversizeMessages(t *testing.T) {
	srv, iss := newTestHandler(t, time.Minute)
	conn := dial(t, srv)
	tok, _ := iss.Mint("r", "a", "", token.Grants{Subscribe: true}, time.Minute)
	ctx := context.Background()
	conn.Write(ctx, websocket.MessageText, []byte(`{"type":"join","token":"`+tok+`"}`))
	if m := readMsg(t, conn); m["type"] != "joined" {
		t.Fatalf("got %v", m)
	}
	big := `{"type":"chat","text":"` + strings.Repeat("x", MaxMessageSize+10) + `"}`
	conn.Write(ctx, websocket.MessageText, []byte(big))
	if m := readMsg(t, conn); m["code"] != CodeBadMessage {
		t.Fatalf("got %v", m)
	}
	conn.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`))
	if m := readMsg(t, conn); m["type"] != "pong" {
		t.Fatalf("session broken after a refused message: %v", m)
	}
	huge := `{"type":"chat","text":"` + strings.Repeat("x", 3*MaxMessageSize) + `"}`
	conn.Write(ctx, websocket.MessageText, []byte(huge))
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, _, err := conn.Read(rctx); err == nil {
		t.Fatal("connection still open after a 192 KiB message")
	}
}

// A client that keeps sending bad requests is told it is rate limited, then dropped.
func TestErrorFloodIsCutOff(t *testing.T) {
	srv, _ := newTestHandler(t, time.Minute)
	conn := dial(t, srv)
	ctx := context.Background()
	for range 40 {
		if conn.Write(ctx, websocket.MessageText, []byte(`{"type":"nonsense"}`)) != nil {
			break
		}
	}
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, b, err := conn.Read(rctx)
		cancel()
		if err != nil {
			t.Fatal("closed without a rate_limited error")
		}
		if strings.Contains(string(b), `"`+CodeRateLimited+`"`) {
			return
		}
	}
}

// A joined client flooding a cheap message (sources, which is answered with nothing) is
// told it is rate limited, then dropped.
func TestMessageFloodIsCutOff(t *testing.T) {
	srv, iss := newTestHandler(t, time.Minute)
	conn := dial(t, srv)
	tok, _ := iss.Mint("r", "a", "", token.Grants{Publish: true, Subscribe: true}, time.Minute)
	ctx := context.Background()
	conn.Write(ctx, websocket.MessageText, []byte(`{"type":"join","token":"`+tok+`"}`))
	if m := readMsg(t, conn); m["type"] != "joined" {
		t.Fatalf("got %v", m)
	}
	go func() {
		for range 2000 {
			if conn.Write(ctx, websocket.MessageText, []byte(`{"type":"sources","sources":{"t1":"camera"}}`)) != nil {
				return
			}
		}
	}()
	limited := false
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, b, err := conn.Read(rctx)
		timedOut := errors.Is(rctx.Err(), context.DeadlineExceeded)
		cancel()
		if err != nil {
			if !limited {
				t.Fatalf("no rate_limited error before the connection ended: %v", err)
			}
			if timedOut {
				t.Fatal("the flooding connection was not closed")
			}
			return
		}
		limited = limited || strings.Contains(string(b), `"`+CodeRateLimited+`"`)
	}
}
