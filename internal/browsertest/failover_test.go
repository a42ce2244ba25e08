package browsertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/devcluster"
	"github.com/meridian-video/meridian/internal/meeting"
	"github.com/meridian-video/meridian/internal/server/servertest"
	"github.com/meridian-video/meridian/internal/store"
)

// A node that dies mid-meeting: a region of three nodes, the meeting carried by the first,
// a Go client publishing its camera there and a guest's page (served by the second)
// watching it. The carrier is closed; the page says it is reconnecting, joins again
// through the API, which places it on the surviving node, and plays the Go client's
// camera again once the Go client has rejoined there too.
//
// It logs the time from the kill to the first frame decoded on the page's new connection,
// the browser app's kill-to-media-again (BENCHMARKS.md, Failover):
//
//	flock /tmp/meridian-heavy.lock go test ./internal/browsertest/ -run TestBrowserRejoinsWhenItsNodeDies -count=3 -v
func TestBrowserRejoinsWhenItsNodeDies(t *testing.T) {
	// Three nodes: a region of three keeps its directory on all of them, so that it
	// survives the loss of one.
	d := servertest.StartDeployment(t, servertest.Spec{Regions: []string{"us-west:US"}, Nodes: 3})
	carrier, entry := d.Nodes[0], d.Nodes[1] // an empty region's first join goes to the lower id
	e := newBrowserEnv(t)
	e.Server, e.URL, e.DataDir = entry.Server, entry.URL(), entry.Config.DataDir

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, u, err := entry.Store.CreateAccountWithOwner(ctx, store.Account{Type: account.TypeBusiness, Name: "Acme", Plan: string(account.Business)},
		store.User{Email: "host@example.com", DisplayName: "Hester Host", PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	off := false
	m, err := entry.Meetings.Schedule(ctx, account.Principal{Account: a, User: u},
		meeting.ScheduleInput{Topic: "Failover", Passcode: &off, WaitingRoom: &off, JoinBeforeHost: true})
	if err != nil {
		t.Fatal(err)
	}
	guest := newUser(t, e, "guest")
	guest.Navigate("/j/" + m.JoinToken)
	camera := encodeCamera(t, guest)
	req := client.TicketRequest{MeetingID: m.ID, DisplayName: "Go camera"}
	pub := joinAndPublish(ctx, t, entry, req, camera, "")
	if pub.node != carrier.NodeID() {
		t.Fatalf("the meeting is carried by %s, want %s", pub.node, carrier.NodeID())
	}

	guest.VideoPlaying("video[data-testid=preview]")
	guest.Fill("display_name", "Grace Guest")
	guest.Click("[data-testid=join-button]")
	const remoteCamera = `[data-testid=tile]:not([data-self=true]) video[data-source=camera]`
	guest.VideoPlaying(remoteCamera)

	// From here the page notes the first frame decoded on a connection it makes after the
	// kill, by its own clock, so that the figure does not depend on how often Go looks.
	guest.Eval(`(() => {
		const before = window.__meridianPCs.length;
		window.__killAt = Date.now();
		const look = setInterval(async () => {
			for (const pc of window.__meridianPCs.slice(before)) {
				if (pc.connectionState === "closed") continue;
				(await pc.getStats()).forEach((s) => {
					if (s.type === "inbound-rtp" && s.kind === "video" && s.framesDecoded > 0 && !window.__mediaAgainAt) {
						window.__mediaAgainAt = Date.now();
						clearInterval(look);
					}
				});
			}
		}, 20);
		return true;
	})()`, nil)
	go carrier.Close()

	guest.WaitVisible("[data-testid=reconnecting]")
	<-pub.c.Done()
	pub = joinAndPublish(ctx, t, entry, req, camera, carrier.NodeID())
	guest.Timeout = 40 * time.Second // the page's rejoin gives up after 30 s
	guest.VideoPlaying(remoteCamera)
	guest.WaitGone("[data-testid=reconnecting]")
	if n := guest.Count("[data-testid=ended]"); n != 0 {
		t.Fatal("the page ended the meeting instead of rejoining")
	}
	var seated int
	for deadline := time.Now().Add(10 * time.Second); seated != 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		seated = d.Node(pub.node).SFU.Seated()
	}
	if seated != 2 {
		t.Fatalf("%d participants on %s, which carries the meeting now; want 2", seated, pub.node)
	}
	var ms int64
	guest.WaitFor("a frame decoded after the kill", `window.__mediaAgainAt ? window.__mediaAgainAt - window.__killAt : 0`)
	guest.Eval(`window.__mediaAgainAt - window.__killAt`, &ms)
	t.Logf("browser kill-to-media-again: %d ms", ms)
}

// encodeCamera has the page encode two seconds of a moving picture with its VP8 encoder
// (WebCodecs, libvpx), a keyframe every half second, and writes them as an IVF file for a
// Go client to publish: a browser decodes only real VP8, which the Go client's synthetic
// frames are not.
func encodeCamera(t *testing.T, u *user) string {
	t.Helper()
	const w, h, fps = 320, 180, 30
	var frames []string // base64
	u.Eval(fmt.Sprintf(`(async () => {
		const [w, h, fps] = [%d, %d, %d];
		const canvas = new OffscreenCanvas(w, h);
		const g = canvas.getContext("2d");
		const out = [];
		let failed = null;
		const enc = new VideoEncoder({
			output: (chunk) => {
				const b = new Uint8Array(chunk.byteLength);
				chunk.copyTo(b);
				let s = "";
				for (const x of b) s += String.fromCharCode(x);
				out.push(btoa(s));
			},
			error: (e) => { failed = String(e); },
		});
		enc.configure({ codec: "vp8", width: w, height: h, bitrate: 300000, framerate: fps });
		for (let i = 0; i < 2 * fps; i++) {
			g.fillStyle = "hsl(" + (i * 6) + ", 70%%, 45%%)";
			g.fillRect(0, 0, w, h);
			g.fillStyle = "#fff";
			g.fillRect((i * 5) %% w, h / 3, 40, 40);
			const f = new VideoFrame(canvas, { timestamp: i * 1e6 / fps });
			enc.encode(f, { keyFrame: i %% (fps / 2) === 0 });
			f.close();
		}
		await enc.flush();
		if (failed) throw new Error(failed);
		return out;
	})()`, w, h, fps), &frames)
	var file bytes.Buffer
	header := make([]byte, 32)
	copy(header, "DKIF")
	binary.LittleEndian.PutUint16(header[6:], 32)
	copy(header[8:], "VP80")
	binary.LittleEndian.PutUint16(header[12:], w)
	binary.LittleEndian.PutUint16(header[14:], h)
	binary.LittleEndian.PutUint32(header[16:], fps) // timebase 1/fps: a frame's pts is its number
	binary.LittleEndian.PutUint32(header[20:], 1)
	binary.LittleEndian.PutUint32(header[24:], uint32(len(frames)))
	file.Write(header)
	for i, f := range frames {
		data, err := base64.StdEncoding.DecodeString(f)
		if err != nil {
			t.Fatal(err)
		}
		var fh [12]byte
		binary.LittleEndian.PutUint32(fh[:], uint32(len(data)))
		binary.LittleEndian.PutUint64(fh[4:], uint64(i))
		file.Write(fh[:])
		file.Write(data)
	}
	path := filepath.Join(t.TempDir(), "camera.ivf")
	if err := os.WriteFile(path, file.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// publisher is a Go client publishing a camera, and the node carrying it.
type publisher struct {
	c    *client.Client
	node string
}

// joinAndPublish joins through the API of entry, as a client whose node died does: asking
// again until the answer names a node other than dead that lets it in, then publishes a
// the IVF file camera on it, in a loop until ctx ends.
func joinAndPublish(ctx context.Context, t *testing.T, entry *devcluster.Node, req client.TicketRequest, camera, dead string) publisher {
	t.Helper()
	for {
		tk, err := client.RequestTicket(ctx, entry.URL(), req)
		if err == nil && tk.NodeID != dead {
			c, err := client.Join(ctx, client.Options{URL: tk.URL(), Token: tk.Token, LoopbackOnly: true})
			if err == nil {
				v, err := client.NewFileTrack(camera, client.SourceCamera)
				if err != nil {
					t.Fatal(err)
				}
				v.Loop = true
				if err := c.PublishFile(ctx, v); err != nil {
					t.Fatal(err)
				}
				go v.Run(ctx)
				t.Cleanup(func() { c.Close() })
				return publisher{c: c, node: tk.NodeID}
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("join %s through %s: %v", req.MeetingID, entry.URL(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// When the node carrying the meeting dies and no other allowed node may take it (the
// region's others are draining), the page says so in words while it keeps trying, and
// after its 30 s of trying ends on a page that says why.
func TestBrowserSaysWhyItCannotRejoin(t *testing.T) {
	d := servertest.StartDeployment(t, servertest.Spec{Regions: []string{"us-west:US"}, Nodes: 3})
	carrier, entry := d.Nodes[0], d.Nodes[1]
	e := newBrowserEnv(t)
	e.Server, e.URL, e.DataDir = entry.Server, entry.URL(), entry.Config.DataDir

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, u, err := entry.Store.CreateAccountWithOwner(ctx, store.Account{Type: account.TypeBusiness, Name: "Acme", Plan: string(account.Business)},
		store.User{Email: "host@example.com", DisplayName: "Hester Host", PasswordHash: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	off := false
	m, err := entry.Meetings.Schedule(ctx, account.Principal{Account: a, User: u},
		meeting.ScheduleInput{Topic: "No room", Passcode: &off, WaitingRoom: &off, JoinBeforeHost: true})
	if err != nil {
		t.Fatal(err)
	}
	guest := newUser(t, e, "guest")
	guest.Navigate("/j/" + m.JoinToken)
	guest.Fill("display_name", "Grace Guest")
	guest.Click("[data-testid=join-button]")
	guest.WaitVisible("[data-testid=meeting]")
	for deadline := time.Now().Add(10 * time.Second); carrier.SFU.Seated() != 1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the guest is not on %s", carrier.NodeID())
		}
	}

	drained, stop := context.WithCancel(ctx)
	defer stop()
	for _, n := range d.Nodes[1:] {
		go n.Drain(drained)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if h, _ := entry.Registry.Node(n.NodeID()); h.Draining {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never announced draining", n.NodeID())
			}
		}
	}
	go carrier.Close()

	guest.Timeout = 20 * time.Second // the registry counts the carrier down after 3 s
	guest.WaitText("[data-testid=reconnecting]", "None of the data centers allowed to carry this meeting can take you now")
	guest.Timeout = 45 * time.Second // the page tries for 30 s
	guest.WaitVisible("[data-testid=ended][data-reason=no_allowed_capacity]")
}
