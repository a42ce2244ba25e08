//go:build linux

package regiontest

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/chromium"
	"github.com/meridian-video/meridian/internal/netlab"
)

// Ports of each node's embedded NATS server, on its host's address (each host has an
// address of its own, so every node uses the same ones).
const (
	busClientPort  = 4222
	busClusterPort = 6222
	busGatewayPort = 7222
)

// region is one region of the lab's deployment: its entry in the region list and the
// host its one node runs in.
type region struct {
	id, jurisdiction, name string
	lat, lng               float64
	optIn                  bool
	host                   *netlab.Host
	capacity               int
}

// deployment is the lab's running deployment: a node per region, and the files every node
// was configured with.
type deployment struct {
	// nodes are the nodes by region id.
	nodes map[string]*netlab.Node
	// busSecret is the deployment's shared bus secret.
	busSecret string
	dir       string // holds the region list, the secret and every region's key
}

// keyFile is the path of region's private key, which its node signs with.
func (d *deployment) keyFile(region string) string {
	return filepath.Join(d.dir, "region-"+region+".key")
}

// startDeployment runs one `meridian serve` per region in its host, joined into a NATS
// supercluster by gateways over the lab's bridge: each node has its region's key (made
// with `meridian region-key`), the one region list with every region's public key, and
// the deployment's bus secret. It returns once every node's /healthz answers, which
// needs JetStream's meta leader (elected across all three) and the node's own heartbeat
// back through the bus.
func startDeployment(t *testing.T, bin string, regions []region) *deployment {
	t.Helper()
	d := &deployment{nodes: map[string]*netlab.Node{}, dir: t.TempDir(),
		busSecret: "lab-bus-secret-" + fmt.Sprint(time.Now().UnixNano())}
	dir := d.dir
	secret := filepath.Join(dir, "bus.secret")
	if err := os.WriteFile(secret, []byte(d.busSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var list, peers strings.Builder
	list.WriteString("regions:\n")
	peers.WriteString("    peers:\n")
	for _, r := range regions {
		keyFile := d.keyFile(r.id)
		out, err := exec.CommandContext(t.Context(), bin, "region-key", "--region", r.id, "--region-key", keyFile).Output()
		if err != nil {
			t.Fatalf("meridian region-key --region %s: %v", r.id, err)
		}
		fmt.Fprintf(&list, "  - id: %s\n    jurisdiction: %s\n    name: %q\n    location: {lat: %v, lng: %v}\n    opt_in: %v\n    public_key: %q\n",
			r.id, r.jurisdiction, r.name, r.lat, r.lng, r.optIn, strings.TrimSpace(string(out)))
		fmt.Fprintf(&peers, "      %s: [\"nats://%s:%d\"]\n", r.id, r.host.Addr, busGatewayPort)
	}
	regionsFile := filepath.Join(dir, "regions.yaml")
	if err := os.WriteFile(regionsFile, []byte(list.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := d.nodes
	for _, r := range regions {
		a := r.host.Addr
		yaml := fmt.Sprintf(`region: %s
node_id: %s-1
regions_file: %q
region_key_file: %q
capacity: %d
bus:
  listen: "%s:%d"
  secret_file: %q
  cluster:
    listen: "%s:%d"
    routes: ["nats://%s:%d"]
  gateways:
    listen: "%s:%d"
%s`, r.id, r.id, regionsFile, d.keyFile(r.id), r.capacity,
			a, busClientPort, secret, a, busClusterPort, a, busClusterPort, a, busGatewayPort, peers.String())
		nodes[r.id] = netlab.LaunchMeridian(t, r.host, bin, yaml)
	}
	for _, r := range regions {
		nodes[r.id].WaitReady(t, 45*time.Second)
	}
	return d
}

// busTraffic matches the control plane between nodes: TCP between two node addresses on
// a port of the embedded NATS server's (client, cluster route, gateway). That is
// heartbeats, directory replication and entry checks, which carry opaque ids only (see
// docs/regions.md, Control plane), never a meeting's signalling or media.
func busTraffic(nodeAddrs ...netip.Addr) func(netlab.Packet) bool {
	busPort := func(p uint16) bool { return p == busClientPort || p == busClusterPort || p == busGatewayPort }
	return func(p netlab.Packet) bool {
		return p.Proto == 6 && slices.Contains(nodeAddrs, p.Src.Addr()) && slices.Contains(nodeAddrs, p.Dst.Addr()) &&
			(busPort(p.Src.Port()) || busPort(p.Dst.Port()))
	}
}

// refusal is a join API error answer.
type refusal struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Tried   []struct {
		Region string `json:"region"`
		Reason string `json:"reason"`
	} `json:"tried"`
}

// A real deployment of three regions (us-west, eu-central, cn-north: opt-in), one
// `meridian serve` each in its own namespace, joined by NATS gateways over the bridge. An
// account signs up on the US node (homed in us-west; a free plan is locked to its home, so
// its meetings allow us-west alone) and holds a meeting with two Go clients and a Chromium
// (by the invite link) in a host near CN. The join answers name the US node; media flows
// there. With them the US node is full (capacity 3): a fourth join is refused with
// no_allowed_capacity, trying us-west only, although CN has room. Then the US node is killed mid-meeting: rejoins find no node (the
// US API is gone, the EU node does not place another region's meeting). All along, a
// capture on the CN node's interfaces counts the packets from or to the host near CN or
// the US node, the control plane excluded (TCP between node addresses on the bus ports:
// the gateways legitimately carry heartbeats and directory entries, opaque ids only): it
// must see none. The same capture's count of that excluded gateway traffic with the US
// node proves it sees packets, and a capture on the US node with the same filter sees
// the meeting.
func TestSuperclusterMeetingNeverReachesCN(t *testing.T) {
	lab := netlab.New(t)
	if _, err := chromium.Path(); err != nil {
		netlab.Unavailable(t, err)
	}
	bin := buildMeridian(t)
	us, eu, cn, near := lab.AddHost("us"), lab.AddHost("eu"), lab.AddHost("cn"), lab.AddHost("near-cn")
	nodes := startDeployment(t, bin, []region{
		{id: "us-west", jurisdiction: "US", name: "US West (Oregon)", lat: 45.6, lng: -121.2, host: us, capacity: 3},
		{id: "eu-central", jurisdiction: "EU", name: "EU Central (Frankfurt)", lat: 50.1, lng: 8.7, host: eu, capacity: 100},
		{id: "cn-north", jurisdiction: "CN", name: "CN North (Beijing)", lat: 39.9, lng: 116.4, optIn: true, host: cn, capacity: 100},
	}).nodes
	usNode, euNode := nodes["us-west"], nodes["eu-central"]

	bus := busTraffic(us.Addr, eu.Addr, cn.Addr)
	involving := netlab.Involving(near.Addr, us.Addr)
	ofMeeting := func(p netlab.Packet) bool { return involving(p) && !bus(p) }
	onCN := cn.Capture(t, ofMeeting)
	usBusOnCN := cn.Capture(t, func(p netlab.Packet) bool { return bus(p) && (p.Src.Addr() == us.Addr || p.Dst.Addr() == us.Addr) })
	onUS := us.Capture(t, ofMeeting)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	// 1. The account signs up on the US node, homed there, allowed us-west alone.
	hostAPI := &apiClient{t: t, http: near.HTTPClient(), base: usNode.URL}
	hostAPI.signUp("hester@example.com", "Hester Host")
	var m struct {
		meeting
		AllowedRegions []string `json:"allowed_regions"`
	}
	hostAPI.call("POST", "/api/meetings", map[string]any{"topic": "Residency review", "waiting_room": false}, http.StatusCreated, &m)
	var hostTicket, guestTicket ticket
	hostAPI.call("POST", "/api/meetings/"+m.ID+"/start", nil, http.StatusOK, &hostTicket)
	guestAPI := &apiClient{t: t, http: near.HTTPClient(), base: usNode.URL}
	join := map[string]string{"meeting_id": m.ID, "passcode": m.Passcode, "display_name": "Grace Guest"}
	guestAPI.call("POST", "/api/join", join, http.StatusOK, &guestTicket)
	usSignal := "ws://" + strings.TrimPrefix(usNode.URL, "http://") + "/ws"
	for _, tk := range []ticket{hostTicket, guestTicket} {
		if tk.Region != "us-west" || tk.NodeID != "us-west-1" || tk.SignalURL != usSignal {
			t.Fatalf("a join was placed on %s/%s at %s, want us-west-1 at %s", tk.Region, tk.NodeID, tk.SignalURL, usSignal)
		}
	}
	hostAPI.call("GET", "/api/meetings/"+m.ID, nil, http.StatusOK, &m)
	if !slices.Equal(m.AllowedRegions, []string{"us-west"}) {
		t.Fatalf("the meeting allows %v, want [us-west] (a free account is locked to its home)", m.AllowedRegions)
	}

	host := joinNear(t, ctx, near, hostTicket.SignalURL, hostTicket.Token)
	guest := joinNear(t, ctx, near, guestTicket.SignalURL, guestTicket.Token)
	browser := openBrowser(t, near, usNode.URL)
	browserID := browser.join(ctx, m.JoinURL, "Chromium Chen")
	hostID, guestID := host.c.Self().ID, guest.c.Self().ID
	waitFor(t, ctx, "video frames at the host from the guest and the browser", func() bool {
		return host.framesFrom(guestID) >= 30 && host.framesFrom(browserID) >= 30
	}, host.String)
	waitFor(t, ctx, "video frames at the guest from the host and the browser", func() bool {
		return guest.framesFrom(hostID) >= 30 && guest.framesFrom(browserID) >= 30
	}, guest.String)
	browser.waitVideoPackets(ctx, 2, 100)

	// 2. The US node is full (three seated, capacity 3). Its heartbeat, once a second,
	// carries the load placement reads: wait out two of them.
	time.Sleep(2 * time.Second)
	var refused refusal
	fourthAPI := &apiClient{t: t, http: near.HTTPClient(), base: usNode.URL}
	fourth := map[string]string{"meeting_id": m.ID, "passcode": m.Passcode, "display_name": "Fourth Party"}
	fourthAPI.call("POST", "/api/join", fourth, http.StatusServiceUnavailable, &refused)
	if refused.Code != "no_allowed_capacity" || len(refused.Tried) != 1 || refused.Tried[0].Region != "us-west" {
		t.Fatalf("the fourth join was refused with %+v, want no_allowed_capacity trying us-west alone", refused)
	}
	if strings.Contains(refused.Message, "cn-north") || strings.Contains(refused.Message, "eu-central") {
		t.Fatalf("the refusal names a region the meeting does not allow: %q", refused.Message)
	}
	t.Logf("full: %s", refused.Message)

	// 3. The US node dies mid-meeting. The participants' rejoins find no node: the US API
	// is gone, and the EU node does not place a meeting homed in another region. (Through
	// the CN node's API it would be the same, but that request would itself be a packet
	// from near CN on the CN node: the capture's claim is that nothing at all arrives.)
	usNode.Process.Kill()
	rejoin := near.HTTPClient()
	rejoin.Timeout = 5 * time.Second
	if resp, err := rejoin.Post(usNode.URL+"/api/join", "application/json", strings.NewReader("{}")); err == nil {
		resp.Body.Close()
		t.Fatalf("the killed US node still answers: %s", resp.Status)
	}
	var euAnswer struct {
		refusal
		ticket
	}
	euAPI := &apiClient{t: t, http: near.HTTPClient(), base: euNode.URL}
	status := euAPI.callStatus("POST", "/api/join", join, &euAnswer)
	// Before residency forwarding the EU node does not know the meeting (404 not_found);
	// with it, it forwards to the home region, whose only node is gone (503
	// home_region_unavailable). Either way no node is named.
	if status != http.StatusNotFound && status != http.StatusServiceUnavailable || euAnswer.SignalURL != "" {
		t.Fatalf("a rejoin through the EU node answered %d %s, placed on %q/%q (%s)", status, euAnswer.Code, euAnswer.Region, euAnswer.NodeID, euAnswer.SignalURL)
	}
	t.Logf("rejoin through the EU node: %d %s", status, euAnswer.Code)
	// The Go clients see their node gone; what they do meanwhile reaches no other node.
	closed := func(p *goParticipant) bool {
		select {
		case <-p.c.Done():
			return true
		default:
			return false
		}
	}
	waitFor(t, ctx, "the participants to lose the US node", func() bool { return closed(host) && closed(guest) },
		func() string { return "a Go client is still connected" })

	// The registry counts a node down after 3 s of silence; the CN capture runs on past
	// that, while the CN node would be a candidate were anything to spill.
	time.Sleep(4 * time.Second)
	time.Sleep(200 * time.Millisecond) // the last frames reach every capture socket
	for _, c := range []*netlab.Capture{onCN, usBusOnCN, onUS} {
		c.Stop()
		if err := c.Err(); err != nil || c.Drops() > 0 {
			t.Fatalf("a capture stopped early or dropped frames (%v, %d drops): its count proves nothing", err, c.Drops())
		}
	}
	if n := onCN.Matched(); n != 0 {
		t.Errorf("the CN node saw %d packets of the meeting (bus ports excluded); the first:\n%s", n, joinPackets(onCN.Matches()))
	}
	// The US node's gateway with CN carries a heartbeat a second each way, the whole run.
	if n := usBusOnCN.Matched(); n < 20 {
		t.Errorf("the CN node's capture saw %d packets of the US node's control plane, want at least 20: it may be blind", n)
	}
	// The waits above saw at least this many packets delivered by the US node to the host
	// near CN (30 frames in each of four streams to the Go clients, 100 packets in each of
	// two to the browser).
	const delivered = 4*30 + 2*100
	if n := onUS.Matched(); n < delivered {
		t.Errorf("the US node saw %d packets of the meeting, want at least the %d delivered", n, delivered)
	}
	t.Logf("packets of the meeting: %d at the US node, %d at the CN node (of %d it saw; %d of them the US node's control plane)",
		onUS.Matched(), onCN.Matched(), onCN.Count(), usBusOnCN.Matched())
}
