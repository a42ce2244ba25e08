package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-video/meridian/client"
	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/devcluster"
	"github.com/meridian-video/meridian/internal/server/servertest"
	"github.com/meridian-video/meridian/internal/store"
)

// BenchmarkJoinAcrossRegions measures POST /api/join with placement in a deployment of
// three regions (us-west and eu-central of two nodes, cn-north of one): guests joining
// live meetings of accounts with different allowed sets, each join through a node of the
// meeting's home region, in turn. One op is one meeting: its first join, which takes the
// meeting live, places it and creates its directory entry with compare-and-set, and three
// later joins, which read the entry and stay on its carrier. The guests do not connect, so
// every join is placed on an idle deployment. p50 and p99 (upper bounds of ~4 % buckets)
// are reported for first and later joins apart:
//
//	flock /tmp/meridian-heavy.lock go test ./internal/server/ -run XXX -bench JoinAcrossRegions -benchtime 50x
func BenchmarkJoinAcrossRegions(b *testing.B) {
	d := servertest.StartDeployment(b, servertest.Spec{
		Regions:     []string{"us-west:US", "eu-central:EU", "cn-north:CN"},
		RegionNodes: map[string]int{"us-west": 2, "eu-central": 2},
	})
	sets := []struct {
		name, home, entry string
		allowed           []string // the account's allowed regions; nil for its home region alone
	}{
		{"us-west", "us-west", "", nil},
		{"us-west+eu-central", "us-west", "", []string{"eu-central", "us-west"}},
		{"eu-central+us-west", "eu-central", "", []string{"eu-central", "us-west"}},
		{"cn-north", "cn-north", "", nil},
		{"us-west-via-eu-central", "us-west", "eu-central", nil},
	}
	httpc := &http.Client{Timeout: 30 * time.Second}
	for i, set := range sets {
		nodes := d.Region(set.home)
		host := hostIn(b, nodes[0], set.allowed, "host"+string(rune('a'+i))+"@example.com")
		allowed := set.allowed
		if allowed == nil {
			allowed = []string{set.home}
		}
		entries := nodes
		if set.entry != "" {
			entries = d.Region(set.entry)
		}
		b.Run("allowed="+set.name, func(b *testing.B) {
			var first, later client.Histogram
			for i := range b.N {
				b.StopTimer()
				m := openMeeting(b, nodes[0], host)
				b.StartTimer()
				for j := range 4 {
					n := entries[(i+j)%len(entries)] // first joins through each node in turn
					start := time.Now()
					region := joinOnce(b, httpc, n.URL(), m.ID)
					took := time.Since(start)
					if !slices.Contains(allowed, region) {
						b.Fatalf("meeting allowed %s placed in %s", set.name, region)
					}
					if j == 0 {
						first.Record(took)
					} else {
						later.Record(took)
					}
				}
			}
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(first.Percentile(50)), "first-p50-ms")
			b.ReportMetric(ms(first.Percentile(99)), "first-p99-ms")
			b.ReportMetric(ms(later.Percentile(50)), "later-p50-ms")
			b.ReportMetric(ms(later.Percentile(99)), "later-p99-ms")
		})
	}
}

// hostIn is the owner of a business account homed in n's region, allowing the regions of
// allowed (its home region alone if nil).
func hostIn(b *testing.B, n *devcluster.Node, allowed []string, email string) account.Principal {
	b.Helper()
	a, u, err := n.Store.CreateAccountWithOwner(b.Context(), store.Account{Type: account.TypeBusiness, Name: "Acme", Plan: string(account.Business)},
		store.User{Email: email, DisplayName: "Host", PasswordHash: "unused"})
	if err != nil {
		b.Fatal(err)
	}
	p := account.Principal{Account: a, User: u}
	if allowed != nil {
		if _, err := n.Accounts.SetRegions(b.Context(), p, account.RegionsInput{Allowed: allowed}); err != nil {
			b.Fatal(err)
		}
	}
	return p
}

// joinOnce joins meetingID as a guest through the API at base and returns the region of
// the node the answer names.
func joinOnce(b *testing.B, c *http.Client, base, meetingID string) string {
	resp, err := c.Post(base+"/api/join", "application/json",
		strings.NewReader(`{"meeting_id":"`+meetingID+`","display_name":"Guest"}`))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("join %s through %s: %s %s %v", meetingID, base, resp.Status, body, err)
	}
	var t struct {
		Region    string `json:"region"`
		SignalURL string `json:"signal_url"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.SignalURL == "" {
		b.Fatalf("join answer %s: %v", body, err)
	}
	return t.Region
}
