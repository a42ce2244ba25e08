package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/config"
	"github.com/meridian-video/meridian/internal/geoip/geoiptest"
	"github.com/meridian-video/meridian/internal/server"
	"github.com/meridian-video/meridian/internal/server/servertest"
)

// postFrom posts body to url from the loopback address ip, with headers, and returns the
// status and the decoded JSON answer.
func postFrom(t *testing.T, ip, url, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// A geoip_file that is missing, or not a sound database, stops the start with its path.
func TestGeoIPFileThatDoesNotLoadStopsTheStart(t *testing.T) {
	dir := t.TempDir()
	good := geoiptest.Bytes(t, geoiptest.Entry{Network: "198.51.100.0/24", Country: "DE"})
	truncated := filepath.Join(dir, "truncated.mmdb")
	if err := os.WriteFile(truncated, good[:len(good)-20], 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.mmdb"), truncated} {
		cfg := config.Default()
		cfg.Addr, cfg.DataDir, cfg.GeoIPFile = "127.0.0.1:0", t.TempDir(), path
		srv, err := server.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil {
			srv.Close()
			t.Fatalf("a server started with the geoip_file %s", path)
		}
		if !strings.Contains(err.Error(), "geoip_file") || !strings.Contains(err.Error(), path) {
			t.Fatalf("error %q does not name the setting and the file", err)
		}
	}
}

// X-Forwarded-For is believed from a trusted proxy only: a client writing it itself, to
// come from somewhere else, is seen at its own address. Here a block-list keeps out
// Germany, where 198.51.100.0/24 is.
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	geo := geoiptest.File(t, geoiptest.Entry{Network: "198.51.100.0/24", Country: "DE"})
	for _, c := range []struct {
		name    string
		trusted []string
		want    int
	}{
		{"no trusted proxy: the header is ignored", nil, http.StatusOK},
		{"another network trusted: the header is ignored", []string{"10.0.0.0/8"}, http.StatusOK},
		{"loopback trusted: the header names the client", []string{"127.0.0.0/8"}, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Addr, cfg.DataDir, cfg.GeoIPFile = "127.0.0.1:0", t.TempDir(), geo
			cfg.HTTP.TrustedProxies = c.trusted
			srv, err := server.Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			owner := signedIn(t, srv)
			if st, body := owner("PUT", "/api/account/entry", `{"mode":"block_list","countries":["DE"]}`); st != http.StatusOK {
				t.Fatalf("set the block-list: %d %s", st, body)
			}
			st, body := owner("POST", "/api/meetings", `{"passcode":false,"waiting_room":false}`)
			var m struct{ ID string }
			if err := json.Unmarshal([]byte(body), &m); err != nil || st != http.StatusCreated {
				t.Fatalf("schedule: %d %s", st, body)
			}
			if st, body := owner("POST", "/api/meetings/"+m.ID+"/start", ""); st != http.StatusOK {
				t.Fatalf("start: %d %s", st, body)
			}
			st, out := postFrom(t, "127.0.0.1", srv.URL()+"/api/join", `{"meeting_id":"`+m.ID+`","display_name":"Guest"}`,
				"X-Forwarded-For", "198.51.100.7")
			if st != c.want {
				t.Fatalf("join through the proxy: %d %v, want %d", st, out, c.want)
			}
			if st == http.StatusForbidden && (out["code"] != account.CodeEntryCountryBlocked || !strings.Contains(out["message"].(string), "Germany")) {
				t.Fatalf("refusal %v", out)
			}
		})
	}
}

// countriesPolicy is a policy document that only says which countries are in which
// jurisdiction: placement reads a GeoIP country's jurisdiction from it.
const countriesPolicy = `version: "countries.1"
jurisdictions:
  - code: US
    name: United States
    countries: [US]
  - code: EU
    name: European Union
    countries: [DE, FR]
  - code: CN
    name: Mainland China
    countries: [CN]
  - code: JP
    name: Japan
    countries: [JP]
`

// The first join places a meeting near the participant as GeoIP sees them, not near the
// node they came in through: entering through us-west from a German address, a meeting
// allowed us-west and eu-central goes to eu-central (Germany is in the EU jurisdiction);
// from a Chinese address it goes to the nearest allowed region, never cn-north or jp-east,
// which are nearer but not allowed; from an address GeoIP places in Moscow (a country of
// no jurisdiction: the position decides), to eu-central too. Without GeoIP's answer (an
// address it does not know), the entry node's region.
func TestPlacementByGeoIP(t *testing.T) {
	geo := geoiptest.File(t,
		geoiptest.Entry{Network: "127.0.0.2/32", Country: "DE"},
		geoiptest.Entry{Network: "127.0.0.3/32", Country: "CN"},
		geoiptest.Entry{Network: "127.0.0.4/32", Country: "RU", Position: geoiptest.At(55.75, 37.62)})
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(countriesPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	d := servertest.StartDeployment(t, servertest.Spec{
		Regions: []string{"us-west:US", "eu-central:EU", "cn-north:CN", "jp-east:JP"},
		Configure: func(c *config.Config) {
			c.GeoIPFile, c.PolicyFile = geo, policyFile
		},
	})
	usw := d.Region("us-west")[0]
	host := usHost(t, usw, "host@example.com")
	if _, err := usw.Accounts.SetRegions(t.Context(), host, account.RegionsInput{Allowed: []string{"us-west", "eu-central"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		from, want string
	}{
		{"127.0.0.2", "eu-central"}, // DE: in the EU jurisdiction, allowed
		{"127.0.0.3", "eu-central"}, // CN: cn-north (and jp-east, nearer still) not allowed; eu-central is the nearest allowed
		{"127.0.0.4", "eu-central"}, // Moscow, by position
		{"127.0.0.1", "us-west"},    // unknown: the entry node's region
	} {
		m := openMeeting(t, usw, host)
		st, out := postFrom(t, c.from, usw.URL()+"/api/join", `{"meeting_id":"`+m.ID+`","display_name":"Guest"}`)
		if st != http.StatusOK || out["region"] != c.want {
			t.Errorf("first join from %s: %d, placed in %v, want %s (%v)", c.from, st, out["region"], c.want, out)
		}
		// A later join goes to the meeting's node, wherever the participant is.
		if st, out := postFrom(t, "127.0.0.1", usw.URL()+"/api/join", `{"meeting_id":"`+m.ID+`","display_name":"Other"}`); st != http.StatusOK || out["region"] != c.want {
			t.Errorf("second join: %d, placed in %v, want the carrier's %s", st, out["region"], c.want)
		}
	}
}
