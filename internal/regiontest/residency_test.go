//go:build linux

package regiontest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-video/meridian/internal/netlab"
)

// labRegions are the deployment of the residency and token tests: three regions, cn-north
// opt-in, one node each.
var labRegions = []struct {
	id, short, jurisdiction, name string
	lat, lng                      float64
	optIn                         bool
}{
	{"us-west", "us", "US", "US West (Oregon)", 45.6, -121.2, false},
	{"eu-central", "eu", "EU", "EU Central (Frankfurt)", 50.1, 8.7, false},
	{"cn-north", "cn", "CN", "CN North (Beijing)", 39.9, 116.4, true},
}

// resident is what belongs to one region: two accounts homed there, a meeting one of them
// holds, its guest and what was said in it. None of it may be found in another region's
// files, nor in the directory.
type resident struct {
	region        string
	jurisdiction  string
	owner, member *person
	guestName     string
	topic, chat   string
	meetingID     string
	passcode      string
	tickets       []ticket // the owner's, the member's and the guest's
	clients       []*goParticipant
}

// personal is every string of r that is personal data or content.
func (r *resident) personal() []string {
	out := []string{r.guestName, r.topic, r.chat}
	for _, p := range []*person{r.owner, r.member} {
		local, domain, _ := strings.Cut(p.email, "@")
		out = append(out, p.email, local, domain, p.name, p.accountName)
	}
	return out
}

// person is someone with an account, in a host near a region: one browser session (its
// cookies and CSRF token) whichever node a request enters.
type person struct {
	email, name, accountName string
	host                     *netlab.Host
	http                     *http.Client
	csrf                     string
	accountID                string
}

func newPerson(h *netlab.Host, email, name, accountName string) *person {
	c := h.HTTPClient()
	c.Jar = &oneSiteJar{cookies: map[string]*http.Cookie{}}
	return &person{email: email, name: name, accountName: accountName, host: h, http: c}
}

// via is an API client of p's session on node n.
func (p *person) via(t *testing.T, n *netlab.Node) *apiClient {
	return &apiClient{t: t, http: p.http, base: n.URL, csrf: p.csrf}
}

// oneSiteJar keeps cookies by name whatever node set them and sends them to every node,
// as a browser does for one site whichever of its servers answers (the lab's nodes have
// an address each; a deployment gives them one name).
type oneSiteJar struct {
	mu      sync.Mutex
	cookies map[string]*http.Cookie
}

func (j *oneSiteJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cs {
		if c.MaxAge < 0 || c.Value == "" {
			delete(j.cookies, c.Name)
			continue
		}
		j.cookies[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
	}
}

func (j *oneSiteJar) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]*http.Cookie, 0, len(j.cookies))
	for _, c := range j.cookies {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *http.Cookie) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// signalURL is the signalling WebSocket of node n.
func signalURL(n *netlab.Node) string { return "ws://" + strings.TrimPrefix(n.URL, "http://") + "/ws" }

// A real deployment of three regions (us-west, eu-central, cn-north: opt-in), one
// `meridian serve` each in its own namespace, joined by NATS gateways over the bridge, and
// a host near each region. For each region two accounts sign up homed there: one through
// another region's node, choosing its home from that node's GET /api/regions, one through
// its own node, naming only its jurisdiction. The owner schedules a meeting through a
// third node and starts it through its home's; the other account and a guest join through
// the two other regions' nodes; all three connect where the join answers' signal_url says
// (the home node), exchange video and chat. Every node answers each account's GET /api/me
// and /api/meetings alike (forwarded home). A token minted in one region is refused by the
// nodes of another for a meeting it does not own. Then, the nodes stopped, each region's
// SQLite store holds only its own accounts' rows, and neither its files nor any node's
// JetStream store, nor any stream of the directory read through the bus, holds another
// region's addresses, names, topics or any chat.
func TestResidencyAcrossProcesses(t *testing.T) {
	lab := netlab.New(t)
	bin := buildMeridian(t)
	var regions []region
	var near []*netlab.Host
	for _, r := range labRegions {
		regions = append(regions, region{id: r.id, jurisdiction: r.jurisdiction, name: r.name, lat: r.lat, lng: r.lng,
			optIn: r.optIn, host: lab.AddHost(r.short), capacity: 100})
		near = append(near, lab.AddHost("near-"+r.short))
	}
	d := startDeployment(t, bin, regions)
	node := func(i int) *netlab.Node { return d.nodes[regions[i%3].id] }
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()

	// step runs a step the next ones build on: they stop at its failure.
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	residents := make([]*resident, 3)
	for i, r := range labRegions {
		up := strings.ToUpper(r.short)
		residents[i] = &resident{
			region: r.id, jurisdiction: r.jurisdiction,
			owner: newPerson(near[i], "olive.owner."+r.short+"@owners-of-"+r.short+".test",
				"Olive Owner"+up, ""),
			member: newPerson(near[(i+1)%3], "mo.member."+r.short+"@members-of-"+r.short+".test",
				"Mo Member"+up, "Zebra Works "+up),
			guestName: "Gus Guest" + up,
			topic:     "Harvest forecast " + up,
			chat:      "pickled plums from " + up,
		}
	}

	step("sign up homed in each region", func(t *testing.T) {
		for i, r := range residents {
			// The owner signs up through the next region's node, choosing the home region that
			// node proposes for their jurisdiction.
			var regs struct {
				Regions []struct {
					ID         string `json:"id"`
					HomeChoice bool   `json:"home_choice"`
				} `json:"regions"`
				NodeRegion  string `json:"node_region"`
				DefaultHome string `json:"default_home"`
			}
			r.owner.via(t, node(i+1)).call("GET", "/api/regions?jurisdiction="+r.jurisdiction, nil, http.StatusOK, &regs)
			if regs.NodeRegion != regions[(i+1)%3].id || regs.DefaultHome != r.region {
				t.Fatalf("GET /api/regions?jurisdiction=%s on %s: node %s, default home %q; want %s", r.jurisdiction,
					regions[(i+1)%3].id, regs.NodeRegion, regs.DefaultHome, r.region)
			}
			for _, c := range regs.Regions {
				// cn-north is opt-in: a home for CN's sign-ups alone; the others are open to all.
				if want := c.ID != "cn-north" || r.jurisdiction == "CN"; c.HomeChoice != want {
					t.Errorf("a sign-up from %s: home choice %s is %v, want %v", r.jurisdiction, c.ID, c.HomeChoice, want)
				}
			}
			signUp(t, ctx, r.owner, node(i+1), map[string]any{
				"account_type": "individual", "jurisdiction": r.jurisdiction, "home_region": regs.DefaultHome,
			}, r.region)
			// The member signs up through the home region's own node, naming only the
			// jurisdiction: homed where it proposes.
			signUp(t, ctx, r.member, node(i), map[string]any{
				"account_type": "business", "account_name": r.member.accountName, "jurisdiction": r.jurisdiction,
			}, r.region)
		}
	})

	// Every node answers each account's GET /api/me alike: the one of its home region
	// serves it, the others forward it there.
	step("every node serves every account", func(t *testing.T) {
		var ids []string
		for _, r := range residents {
			ids = append(ids, r.owner.accountID, r.member.accountID)
		}
		waitReplicated(t, ctx, d, ids)
		answersAlike(t, residents, "/api/me", node)
	})

	step("meet and chat through every region's node", func(t *testing.T) {
		for i, r := range residents {
			var m struct {
				meeting
				Region string `json:"region"`
			}
			r.owner.via(t, node(i+2)).call("POST", "/api/meetings", map[string]any{"topic": r.topic, "waiting_room": false}, http.StatusCreated, &m)
			if m.Region != r.region {
				t.Fatalf("the meeting of an account homed in %s is homed in %q", r.region, m.Region)
			}
			r.meetingID, r.passcode = m.ID, m.Passcode
			var host, member, guest struct {
				ticket
				Meeting struct {
					Topic string `json:"topic"`
				} `json:"meeting"`
			}
			r.owner.via(t, node(i)).call("POST", "/api/meetings/"+m.ID+"/start", nil, http.StatusOK, &host)
			r.member.via(t, node(i+1)).call("POST", "/api/join", map[string]string{"meeting_id": m.ID, "passcode": m.Passcode}, http.StatusOK, &member)
			guestAPI := &apiClient{t: t, http: near[(i+2)%3].HTTPClient(), base: node(i + 2).URL}
			guestAPI.call("POST", "/api/join", map[string]string{"meeting_id": m.ID, "passcode": m.Passcode, "display_name": r.guestName}, http.StatusOK, &guest)
			if member.Meeting.Topic != r.topic || guest.Meeting.Topic != r.topic {
				t.Fatalf("joins through other regions' nodes answered topics %q and %q, want %q", member.Meeting.Topic, guest.Meeting.Topic, r.topic)
			}
			r.tickets = []ticket{host.ticket, member.ticket, guest.ticket}
			// A free account's meeting allows its home alone: every join, through whichever
			// node, is sent to the home node.
			for k, tk := range r.tickets {
				if tk.Region != r.region || tk.SignalURL != signalURL(node(i)) {
					t.Fatalf("join %d of %s's meeting placed in %s at %s, want %s", k, r.region, tk.Region, tk.SignalURL, signalURL(node(i)))
				}
			}
			for k, tk := range r.tickets {
				r.clients = append(r.clients, joinNear(t, ctx, near[(i+k)%3], tk.SignalURL, tk.Token))
			}
		}
		for _, r := range residents {
			for _, c := range r.clients {
				for _, other := range r.clients {
					if other == c {
						continue
					}
					id := other.c.Self().ID
					waitFor(t, ctx, "video frames in "+r.region+"'s meeting", func() bool { return c.framesFrom(id) >= 10 }, c.String)
				}
			}
			if err := r.clients[2].c.Chat(r.chat); err != nil {
				t.Fatal(err)
			}
			for _, c := range r.clients {
				waitFor(t, ctx, "the guest's chat in "+r.region+"'s meeting", func() bool { return c.saw(r.chat) }, c.String)
			}
		}
	})

	t.Run("every node lists every account's meetings alike", func(t *testing.T) {
		answersAlike(t, residents, "/api/meetings", node)
		for _, r := range residents {
			if b := getVia(t, r.owner, node(0), "/api/meetings"); !bytes.Contains(b, []byte(r.topic)) {
				t.Errorf("GET /api/meetings of %s lacks the topic %q: %s", r.owner.email, r.topic, b)
			}
		}
	})

	t.Run("TokenFromAnotherRegionRefused", func(t *testing.T) {
		tokensAcrossRegions(t, ctx, d, bin, near[1], residents[0], residents[1], node(0), node(1), node(2))
	})

	// The meetings end and their participants leave, so that the nodes stop at once (a
	// node given SIGTERM keeps its live meetings for their drain time).
	for i, r := range residents {
		for _, c := range r.clients {
			c.c.Close()
		}
		r.owner.via(t, node(i+1)).call("POST", "/api/meetings/"+r.meetingID+"/end", nil, http.StatusOK, nil)
	}

	t.Run("the directory holds no personal data", func(t *testing.T) {
		scanDirectory(t, ctx, d, residents)
	})

	var wg sync.WaitGroup
	for _, n := range d.nodes {
		wg.Go(n.Process.Stop)
	}
	wg.Wait()
	for id, n := range d.nodes {
		if err := n.Process.Err(); err != nil {
			t.Errorf("the %s node did not stop cleanly: %v", id, err)
		}
	}

	t.Run("each region's store holds its own accounts alone", func(t *testing.T) {
		for i, r := range residents {
			checkStore(t, node(i), r, residents)
		}
	})
}

// signUp signs p up through node n with the given fields besides the person's and checks
// that the account is homed in home. A sign-up refused because the node cannot reach the
// home region yet (the deployment just started: its registry has not yet heard every
// node) changed nothing, and is tried again.
func signUp(t *testing.T, ctx context.Context, p *person, n *netlab.Node, fields map[string]any, home string) {
	t.Helper()
	body := map[string]any{"email": p.email, "display_name": p.name, "password": "correct horse battery staple"}
	for k, v := range fields {
		body[k] = v
	}
	var sess struct {
		CSRFToken string `json:"csrf_token"`
		Account   struct {
			ID     string `json:"id"`
			Name   string `json:"name"`
			Region string `json:"region"`
		} `json:"account"`
		refusal
	}
	for {
		status := p.via(t, n).callStatus("POST", "/api/signup", body, &sess)
		if status == http.StatusCreated {
			break
		}
		if status != http.StatusServiceUnavailable || ctx.Err() != nil {
			t.Fatalf("sign-up of %s through %s: %d %s %s", p.email, n.URL, status, sess.Code, sess.Message)
		}
		t.Logf("sign-up of %s through %s: %d %s; again", p.email, n.URL, status, sess.Code)
		time.Sleep(200 * time.Millisecond)
	}
	if sess.Account.Region != home {
		t.Fatalf("%s signed up through %s homed in %q, want %s", p.email, n.URL, sess.Account.Region, home)
	}
	if p.accountName == "" {
		p.accountName = sess.Account.Name
	}
	p.csrf, p.accountID = sess.CSRFToken, sess.Account.ID
}

// answersAlike checks that GET path answers every resident's accounts alike through
// each node.
func answersAlike(t *testing.T, residents []*resident, path string, node func(int) *netlab.Node) {
	t.Helper()
	for _, r := range residents {
		for _, p := range []*person{r.owner, r.member} {
			first := getVia(t, p, node(0), path)
			for k := 1; k < 3; k++ {
				if got := getVia(t, p, node(k), path); !bytes.Equal(got, first) {
					t.Errorf("GET %s of %s: %s answered\n%s\n%s answered\n%s", path, p.email, node(0).URL, first, node(k).URL, got)
				}
			}
		}
	}
}

// getVia is the body of p's GET path through n, normalised (JSON re-encoded).
func getVia(t *testing.T, p *person, n *netlab.Node, path string) []byte {
	t.Helper()
	status, b := p.via(t, n).do("GET", path, nil, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s%s of %s: %d %s", n.URL, path, p.email, status, b)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("GET %s%s: %v: %s", n.URL, path, err, b)
	}
	out, _ := json.Marshal(v)
	return out
}
