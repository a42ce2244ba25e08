package geoip_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/meridian-video/meridian/internal/geoip"
	"github.com/meridian-video/meridian/internal/geoip/geoiptest"
)

func testEntries() []geoiptest.Entry {
	return []geoiptest.Entry{
		{Network: "127.0.0.2/32", Country: "DE"},
		{Network: "127.0.0.3/32", Country: "JP", Position: geoiptest.At(35.68, 139.69)},
		{Network: "198.18.0.0/24", Country: "CN"},
		{Network: "198.18.1.0/24"}, // a record without a country
		{Network: "2001:db8::/32", Country: "FR", Position: geoiptest.At(48.86, 2.35)},
	}
}

func open(t *testing.T) *geoip.DB {
	t.Helper()
	db, err := geoip.Open(geoiptest.File(t, testEntries()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestLookup(t *testing.T) {
	db := open(t)
	if db.Type != "Meridian-Test-City" {
		t.Errorf("database type %q", db.Type)
	}
	for _, c := range []struct {
		ip      string
		country string
		pos     *geoip.Position
	}{
		{"127.0.0.2", "DE", nil},
		{"127.0.0.3", "JP", &geoip.Position{Lat: 35.68, Lng: 139.69}},
		{"198.18.0.77", "CN", nil},
		{"::ffff:198.18.0.77", "CN", nil}, // an IPv4 client on a dual-stack socket
		{"2001:db8:1::5", "FR", &geoip.Position{Lat: 48.86, Lng: 2.35}},
		{"fe80::1%eth0", "", nil},
		{"127.0.0.1", "", nil},   // not in the database: unknown
		{"198.18.1.9", "", nil},  // a record without a country: unknown
		{"203.0.113.5", "", nil}, // not in the database
	} {
		loc, err := db.Lookup(netip.MustParseAddr(c.ip))
		if err != nil {
			t.Errorf("%s: %v", c.ip, err)
			continue
		}
		if loc.Country != c.country || (loc.Position == nil) != (c.pos == nil) || (c.pos != nil && *loc.Position != *c.pos) {
			t.Errorf("%s: %+v (position %v), want %s at %v", c.ip, loc, loc.Position, c.country, c.pos)
		}
	}
	if _, err := db.Lookup(netip.Addr{}); err == nil {
		t.Error("the zero address was looked up")
	}
}

// Lookups run from many goroutines at once (every join asks); run with -race.
func TestLookupConcurrently(t *testing.T) {
	db := open(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				if loc, err := db.Lookup(netip.MustParseAddr("127.0.0.3")); err != nil || loc.Country != "JP" {
					t.Errorf("lookup: %+v, %v", loc, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// A file that is not a whole, sound database is refused at Open with a message naming
// it, never at the first lookup.
func TestOpenRefusesBadFiles(t *testing.T) {
	good := geoiptest.Bytes(t, testEntries()...)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The metadata is at the end: a cut anywhere loses it or leaves it pointing past the end.
	cases := map[string]string{
		"missing.mmdb": filepath.Join(dir, "missing.mmdb"),
		"empty.mmdb":   write("empty.mmdb", nil),
		"text.mmdb":    write("text.mmdb", []byte("country,network\nDE,127.0.0.2/32\n")),
		"half.mmdb":    write("half.mmdb", good[:len(good)/2]),
		"short.mmdb":   write("short.mmdb", good[:len(good)-10]),
		"nocountry.mmdb": write("nocountry.mmdb", geoiptest.Bytes(t,
			geoiptest.Entry{Network: "127.0.0.0/8"}, geoiptest.Entry{Network: "10.0.0.0/8"})),
	}
	// A corrupt search tree: the first node's records point far outside the file.
	bad := append([]byte(nil), good...)
	for i := range 6 {
		bad[i] = 0xff
	}
	cases["tree.mmdb"] = write("tree.mmdb", bad)
	for name, path := range cases {
		db, err := geoip.Open(path)
		if err == nil {
			db.Close()
			t.Errorf("%s opened", name)
			continue
		}
		if !strings.Contains(err.Error(), "geoip") || (name != "missing.mmdb" && !strings.Contains(err.Error(), path)) {
			t.Errorf("%s: the error does not say which file: %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}
