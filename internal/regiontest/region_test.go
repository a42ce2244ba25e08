//go:build linux

package regiontest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pion/rtp"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/chromium"
	"github.com/meridian-video/meridian/internal/netlab"
)

// Three regions, each a single-node `meridian serve` of its own (us, eu, cn), and a host
// near CN with two Go clients and a Chromium. An account signs up on the US node and
// holds a meeting there; the three people near CN join it through the US node's API (the
// browser by the invite link), exchange audio and video, and chat. Meanwhile a capture on
// the CN node's interfaces counts the packets from or to the participants' host and the
// US node: there must be none, signalling or media. The same capture on the US node and
// on the participants' host sees the meeting (so the filter is right), and a control
// capture on CN sees the EU node's requests to it (so a capture there does see packets).
func TestMeetingNearCNStaysOnUSNode(t *testing.T) {
	lab := netlab.New(t)
	if _, err := chromium.Path(); err != nil {
		netlab.Unavailable(t, err)
	}
	bin := buildMeridian(t)
	us, eu, cn, near := lab.AddHost("us"), lab.AddHost("eu"), lab.AddHost("cn"), lab.AddHost("near-cn")
	usNode := netlab.StartMeridian(t, us, bin, "")
	netlab.StartMeridian(t, eu, bin, "")
	cnNode := netlab.StartMeridian(t, cn, bin, "")

	ofMeeting := netlab.Involving(near.Addr, us.Addr)
	onCN := cn.Capture(t, ofMeeting)
	control := cn.Capture(t, netlab.Involving(eu.Addr))
	onUS := us.Capture(t, ofMeeting)
	onNear := near.Capture(t, ofMeeting)

	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	// The host signs up on the US node and starts a meeting with no waiting room.
	hostAPI := &apiClient{t: t, http: near.HTTPClient(), base: usNode.URL}
	hostAPI.signUp("hester@example.com", "Hester Host")
	var m meeting
	hostAPI.call("POST", "/api/meetings", map[string]any{"topic": "Residency review", "waiting_room": false}, http.StatusCreated, &m)
	if !strings.HasPrefix(m.JoinURL, usNode.URL+"/j/") {
		t.Fatalf("join URL %q is not on the US node %s", m.JoinURL, usNode.URL)
	}
	var hostTicket, guestTicket ticket
	hostAPI.call("POST", "/api/meetings/"+m.ID+"/start", nil, http.StatusOK, &hostTicket)
	guestAPI := &apiClient{t: t, http: near.HTTPClient(), base: usNode.URL}
	guestAPI.call("POST", "/api/join", map[string]string{
		"meeting_id": m.ID, "passcode": m.Passcode, "display_name": "Grace Guest",
	}, http.StatusOK, &guestTicket)

	host := joinNear(t, ctx, near, usNode.URL+hostTicket.WSPath, hostTicket.Token)
	guest := joinNear(t, ctx, near, usNode.URL+guestTicket.WSPath, guestTicket.Token)
	browser := openBrowser(t, near, usNode.URL)
	browserID := browser.join(ctx, m.JoinURL, "Chromium Chen")

	// Media: each Go client gets video frames from the other and from the browser; the
	// browser receives both Go clients' video.
	hostID, guestID := host.c.Self().ID, guest.c.Self().ID
	t.Logf("participants: host %s, guest %s, browser %s", hostID, guestID, browserID)
	waitFor(t, ctx, "video frames at the host from the guest and the browser", func() bool {
		return host.framesFrom(guestID) >= 30 && host.framesFrom(browserID) >= 30
	}, host.String)
	waitFor(t, ctx, "video frames at the guest from the host and the browser", func() bool {
		return guest.framesFrom(hostID) >= 30 && guest.framesFrom(browserID) >= 30
	}, guest.String)
	browser.waitVideoPackets(ctx, 2, 100)

	// Chat both ways between the Go clients and the browser.
	browser.run(ctx, chromedp.Click(`[data-testid=chat-toggle]`))
	if err := host.c.Chat("Welcome, everyone"); err != nil {
		t.Fatal(err)
	}
	browser.waitChat(ctx, "Welcome, everyone")
	browser.run(ctx,
		chromedp.SendKeys(`[data-testid=chat-input]`, "Hello from near CN\r"))
	waitFor(t, ctx, "the browser's chat at the guest", func() bool { return guest.saw("Hello from near CN") }, guest.String)

	// The EU node asks the CN node for its health, for the control capture.
	euAPI := eu.HTTPClient()
	for range 3 {
		resp, err := euAPI.Get(cnNode.URL + "/healthz")
		if err != nil {
			t.Fatalf("from eu to cn: %v", err)
		}
		resp.Body.Close()
	}

	time.Sleep(200 * time.Millisecond) // the last frames reach every capture socket
	for _, c := range []*netlab.Capture{onCN, control, onUS, onNear} {
		c.Stop()
		if err := c.Err(); err != nil || c.Drops() > 0 {
			t.Fatalf("a capture stopped early or dropped frames (%v, %d drops): its count proves nothing", err, c.Drops())
		}
	}
	if n := onCN.Matched(); n != 0 {
		t.Errorf("the CN node saw %d packets of the meeting; the first:\n%s", n, joinPackets(onCN.Matches()))
	}
	if control.Matched() < 10 {
		t.Errorf("the CN node's control capture saw %d packets of the EU node's requests, want at least 10", control.Matched())
	}
	// The waits above saw at least this many packets delivered from the US node to the
	// host near CN (30 frames in each of four streams to Go clients, of one packet at
	// least, and 100 in each of two to the browser); each crossed both captures.
	const delivered = 4*30 + 2*100
	for name, c := range map[string]*netlab.Capture{"US node": onUS, "near-CN host": onNear} {
		if c.Matched() < delivered {
			t.Errorf("the %s saw %d packets of the meeting, want at least the %d delivered", name, c.Matched(), delivered)
		}
	}
	t.Logf("packets of the meeting: %d at the US node, %d near CN, %d at the CN node (of %d it saw)",
		onUS.Matched(), onNear.Matched(), onCN.Matched(), onCN.Count())
}

// joinPackets formats packets one a line.
func joinPackets(ps []netlab.Packet) string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = "\t" + p.String()
	}
	return strings.Join(lines, "\n")
}

// waitFor polls cond until it holds, failing t when ctx ends first with what state
// describes.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool, state func() string) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; %s", what, state())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// goParticipant is a Go client in a host, publishing synthetic audio and video, counting
// the video frames it receives from each participant and the chat it sees.
type goParticipant struct {
	c *client.Client

	mu     sync.Mutex
	frames map[string]int // participant id -> video frames received (RTP marker bits)
	chat   []string
}

// joinNear enters a room from inside h, through its namespace's sockets for both the
// signalling WebSocket and ICE, and publishes a camera and a microphone.
func joinNear(t *testing.T, ctx context.Context, h *netlab.Host, signalURL, token string) *goParticipant {
	t.Helper()
	pionNet, err := h.Net()
	if err != nil {
		t.Fatal(err)
	}
	p := &goParticipant{frames: map[string]int{}}
	p.c, err = client.Join(ctx, client.Options{
		URL: signalURL, Token: token, Net: pionNet, HTTPClient: h.HTTPClient(),
		OnTrack: func(rt *client.RemoteTrack) {
			if rt.Info.Kind != "video" {
				return
			}
			from := rt.Info.ParticipantID
			rt.SetHandler(func(pkt *rtp.Packet) {
				if pkt.Marker {
					p.mu.Lock()
					p.frames[from]++
					p.mu.Unlock()
				}
			})
		},
		OnChat: func(c client.Chat) {
			p.mu.Lock()
			p.chat = append(p.chat, c.Text)
			p.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("join from %s: %v", h.Name, err)
	}
	t.Cleanup(func() { p.c.Close() })
	v, err := client.NewLocalTrack(client.VP8, client.SourceCamera)
	if err != nil {
		t.Fatal(err)
	}
	a, err := client.NewLocalTrack(client.Opus, client.SourceMicrophone)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.c.Publish(ctx, v, a); err != nil {
		t.Fatalf("publish from %s: %v", h.Name, err)
	}
	mediaCtx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go (&client.VideoSource{Track: v, FPS: 30, Bitrate: 300_000, KeyframeInterval: time.Second}).Run(mediaCtx)
	go (&client.AudioSource{Track: a}).Run(mediaCtx)
	return p
}

// String describes what the participant received, for failure messages.
func (p *goParticipant) String() string {
	var tracks []string
	for _, rt := range p.c.RemoteTracks() {
		st := rt.Stats()
		tracks = append(tracks, fmt.Sprintf("%s from %s: %d packets", rt.Info.Kind, rt.Info.ParticipantID, st.Packets))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("video frames by sender %v; tracks %v; chat %q", p.frames, tracks, p.chat)
}

func (p *goParticipant) framesFrom(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frames[id]
}

func (p *goParticipant) saw(text string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.chat, text)
}

// browserParticipant is a Chromium tab in a host.
type browserParticipant struct {
	t   *testing.T
	tab context.Context
}

// openBrowser starts Chromium inside h (its process, and so its ICE gathering, in h's
// namespace; chromedp talks to it over a pipe) and opens a tab that records its peer
// connections. The nodes' origins are plain http on lab addresses, which the browser
// would not count as secure contexts (only loopback is), leaving a page there no camera
// or microphone: it is told to treat them as secure, as https would be in a deployment.
// The browser's output is kept as an artifact when t fails.
func openBrowser(t *testing.T, h *netlab.Host, origins ...string) *browserParticipant {
	t.Helper()
	logPath := filepath.Join(netlab.ArtifactDir(t), h.Name+"-chromium.log")
	out, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		out.Close()
		if !t.Failed() {
			os.Remove(logPath)
		} else {
			t.Logf("browser output: %s", logPath)
		}
	})
	// Not chromedp's Pdeathsig: it fires when the thread that forked ends, and
	// Host.Do ends threads; the lab's cleanup and sweep kill what runs in a host.
	browserCtx := chromium.Start(t, out, chromedp.ModifyCmdFunc(h.Wrap),
		chromedp.Flag("unsafely-treat-insecure-origin-as-secure", strings.Join(origins, ",")))
	tab, cancel := chromedp.NewContext(browserCtx)
	t.Cleanup(cancel)
	if err := chromium.Run(tab, cancel, 20*time.Second); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	b := &browserParticipant{t: t, tab: tab}
	ctx, cancelCall := context.WithTimeout(tab, 10*time.Second)
	defer cancelCall()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: chromium.RecorderJS, RunImmediately: new(true),
	}); err != nil {
		t.Fatalf("install the peer connection recorder: %v", err)
	}
	return b
}

// run runs chromedp actions in the tab, bounded by ctx.
func (b *browserParticipant) run(ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithDeadline(b.tab, deadlineOf(ctx))
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// waitJS evaluates js (awaiting a promise) every 200 ms until it is true, failing the
// test when ctx ends first.
func (b *browserParticipant) waitJS(ctx context.Context, what, js string) {
	b.t.Helper()
	for {
		evalCtx, cancel := context.WithTimeout(b.tab, 5*time.Second)
		ok, err := chromedp.Run(evalCtx, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise))
		cancel()
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("browser: timed out waiting for %s (last error: %v)", what, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// deadlineOf is ctx's deadline, or 30 s from now.
func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(30 * time.Second)
}

// join opens the invite link, gives a name, joins and returns the browser's participant
// id once it is in the meeting.
func (b *browserParticipant) join(ctx context.Context, link, name string) string {
	b.t.Helper()
	b.run(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(`input[name=display_name]`),
	)
	// The camera preview has a picture before joining, as a person would see: joining
	// before the camera is on would join without it.
	b.waitJS(ctx, "the camera preview", `document.querySelector("video[data-testid=preview]")?.videoWidth > 0`)
	b.run(ctx,
		chromedp.SendKeys(`input[name=display_name]`, name),
		chromedp.Click(`[data-testid=join-button]`),
		chromedp.WaitVisible(`[data-testid=tile][data-self=true]`),
	)
	attrCtx, cancel := context.WithTimeout(b.tab, 10*time.Second)
	defer cancel()
	id, err := chromedp.Run(attrCtx, chromedp.AttributeValue(`[data-testid=tile][data-self=true]`, "data-participant-id"))
	if err != nil || id.Value == "" {
		b.t.Fatalf("browser: its own tile has no participant id (%v)", err)
	}
	return id.Value
}

// waitVideoPackets waits until at least streams inbound video streams of the tab's peer
// connections have each received more than packets packets.
func (b *browserParticipant) waitVideoPackets(ctx context.Context, streams, packets int) {
	b.t.Helper()
	js := fmt.Sprintf(`(async () => {
		let n = 0;
		for (const pc of window.__meridianPCs || []) {
			if (pc.connectionState === "closed") continue;
			(await pc.getStats()).forEach(s => {
				if (s.type === "inbound-rtp" && s.kind === "video" && s.packetsReceived > %d) n++;
			});
		}
		return n >= %d;
	})()`, packets, streams)
	b.waitJS(ctx, fmt.Sprintf("%d video streams received", streams), js)
}

// waitChat waits until a chat message in the page contains text.
func (b *browserParticipant) waitChat(ctx context.Context, text string) {
	b.t.Helper()
	js := fmt.Sprintf(`[...document.querySelectorAll("[data-testid=chat-message]")].some(e => e.textContent.includes(%q))`, text)
	b.waitJS(ctx, "chat message "+text, js)
}
