package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/devcluster"
	"github.com/meridian-video/meridian/internal/directory"
	"github.com/meridian-video/meridian/internal/httpapi"
	"github.com/meridian-video/meridian/internal/residency"
	"github.com/meridian-video/meridian/internal/server/servertest"
	"github.com/meridian-video/meridian/internal/store"
)

// webClient is one person's HTTP client: one cookie jar whatever node a request enters
// (cookies ignore ports, and every node is on 127.0.0.1), as one browser would have.
type webClient struct {
	t    *testing.T
	http *http.Client
	csrf string
}

func newWebClient(t *testing.T) *webClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &webClient{t: t, http: &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second}}
}

// call sends a JSON request to node and decodes the answer into out (when not nil),
// returning the status and the error code of an error answer.
func (b *webClient) call(node *devcluster.Node, method, path string, in, out any, hdr ...string) (int, string) {
	b.t.Helper()
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			b.t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, node.URL()+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.csrf != "" {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s via %s: %v", method, path, node.NodeID(), err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		var e struct{ Code string }
		_ = json.Unmarshal(data, &e)
		return resp.StatusCode, e.Code
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			b.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode, ""
}

// must is call expecting want.
func (b *webClient) must(want int, node *devcluster.Node, method, path string, in, out any, hdr ...string) {
	b.t.Helper()
	if got, code := b.call(node, method, path, in, out, hdr...); got != want {
		b.t.Fatalf("%s %s via %s: %d %s, want %d", method, path, node.NodeID(), got, code, want)
	}
}

type resident struct {
	home, email, name, topic string
	b                        *webClient
	accountID, meetingID     string
	passcode                 string
	// secrets are the bearer credentials the person was given: session tokens, an API key.
	secrets []string
}

// sessionToken is the session cookie node set in b's jar.
func (b *webClient) sessionToken(node *devcluster.Node) string {
	b.t.Helper()
	u, err := url.Parse(node.URL())
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == httpapi.SessionCookie {
			return c.Value
		}
	}
	b.t.Fatal("no session cookie")
	return ""
}

var residencyRegions = []string{"us-west", "eu-central", "cn-north"}

// Accounts homed in each of three regions sign up, sign in, make API keys, schedule,
// start and join meetings and chat, every request entering a node of another region
// than the one before; each region's store then holds its own accounts' rows only, and
// the directory no address, name, topic or credential.
func TestDataResidency(t *testing.T) {
	d := servertest.StartDeployment(t, servertest.Spec{Regions: []string{"us-west:US", "eu-central:EU", "cn-north:CN"}})
	node := func(i int) *devcluster.Node { return d.Region(residencyRegions[i%3])[0] }
	waitReplicating(t, d)

	people := make([]*resident, 3)
	for i, home := range residencyRegions {
		people[i] = &resident{
			home:  home,
			email: fmt.Sprintf("Resident.%d@Example-%s.test", i, home),
			name:  fmt.Sprintf("Person Of %s", strings.ToUpper(home)),
			topic: fmt.Sprintf("Quarterly plans of %s", strings.ToUpper(home)),
			b:     newWebClient(t),
		}
	}
	for i, p := range people {
		var sess struct {
			CSRFToken string `json:"csrf_token"`
			Account   struct {
				ID     string `json:"id"`
				Region string `json:"region"`
			} `json:"account"`
		}
		// Sign-up enters a node of the next region, naming its home.
		p.b.must(http.StatusCreated, node(i+1), "POST", "/api/signup", map[string]any{
			"account_type": "individual", "email": p.email, "display_name": p.name,
			"password": "correct horse battery", "home_region": p.home,
			"jurisdiction": []string{"US", "EU", "CN"}[i],
		}, &sess)
		if sess.Account.Region != p.home {
			t.Fatalf("%s signed up homed in %q", p.email, sess.Account.Region)
		}
		p.accountID, p.b.csrf = sess.Account.ID, sess.CSRFToken
		// The session, by its cookie, through the third region.
		p.b.must(http.StatusOK, node(i+2), "GET", "/api/me", nil, nil)
		p.b.must(http.StatusNoContent, node(i+2), "POST", "/api/signout", nil, nil)
		p.b.csrf = ""
		if got, code := p.b.call(node(i+1), "GET", "/api/me", nil, nil); got != http.StatusUnauthorized {
			t.Fatalf("after sign-out: %d %s", got, code)
		}
		// Sign-in by address through a node of every region in turn.
		for k := range 3 {
			p.b.must(http.StatusOK, node(i+k), "POST", "/api/signin", map[string]any{"email": p.email, "password": "correct horse battery"}, &sess)
			p.b.csrf = sess.CSRFToken
			p.secrets = append(p.secrets, p.b.sessionToken(node(i+k)))
		}
		// An API key made through one region works through another.
		var key struct{ Secret string }
		p.b.must(http.StatusCreated, node(i+1), "POST", "/api/keys", map[string]any{"name": "ci", "scopes": []string{"account:read"}}, &key)
		p.secrets = append(p.secrets, key.Secret)
		keyB := newWebClient(t)
		keyB.must(http.StatusOK, node(i+2), "GET", "/api/me", nil, nil, "Authorization", "Bearer "+key.Secret)
		// A password reset asked for through one region is mailed by the home region, and
		// its link works through another.
		newWebClient(t).must(http.StatusAccepted, node(i+1), "POST", "/api/password/reset", map[string]any{"email": p.email}, nil)
		newWebClient(t).must(http.StatusNoContent, node(i+2), "POST", "/api/password/reset/confirm", map[string]any{
			"token": resetToken(t, d, p.home, p.email), "new_password": "another horse battery"}, nil)
		p.b.must(http.StatusOK, node(i), "POST", "/api/signin", map[string]any{"email": p.email, "password": "another horse battery"}, &sess)
		p.b.csrf = sess.CSRFToken
		p.secrets = append(p.secrets, p.b.sessionToken(node(i)))
		// The same address cannot sign up again, homed in another region (cn-north is
		// opt-in, a home for CN's sign-ups only).
		otherHome := "us-west"
		if p.home == otherHome {
			otherHome = "eu-central"
		}
		other := newWebClient(t)
		if got, code := other.call(node(i+2), "POST", "/api/signup", map[string]any{
			"account_type": "individual", "email": strings.ToLower(p.email), "display_name": "Someone Else",
			"password": "correct horse battery", "home_region": otherHome,
		}, nil); got != http.StatusConflict || code != "email_taken" {
			t.Fatalf("second sign-up of %s in another region: %d %s, want 409 email_taken", p.email, got, code)
		}
	}

	for i, p := range people {
		var m struct {
			ID       string `json:"id"`
			Passcode string `json:"passcode"`
			Region   string `json:"region"`
		}
		p.b.must(http.StatusCreated, node(i+2), "POST", "/api/meetings", map[string]any{"topic": p.topic, "waiting_room": false}, &m)
		if m.Region != p.home {
			t.Fatalf("meeting of %s homed in %q", p.email, m.Region)
		}
		p.meetingID, p.passcode = m.ID, m.Passcode
		var got struct{ Topic string }
		guest := newWebClient(t)
		guest.must(http.StatusOK, node(i+1), "POST", "/api/join/lookup", map[string]any{"meeting_id": m.ID, "passcode": m.Passcode}, &got)
		if got.Topic != p.topic {
			t.Fatalf("lookup through another region: topic %q", got.Topic)
		}
	}

	ctx, cancel := testContext(t)
	defer cancel()
	for i, p := range people {
		var host, guestTicket ticketAnswer
		p.b.must(http.StatusOK, node(i+1), "POST", "/api/meetings/"+p.meetingID+"/start", nil, &host)
		guest := newWebClient(t)
		guest.must(http.StatusOK, node(i+2), "POST", "/api/join", map[string]any{
			"meeting_id": p.meetingID, "passcode": p.passcode, "display_name": "Guest " + strconv.Itoa(i),
		}, &guestTicket)
		chatted := make(chan client.Chat, 4)
		hc := joinResidentTicket(t, ctx, d, p.home, host, client.Options{OnChat: func(c client.Chat) { chatted <- c }})
		joinResidentTicket(t, ctx, d, p.home, guestTicket, client.Options{})
		if err := hc.Chat("hello " + p.home); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-chatted:
			if c.Text != "hello "+p.home {
				t.Fatalf("chat %+v", c)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no chat came back")
		}
		p.b.must(http.StatusOK, node(i), "POST", "/api/meetings/"+p.meetingID+"/end", nil, nil)
	}

	t.Run("a forged forwarding header is refused", func(t *testing.T) {
		p := people[1]
		b := newWebClient(t)
		forged := fmt.Sprintf("v1 us-west-1 eu-central %d %s", time.Now().Unix(), strings.Repeat("A", 43))
		got, code := b.call(node(1), "POST", "/api/signin", map[string]any{"email": p.email, "password": "correct horse battery"}, nil,
			residency.ForwardedHeader, forged, "X-Forwarded-For", "198.51.100.9")
		if got != http.StatusForbidden || code != residency.CodeForwardingRefused {
			t.Fatalf("forged header: %d %s, want 403 %s", got, code, residency.CodeForwardingRefused)
		}
		node(1).Audit.Flush(context.Background())
		var n int
		if err := openRegionDB(t, d, "eu-central").QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'request.forwarded' AND outcome = 'refused'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("refusals of forwarded requests audited: %d, %v; want 1", n, err)
		}
	})

	checkStores(t, d, people)
	checkDirectory(t, d, people)

	t.Run("a sign-up without a home region is homed where its jurisdiction proposes", func(t *testing.T) {
		var sess struct{ Account struct{ Region string } }
		newWebClient(t).must(http.StatusCreated, node(0), "POST", "/api/signup", map[string]any{
			"account_type": "individual", "email": "proposed@example.test", "display_name": "Pro Posed",
			"password": "correct horse battery", "jurisdiction": "EU",
		}, &sess)
		for _, region := range residencyRegions {
			var n int
			if err := openRegionDB(t, d, region).QueryRow(`SELECT count(*) FROM users WHERE email = 'proposed@example.test'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 1}[region == "eu-central"]; n != want || sess.Account.Region != "eu-central" {
				t.Errorf("homed in %q; %s's store has %d such users", sess.Account.Region, region, n)
			}
		}
	})

	t.Run("home region down: refused, nothing written elsewhere", func(t *testing.T) {
		eu := people[1]
		before := rowCounts(t, d)
		if err := d.Region("eu-central")[0].Close(); err != nil {
			t.Fatal(err)
		}
		b := newWebClient(t)
		for _, via := range []*devcluster.Node{node(0), node(2)} {
			if got, code := b.call(via, "POST", "/api/signin", map[string]any{"email": eu.email, "password": "correct horse battery"}, nil); got != http.StatusServiceUnavailable || code != residency.CodeHomeRegionUnavailable {
				t.Fatalf("sign-in homed in a region that is down, via %s: %d %s", via.NodeID(), got, code)
			}
			if got, code := eu.b.call(via, "GET", "/api/meetings", nil, nil); got != http.StatusServiceUnavailable || code != residency.CodeHomeRegionUnavailable {
				t.Fatalf("session homed in a region that is down, via %s: %d %s", via.NodeID(), got, code)
			}
			if got, code := b.call(via, "POST", "/api/signup", map[string]any{
				"account_type": "individual", "email": "late@example-eu.test", "display_name": "Late Comer",
				"password": "correct horse battery", "home_region": "eu-central",
			}, nil); got != http.StatusServiceUnavailable || code != residency.CodeHomeRegionUnavailable {
				t.Fatalf("sign-up homed in a region that is down, via %s: %d %s", via.NodeID(), got, code)
			}
		}
		after := rowCounts(t, d)
		for _, r := range []string{"us-west", "cn-north"} {
			if before[r] != after[r] {
				t.Errorf("%s's store changed while eu-central was down: %v -> %v", r, before[r], after[r])
			}
		}
	})

	t.Run("directory unreachable: refused, nothing written", func(t *testing.T) {
		us, cn := people[0], people[2]
		before := rowCounts(t, d)
		node(0).Bus.Close() // us-west's node loses its control plane
		eventually(t, 10*time.Second, "us-west's directory not ready", func() bool { return node(0).Directory.Err() != nil })
		if got, code := cn.b.call(node(0), "GET", "/api/me", nil, nil); got != http.StatusServiceUnavailable || code != residency.CodeControlPlaneUnavailable {
			t.Fatalf("a session homed elsewhere: %d %s", got, code)
		}
		if got, code := newWebClient(t).call(node(0), "POST", "/api/signup", map[string]any{
			"account_type": "individual", "email": "unchecked@example-us.test", "display_name": "Un Checked",
			"password": "correct horse battery", "home_region": "us-west", "jurisdiction": "US",
		}, nil); got != http.StatusServiceUnavailable || code != account.CodeControlPlaneUnavailable {
			t.Fatalf("a sign-up whose address cannot be checked: %d %s", got, code)
		}
		if got, code := us.b.call(node(0), "GET", "/api/me", nil, nil); got != http.StatusServiceUnavailable || code != residency.CodeControlPlaneUnavailable {
			t.Fatalf("a session whose home cannot be looked up: %d %s", got, code)
		}
		if after := rowCounts(t, d); before["us-west"] != after["us-west"] {
			t.Errorf("us-west's store changed without a directory: %v -> %v", before["us-west"], after["us-west"])
		}
	})
}

// waitReplicating waits until each region's directory view has a fact from every other
// region: a view starts sourcing another region's bucket some time after the deployment's
// first election (once it took 30 s or more: JetStream retries a failed source after a
// backoff that grows to 2 minutes), and before that a fact written elsewhere is not found.
func waitReplicating(t *testing.T, d *servertest.Deployment) {
	t.Helper()
	ctx := context.Background()
	for _, n := range d.Nodes {
		if err := n.Directory.PutAccount(ctx, directory.Account{ID: "PROBE" + strings.ReplaceAll(n.Region(), "-", ""), HomeRegion: n.Region()}); err != nil {
			t.Fatal(err)
		}
	}
	for _, reader := range d.Nodes {
		for _, writer := range d.Nodes {
			eventually(t, 150*time.Second, reader.NodeID()+" reads "+writer.Region()+"'s facts", func() bool {
				_, err := reader.Directory.Account(ctx, "PROBE"+strings.ReplaceAll(writer.Region(), "-", ""))
				return err == nil
			})
		}
	}
}

type ticketAnswer struct {
	Token     string `json:"token"`
	SignalURL string `json:"signal_url"`
}

// joinResidentTicket opens the signalling session of a ticket: at the node its answer names, or
// else at the meeting's home region's node.
func joinResidentTicket(t *testing.T, ctx context.Context, d *servertest.Deployment, home string, tk ticketAnswer, opts client.Options) *client.Client {
	t.Helper()
	opts.URL = tk.SignalURL
	if opts.URL == "" {
		opts.URL = d.Region(home)[0].URL()
	}
	opts.Token, opts.LoopbackOnly = tk.Token, true
	c, err := client.Join(ctx, opts)
	if err != nil {
		t.Fatalf("join at %s: %v", opts.URL, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// resetToken reads the token of the reset mail to email from the outbox of its home
// region's data directory (the mail goes out after the request returns).
func resetToken(t *testing.T, d *servertest.Deployment, home, email string) string {
	t.Helper()
	re := regexp.MustCompile(`token=([A-Z2-7]+)`)
	var tok string
	eventually(t, 10*time.Second, "the reset mail to "+email, func() bool {
		for _, m := range outbox(t, d, home) {
			if strings.Contains(m, "To: "+store.NormalizeEmail(email)) {
				if sub := re.FindStringSubmatch(m); sub != nil {
					tok = sub[1]
					return true
				}
			}
		}
		return false
	})
	return tok
}

// outbox is the mail a region's nodes wrote to their data directory's outbox.
func outbox(t *testing.T, d *servertest.Deployment, region string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(d.Region(region)[0].Config.DataDir, "outbox", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// residencyTables are the tables of account data, each with its region column.
var residencyTables = []string{"accounts", "users", "sessions", "api_keys", "meetings", "audit_log", "password_resets"}

func openRegionDB(t *testing.T, d *servertest.Deployment, region string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(d.Region(region)[0].Config.DataDir, store.SQLiteFile)+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkStores: every row of each region's store is of that region, and its users,
// accounts and meetings are exactly those of the accounts homed there.
func checkStores(t *testing.T, d *servertest.Deployment, people []*resident) {
	t.Helper()
	for _, region := range residencyRegions {
		db := openRegionDB(t, d, region)
		for _, table := range residencyTables {
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM `+table+` WHERE region <> ?`, region).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%s's %s: %d rows of another region", region, table, n)
			}
		}
		for _, p := range people {
			want := 0
			if p.home == region {
				want = 1
			}
			counts := map[string]string{
				"users":    `SELECT count(*) FROM users WHERE email = ?`,
				"accounts": `SELECT count(*) FROM accounts WHERE id = ?`,
				"meetings": `SELECT count(*) FROM meetings WHERE id = ?`,
				"api_keys": `SELECT count(DISTINCT account_id) FROM api_keys WHERE account_id = ?`,
				"sessions": `SELECT min(count(*), 1) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.account_id = ?`,
			}
			args := map[string]string{"users": store.NormalizeEmail(p.email), "accounts": p.accountID, "meetings": p.meetingID,
				"api_keys": p.accountID, "sessions": p.accountID}
			for table, q := range counts {
				var n int
				if err := db.QueryRow(q, args[table]).Scan(&n); err != nil {
					t.Fatalf("%s: %v", table, err)
				}
				if n != want {
					t.Errorf("%s's %s: %d rows of the account homed in %s, want %d", region, table, n, p.home, want)
				}
			}
			mailed := 0
			for _, m := range outbox(t, d, region) {
				if strings.Contains(m, store.NormalizeEmail(p.email)) {
					mailed++
				}
			}
			if (mailed > 0) != (want == 1) {
				t.Errorf("%s's outbox: %d mails to the account homed in %s", region, mailed, p.home)
			}
			// The audit trail of what the account did is in its home alone.
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM audit_log WHERE subject = ? OR detail LIKE ?`, p.accountID, "%"+p.accountID+"%").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if (n > 0) != (want == 1) {
				t.Errorf("%s's audit log: %d entries of the account homed in %s", region, n, p.home)
			}
		}
	}
}

func rowCounts(t *testing.T, d *servertest.Deployment) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, region := range residencyRegions {
		if region == "eu-central" {
			continue
		}
		db := openRegionDB(t, d, region)
		var parts []string
		for _, table := range residencyTables {
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			parts = append(parts, fmt.Sprintf("%s=%d", table, n))
		}
		out[region] = strings.Join(parts, " ")
	}
	return out
}

// checkDirectory scans every key and value of every stream of the control plane (the
// directory's buckets and views among them) for the accounts' addresses, names and
// topics.
func checkDirectory(t *testing.T, d *servertest.Deployment, people []*resident) {
	t.Helper()
	var forbidden []string
	for _, p := range people {
		local, domain, _ := strings.Cut(strings.ToLower(p.email), "@")
		forbidden = append(forbidden, strings.ToLower(p.email), local, domain, strings.ToLower(p.name), strings.ToLower(p.topic))
		for _, s := range p.secrets {
			forbidden = append(forbidden, strings.ToLower(s))
		}
	}
	js := d.Nodes[0].Bus.JetStream()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	names := js.StreamNames(ctx)
	scanned := 0
	for name := range names.Name() {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				t.Fatalf("%s #%d: %v", name, seq, err)
			}
			scanned++
			for _, text := range []string{name, m.Subject, string(m.Data)} {
				for _, f := range forbidden {
					if strings.Contains(strings.ToLower(text), f) {
						t.Errorf("the control plane's %s holds %q: %q", name, f, text)
					}
				}
			}
		}
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	if scanned == 0 {
		t.Fatal("scanned no directory entry")
	}
	t.Logf("scanned %d entries", scanned)
}
