package browsertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/token"
)

// Test-only pages that exercise the harness without the product's UI.
const (
	// formPage is a form, for the DOM helpers, that keeps what was submitted in a
	// cookie, for the isolation of users.
	formPage = `<!doctype html><meta charset="utf-8"><title>form</title>
<form data-testid="form">
  <input name="greeting" autocomplete="off">
  <select name="color"><option value="red">red</option><option value="blue">blue</option></select>
  <input name="when" type="datetime-local">
  <button type="submit" data-testid="submit">Send</button>
  <button type="button" data-testid="copy">Copy</button>
</form>
<p data-testid="out" hidden></p>
<p data-testid="cookie"></p>
<script>
  const out = document.querySelector("[data-testid=out]");
  document.querySelector("[data-testid=cookie]").textContent = document.cookie || "(no cookie)";
  document.querySelector("[data-testid=copy]").addEventListener("click", () =>
    navigator.clipboard.writeText(document.querySelector("[name=greeting]").value));
  document.querySelector("form").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    document.cookie = "greeting=" + encodeURIComponent(f.get("greeting")) + "; path=/";
    out.textContent = f.get("greeting") + " in " + f.get("color") + " at " + f.get("when");
    out.hidden = false;
    console.log("submitted", f.get("greeting"));
  });
</script>`

	// loopbackPage loops the camera and microphone through two peer connections in
	// the page: what b receives plays in #remote.
	loopbackPage = `<!doctype html><meta charset="utf-8"><title>loopback</title>
<video id="local" autoplay muted playsinline></video>
<video id="remote" autoplay playsinline></video>
<video id="empty" autoplay muted playsinline></video>
<script>
  (async () => {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    window.loopback = { stream };
    document.getElementById("local").srcObject = stream;
    const a = new RTCPeerConnection(), b = new RTCPeerConnection();
    a.onicecandidate = (e) => b.addIceCandidate(e.candidate);
    b.onicecandidate = (e) => a.addIceCandidate(e.candidate);
    b.ontrack = (e) => { document.getElementById("remote").srcObject = e.streams[0]; };
    for (const t of stream.getTracks()) a.addTrack(t, stream);
    await a.setLocalDescription();
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription();
    await a.setRemoteDescription(b.localDescription);
  })().catch((err) => console.error("loopback failed:", err));
</script>`

	// screenPage captures the screen when its button is clicked, as the product does
	// (a real browser lets getDisplayMedia start only from a user gesture).
	screenPage = `<!doctype html><meta charset="utf-8"><title>screen</title>
<button data-testid="share">Share screen</button>
<video id="screen" autoplay muted playsinline></video>
<p data-testid="label"></p>
<script>
  document.querySelector("[data-testid=share]").addEventListener("click", async () => {
    try {
      const s = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      const [t] = s.getVideoTracks();
      document.querySelector("[data-testid=label]").textContent =
        "track " + t.kind + " " + t.readyState + " surface " + t.getSettings().displaySurface;
      document.getElementById("screen").srcObject = s;
    } catch (err) {
      document.querySelector("[data-testid=label]").textContent = "error " + err.name + ": " + err.message;
      console.error("getDisplayMedia failed:", err);
    }
  });
</script>`
)

// servePages serves the test pages on a loopback port for the test's duration.
func servePages(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	for path, body := range map[string]string{"/form": formPage, "/loopback": loopbackPage, "/screen": screenPage} {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(body))
		})
	}
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return srv.URL
}

// The DOM helpers work on a plain page, and users do not share cookies.
func TestHarnessDOMHelpersAndIsolation(t *testing.T) {
	t.Parallel()
	pages := servePages(t)
	env := newBrowserEnv(t)
	alice := newUser(t, env, "alice")
	bob := newUser(t, env, "bob")

	alice.Navigate(pages + "/form")
	alice.WaitVisible("[data-testid=form]")
	if got := alice.Text("[data-testid=cookie]"); got != "(no cookie)" {
		t.Fatalf("fresh user has cookie %q", got)
	}
	alice.Fill("greeting", "hello, world")
	alice.Fill("color", "blue")
	alice.Fill("when", "2031-05-06T07:08")
	alice.Click("[data-testid=submit]")
	if got := alice.WaitText("[data-testid=out]", "hello"); got != "hello, world in blue at 2031-05-06T07:08" {
		t.Fatalf("out = %q", got)
	}
	if got := alice.Attr("[name=color]", "value"); got != "blue" {
		t.Fatalf("color = %q", got)
	}
	if n := alice.Count("option"); n != 2 {
		t.Fatalf("%d options", n)
	}
	if got := alice.Texts("option"); strings.Join(got, ",") != "red,blue" {
		t.Fatalf("option texts %q", got)
	}
	var sum int
	alice.Eval(`Promise.resolve(20 + 22)`, &sum)
	if sum != 42 {
		t.Fatalf("eval = %d", sum)
	}
	alice.WaitFor("a cookie", `document.cookie.includes("greeting=")`)
	alice.Click("[data-testid=copy]")
	if got := alice.Clipboard(); got != "hello, world" {
		t.Fatalf("clipboard = %q", got)
	}

	alice.Type("[name=greeting]", "!\n") // Enter submits
	alice.WaitText("[data-testid=out]", "hello, world! in blue")
	if n := alice.Count("[data-testid=form] [name]"); n != 3 {
		t.Fatalf("%d named fields", n)
	}
	alice.WaitCount("[data-testid=out]:not([hidden])", 1)

	// Reloaded, alice keeps her cookie; bob, in his own browser context, has none.
	alice.Navigate(pages + "/form")
	alice.WaitText("[data-testid=cookie]", "greeting=hello%2C%20world")
	bob.Navigate(pages + "/form")
	if got := bob.Text("[data-testid=cookie]"); got != "(no cookie)" {
		t.Fatalf("bob sees alice's cookie: %q", got)
	}
	bob.WaitGone("[data-testid=out]")
	// The console collector gets the page's messages asynchronously.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(string(alice.console.bytes()), "submitted hello, world!"); {
		if time.Now().After(deadline) {
			t.Fatalf("console log lacks the page's message:\n%s", alice.console.bytes())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Media captured from the fake devices, sent through one in-page peer connection and
// received by another, decodes to moving video and audible sound.
func TestHarnessMediaLoopback(t *testing.T) {
	t.Parallel()
	pages := servePages(t)
	env := newBrowserEnv(t)
	u := newUser(t, env, "loopback")
	u.Navigate(pages + "/loopback")
	u.VideoPlaying("#local")
	u.VideoPlaying("#remote")
	u.AudioLevelAboveZero()

	pcs := u.RTCStats()
	if len(pcs) != 2 {
		t.Fatalf("recorded %d peer connections, want 2: %+v", len(pcs), pcs)
	}
	var decoded int64
	for _, in := range pcs[1].Inbound {
		decoded += in.FramesDecoded
	}
	if pcs[1].ConnectionState != "connected" || decoded == 0 {
		t.Fatalf("receiving peer connection: %+v", pcs[1])
	}

	// The assertions fail when they should: a video without a source, a paused one,
	// and audio from a disabled microphone (silence).
	const short = 2 * time.Second
	err := u.videoPlaying("#empty", short)
	if err == nil || !strings.Contains(err.Error(), "videoWidth 0") {
		t.Errorf("a video without a source: %v", err)
	}
	t.Logf("as expected: %v", err)
	u.Eval(`document.getElementById("remote").pause(); loopback.stream.getAudioTracks()[0].enabled = false`, nil)
	err = u.videoPlaying("#remote", short)
	if err == nil || !strings.Contains(err.Error(), "new frames") {
		t.Errorf("a paused video: %v", err)
	}
	t.Logf("as expected: %v", err)
	// The level of what is already on its way falls to 0 first.
	u.WaitFor("the received audio level to fall to 0", `(async () => {
		const stats = [...(await window.__meridianPCs[1].getStats()).values()];
		return stats.some(s => s.type === "inbound-rtp" && s.kind === "audio" && s.audioLevel === 0);
	})()`)
	if err = u.audioHeard(short); err == nil {
		t.Error("silence counted as sound")
	}
	t.Logf("as expected: %v", err)
}

// getDisplayMedia works headless: the fake screen is a video track with frames.
func TestHarnessScreenCapture(t *testing.T) {
	t.Parallel()
	pages := servePages(t)
	env := newBrowserEnv(t)
	u := newUser(t, env, "sharer")
	u.Navigate(pages + "/screen")
	u.Click("[data-testid=share]")
	if got := u.WaitText("[data-testid=label]", " "); !strings.HasPrefix(got, "track video live") {
		t.Fatalf("getDisplayMedia: %s", got)
	}
	u.VideoPlaying("#screen")
}

// The env's server is up and reachable from the browser, and Chromium's WebRTC works
// with the SFU over loopback: a tab publishes its camera and microphone by WHIP and
// another watches by WHEP.
func TestHarnessServerMedia(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	pub := newUser(t, env, "publisher")
	pub.Navigate("/healthz")
	pub.WaitText("body", `"status":"ok"`)

	pub.PublishWHIP("smoke", mint(t, env, "smoke", "pub", token.Grants{Publish: true}), map[string]any{"audio": true, "video": true})

	sub := newUser(t, env, "watcher")
	sub.Navigate("/healthz")
	sub.WatchWHEP("smoke", mint(t, env, "smoke", "sub", token.Grants{Subscribe: true}), "audio", "video")
	sub.VideoPlaying("#watch")
	sub.AudioLevelAboveZero()
}
