package browsertest

// How to write a browser test
//
// A test makes an env: a Meridian server started in-process on a free loopback port
// (its own data dir, loopback-only media) and one headless Chromium. Each person in the
// scenario is a user: a tab in a browser context of its own, so users share no cookies,
// storage or sessions (they do share the clipboard).
//
//	func TestSomething(t *testing.T) {
//		env := newEnv(t)                     // server + browser; both stop in t.Cleanup
//		host := newUser(t, env, "host")      // the name labels failures and artifacts
//		host.Navigate("/signup")             // a path is joined to env.URL
//		host.Fill("email", "h@example.com")  // the first visible [name=email], typed
//		host.Fill("account_type", "business") // a select: picks the option
//		host.Click("form[data-testid=signup-form] button[type=submit]")
//		host.WaitVisible("[data-testid=schedule-form]")
//		...
//		link := host.Attr("[data-testid=invite-link]", "href") // or "value" for an input
//		guest := newUser(t, env, "guest")
//		guest.Navigate(link)
//		guest.WaitVisible("[data-testid=waiting-room]")
//		...
//		id := guest.Attr("[data-testid=tile][data-self=true]", "data-participant-id")
//		host.VideoPlaying(`[data-testid=tile][data-participant-id="` + id + `"] video[data-source=camera]`)
//		host.AudioLevelAboveZero()
//	}
//
// The helpers, all methods of *user (selectors are CSS; actions use the first visible
// match, reads the first match):
//
//	Navigate(url)                 load a URL or a path on the server, wait for the load event
//	Click(sel)                    wait until visible, enabled and not covered; click with the mouse
//	Fill(name, value)             set the field [name=...]: type text, pick an option, set a date
//	FillSelector(sel, value)      the same for any selector (e.g. [data-testid=chat-input])
//	Type(sel, text)               click sel, then type keys; "\n" is Enter
//	WaitVisible(sel), WaitGone(sel), WaitCount(sel, n)
//	WaitText(sel, substr) string  wait until a visible match's text contains substr
//	WaitFor(what, js)             wait until a JS expression (or its promise) is truthy
//	Text(sel), Texts(sel), Attr(sel, name), Count(sel), URL(), Clipboard()
//	Eval(js, &out)                evaluate JS (promises awaited), decode its JSON into out
//	VideoPlaying(sel)             the video (or the video inside sel) decodes new frames
//	AudioLevelAboveZero()         some received audio track carries sound
//	RTCStats()                    every RTCPeerConnection of the page, with inbound-rtp stats
//	Close()                       the person closes the browser (tab and context)
//
// Every wait gives up after user.Timeout (15 s unless the test sets it) and stops the
// test with t.Fatalf naming the user, what it waited for, what it saw last, the page's
// URL and its last console errors. Call the helpers from the test's goroutine, as t.Fatal.
// env.Server is the *server.Server (Tokens, Accounts, Meetings) and env.DataDir its data
// dir (mail goes to DataDir/outbox); newEnv's optional funcs adjust the server's config.
//
// The browser has a fake camera (a moving test pattern), a fake microphone (a beep) and a
// fake screen for getDisplayMedia (video and, if asked, audio), and accepts every
// permission prompt (the fake prompt even waives getDisplayMedia's need for a user
// gesture, so a test cannot catch a product that forgets one). Every RTCPeerConnection a
// page creates is recorded (window.__meridianPCs) before the page's scripts run, so the
// audio assertions read getStats() with no hook in the product.
//
// When a test fails, each user leaves screenshot.png, console.log (console messages and
// uncaught exceptions), page.html and rtc.json in
// $MERIDIAN_TEST_ARTIFACTS/<test>/<user> (default <os.TempDir()>/meridian-test-artifacts),
// and the browser's own output is in <test>/chromium.log; the test log names the paths.
// Each env starts a Chromium of its own, so parallel tests cost a browser each.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/meridian-video/meridian/internal/chromium"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/server"
)

const (
	// defaultTimeout bounds every wait of a user. A meeting needs a few round trips
	// and ICE on loopback, which take well under a second; 15 s leaves room for a
	// loaded CI machine running the race detector.
	defaultTimeout = 15 * time.Second
	// pollInterval is how often a wait looks at the page again.
	pollInterval = 100 * time.Millisecond
	// envArtifacts overrides where failing tests leave their artifacts.
	envArtifacts = "MERIDIAN_TEST_ARTIFACTS"
	// envDebug turns on the server's debug log and echoes browser consoles to the test log.
	envDebug = "MERIDIAN_TEST_DEBUG"
)

// env is one test's world: a Meridian server (nil for browser-only tests) and a browser.
type env struct {
	// Server is the in-process Meridian node; tests may use it directly (Tokens,
	// Accounts, Meetings).
	Server *server.Server
	// URL is the server's base URL, e.g. http://127.0.0.1:41234; empty without a server.
	URL string
	// DataDir is the server's data directory (its mail outbox is DataDir/outbox).
	DataDir string

	browser   context.Context // a chromedp context that owns the running browser
	chromeLog *lockedBuffer   // the browser process's stdout and stderr
}

// newEnv starts a Meridian server and a browser for t; both stop when t ends. The
// configure funcs may change the server's config (a test-ready default: loopback
// address, temporary data dir, loopback-only media) before it starts.
func newEnv(t *testing.T, configure ...func(*config.Config)) *env {
	t.Helper()
	return newEnvWith(t, server.Options{}, configure...)
}

// newEnvWith is newEnv with server options (a fixed clock, say).
func newEnvWith(t *testing.T, o server.Options, configure ...func(*config.Config)) *env {
	t.Helper()
	e := newBrowserEnv(t)
	e.DataDir = t.TempDir()
	e.Server = startServer(t, e.DataDir, o, configure...)
	e.URL = e.Server.URL()
	return e
}

// newBrowserEnv starts only a browser, for tests of the harness itself; flags are extra
// switches of the browser (chromedp.Flag).
func newBrowserEnv(t *testing.T, flags ...chromedp.ExecAllocatorOption) *env {
	t.Helper()
	e := &env{chromeLog: &lockedBuffer{}}
	e.browser = chromium.Start(t, e.chromeLog, flags...)
	t.Cleanup(func() {
		if t.Failed() {
			dir, err := artifactDir(t, "")
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, "chromium.log"), e.chromeLog.Bytes(), 0o644)
			}
			if err != nil {
				t.Logf("save chromium.log: %v", err)
			} else {
				t.Logf("browser output: %s", filepath.Join(dir, "chromium.log"))
			}
		}
	})
	return e
}

// startServer runs a Meridian node on a free loopback port with loopback-only media.
func startServer(t *testing.T, dataDir string, o server.Options, configure ...func(*config.Config)) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.Media.LoopbackOnly = new(true) // also the default for a loopback Addr; say it anyway
	for _, f := range configure {
		f(&cfg)
	}
	level := slog.LevelWarn
	if os.Getenv(envDebug) != "" {
		level = slog.LevelDebug
	}
	srv, err := server.StartWith(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), o)
	if err != nil {
		t.Fatalf("start the server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close the server: %v", err)
		}
	})
	return srv
}

// user is one person in a scenario: a browser tab with its own browser context.
type user struct {
	// Timeout bounds each wait; defaultTimeout unless a test changes it.
	Timeout time.Duration

	t       *testing.T
	env     *env
	name    string
	ctx     context.Context // the tab's chromedp context
	cancel  context.CancelFunc
	console *consoleLog
	closed  chan struct{} // closed when the console collector has stopped
	once    sync.Once
}

// newUser opens a tab in a fresh browser context (no cookies shared with other users).
// name labels the user's failures and artifacts.
func newUser(t *testing.T, e *env, name string) *user {
	t.Helper()
	ctx, cancel := chromedp.NewContext(e.browser, chromedp.WithNewBrowserContext())
	u := &user{
		Timeout: defaultTimeout,
		t:       t, env: e, name: name, ctx: ctx, cancel: cancel,
		console: &consoleLog{echo: os.Getenv(envDebug) != ""},
		closed:  make(chan struct{}),
	}
	if err := u.open(); err != nil {
		cancel()
		t.Fatalf("%s: open a tab: %v", name, err)
	}
	// Subscribe before any navigation so that no message of the first page is lost.
	messages := chromedp.Console(ctx)
	go func() {
		defer close(u.closed)
		for m, err := range messages {
			if err != nil {
				return
			}
			if line := u.console.add(m); u.console.echo {
				t.Logf("%s console: %s", name, line)
			}
		}
	}()
	t.Cleanup(u.close)
	return u
}

// open creates the tab and installs the peer connection recorder before the first
// navigation, so the recorder is in every document the tab loads.
func (u *user) open() error {
	if err := chromium.Run(u.ctx, u.cancel, 20*time.Second); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: chromium.RecorderJS, RunImmediately: new(true),
	}); err != nil {
		return fmt.Errorf("install the peer connection recorder: %w", err)
	}
	// Without these, navigator.clipboard refuses a page in a browser nobody looks at,
	// and a "copy invite link" button would fail.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission:       &browser.PermissionDescriptor{Name: name},
			Setting:          browser.PermissionSettingGranted,
			BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
		}); err != nil {
			return fmt.Errorf("grant %s: %w", name, err)
		}
	}
	return nil
}

// Close closes the user's tab and browser context (the person leaves, cookies and all).
// Cleanup calls it too; after it the user must not be used.
func (u *user) Close() {
	u.t.Helper()
	u.close()
}

func (u *user) close() {
	u.once.Do(func() {
		if u.t.Failed() {
			u.saveArtifacts()
		}
		ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
		defer cancel()
		_ = chromedp.Cancel(ctx) // closes the tab; an error means it is gone already
		u.cancel()
		<-u.closed
	})
}

// fatalf stops the test with the user's name, the page's URL and its last console
// errors, which usually say why a wait failed.
func (u *user) fatalf(format string, args ...any) {
	u.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(u.ctx, 2*time.Second)
	defer cancel()
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		msg += "\n\tpage: " + loc
	}
	if errs := u.console.errors(5); len(errs) > 0 {
		msg += "\n\tlast console errors:\n\t\t" + strings.Join(errs, "\n\t\t")
	}
	u.t.Fatalf("%s: %s", u.name, msg)
}

// url makes a path absolute against the server's URL.
func (u *user) url(s string) string {
	if strings.HasPrefix(s, "/") && u.env.URL != "" {
		return u.env.URL + s
	}
	return s
}

// saveArtifacts leaves what a person debugging a failure needs: a screenshot, the
// console, the DOM and the peer connections' stats.
func (u *user) saveArtifacts() {
	dir, err := artifactDir(u.t, u.name)
	if err != nil {
		u.t.Logf("%s: artifacts: %v", u.name, err)
		return
	}
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	var saved []string
	save := func(file string, data []byte, err error) {
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, file), data, 0o644)
		}
		if err != nil {
			u.t.Logf("%s: artifact %s: %v", u.name, file, err)
			return
		}
		saved = append(saved, file)
	}
	save("console.log", u.console.bytes(), nil)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100 means PNG
	save("screenshot.png", png, err)
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement ? document.documentElement.outerHTML : ""`))
	save("page.html", []byte(html), err)
	stats, err := evalJSON(ctx, rtcSummaryJS)
	var pretty bytes.Buffer
	if err == nil {
		err = json.Indent(&pretty, stats, "", "  ")
	}
	save("rtc.json", pretty.Bytes(), err)
	u.t.Logf("%s: artifacts in %s: %s", u.name, dir, strings.Join(saved, ", "))
}

// artifactDir makes (empty) the directory for t's artifacts, or its user's when name
// is not empty.
func artifactDir(t *testing.T, name string) (string, error) {
	root := os.Getenv(envArtifacts)
	if root == "" {
		root = filepath.Join(os.TempDir(), "meridian-test-artifacts")
	}
	dir := filepath.Join(root, safeName(t.Name()))
	if name != "" {
		dir = filepath.Join(dir, safeName(name))
		// Files of an earlier run would pass for this one's.
		if err := os.RemoveAll(dir); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeName turns a test or user name into one path element.
func safeName(s string) string {
	return strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "._")
}

// consoleLog keeps a tab's console messages and uncaught exceptions.
type consoleLog struct {
	echo bool // also log each message to the test log

	mu    sync.Mutex
	lines []string
	errs  []string // the error and exception lines, for failure messages
}

func (c *consoleLog) add(m chromedp.ConsoleMessage) string {
	line := m.Time.Format("15:04:05.000") + " " + m.String()
	if m.URL != "" {
		line += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
	}
	if m.IsException() && m.Stack != nil {
		for _, f := range m.Stack.CallFrames {
			line += fmt.Sprintf("\n\tat %s (%s:%d:%d)", f.FunctionName, f.URL, f.LineNumber+1, f.ColumnNumber+1)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, line)
	if m.Type == chromedp.ConsoleError || m.IsException() {
		c.errs = append(c.errs, line)
	}
	return line
}

func (c *consoleLog) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return []byte(strings.Join(c.lines, "\n") + "\n")
}

// errors returns the last n error lines.
func (c *consoleLog) errors(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs[max(0, len(c.errs)-n):]...)
}

// lockedBuffer collects the browser's output, which its process writes from another
// goroutine. It keeps the last maxChromeLog bytes: a long test must not grow it forever.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const maxChromeLog = 4 << 20

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - maxChromeLog; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}
