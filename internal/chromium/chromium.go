// Package chromium starts the headless Chromium that tests drive through chromedp: where
// the binary is, the switches every test browser needs (fake camera, microphone and
// screen, no prompts, plain ICE addresses), and a life bound to the test's. The browser
// tests and the network lab's participants share it.
package chromium

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvPath overrides where the browser binary is.
const EnvPath = "MERIDIAN_CHROMIUM"

// Path finds the browser: $MERIDIAN_CHROMIUM, /usr/bin/chromium, or chromium in PATH.
func Path() (string, error) {
	if p := os.Getenv(EnvPath); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("%s=%s is not an executable: %w", EnvPath, p, err)
		}
		return p, nil
	}
	const debian = "/usr/bin/chromium"
	if _, err := exec.LookPath(debian); err == nil {
		return debian, nil
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		return "", fmt.Errorf("no Chromium: set %s, or install it (Debian: apt-get install chromium)", EnvPath)
	}
	return p, nil
}

// Flags are Chromium's switches for the tests, on top of chromedp's defaults (headless,
// no first run, no background networking, mute audio output, ...).
func Flags() []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		// The new headless mode is the real browser (same media stack, same
		// getDisplayMedia) without a window.
		chromedp.Flag("headless", "new"),
		// Chromium's sandbox refuses to start as root, which network namespaces need.
		chromedp.Flag("no-sandbox", true),
		// A synthetic camera (moving pattern), microphone (a beep) and screen instead
		// of real devices, and no permission prompts, not even for screen capture.
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("disable-background-networking", true),
		// Keep the defaults' features, and offer plain addresses in ICE candidates:
		// a page without camera permission (a guest who joins with the camera
		// off) would otherwise offer mDNS .local names, which nothing in a test's
		// namespace resolves. (The SFU also learns the address from the browser's
		// connectivity checks, so media works without it today.)
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		// WebRTC ignores loopback interfaces unless told otherwise, and loopback is
		// all there is in the browser tests' namespace: without this no media flows.
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		// Remote audio and video must start without a click on the page.
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 800),
	}
}

// Start launches Chromium for t, its output going to out, and returns the browser's
// chromedp context; it is closed, and its process waited for, when t ends. extra options
// come last (chromedp.ModifyCmdFunc to run it in a network namespace, say).
func Start(t testing.TB, out io.Writer, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path, err := Path()
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.CombinedOutput(out))
	opts = append(opts, Flags()...)
	opts = append(opts, extra...)
	// Not t.Context(): it is cancelled before cleanups run, and the cleanups of a
	// failed test still need the browser for screenshots.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(browserCtx, 10*time.Second)
		defer cancel()
		_ = chromedp.Cancel(ctx) // closes the browser gracefully; errors just mean it is gone
		cancelBrowser()
		cancelAlloc() // waits for the process to exit
	})
	if err := Run(browserCtx, cancelBrowser, 30*time.Second); err != nil {
		msg := fmt.Sprintf("start %s: %v", path, err)
		if b, ok := out.(interface{ Bytes() []byte }); ok {
			msg += "\n" + string(b.Bytes())
		}
		t.Fatal(msg)
	}
	return browserCtx
}

// RecorderJS runs in every document before the page's own scripts: it keeps every
// RTCPeerConnection the page creates in a hidden (non-enumerable) array, so tests can
// read getStats() without a hook in the product. A subclass keeps instanceof, the
// static methods and the prototype working for the page.
const RecorderJS = `(() => {
	if (window.__meridianPCs || !window.RTCPeerConnection) return;
	const pcs = [];
	Object.defineProperty(window, "__meridianPCs", { value: pcs });
	const Native = window.RTCPeerConnection;
	class RTCPeerConnection extends Native {
		constructor(...args) {
			super(...args);
			pcs.push(this);
		}
	}
	window.RTCPeerConnection = RTCPeerConnection;
	if (window.webkitRTCPeerConnection) window.webkitRTCPeerConnection = RTCPeerConnection;
})();`

// Run runs the first action on a chromedp context, which starts its browser or opens its
// tab. That action binds the browser's or tab's life to the context it is given, so it
// must get ctx itself, not one with a timeout; the wait is bounded from outside instead,
// by cancelling ctx.
func Run(ctx context.Context, cancel context.CancelFunc, timeout time.Duration) error {
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		return err
	case <-time.After(timeout):
		cancel()
		return fmt.Errorf("not started after %v: %w", timeout, <-started)
	}
}
