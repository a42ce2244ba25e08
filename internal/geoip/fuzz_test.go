package geoip

import (
	"net/netip"
	"testing"

	"github.com/meridian-video/meridian/internal/geoip/geoiptest"
)

// Whatever the file holds, opening it either fails or gives a database whose lookups
// answer (with an error at worst): no panic, no country that is not a code.
func FuzzOpen(f *testing.F) {
	good := geoiptest.Bytes(f, geoiptest.Entry{Network: "127.0.0.2/32", Country: "DE"},
		geoiptest.Entry{Network: "127.0.0.3/32", Country: "JP", Position: geoiptest.At(35.68, 139.69)})
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[len(good)/3:])
	f.Add([]byte{})
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("2001:db8::1")}
	f.Fuzz(func(t *testing.T, b []byte) {
		db, err := openBytes("fuzz.mmdb", b)
		if err != nil {
			return
		}
		defer db.Close()
		for _, ip := range addrs {
			loc, err := db.Lookup(ip)
			if err == nil && loc.Country != "" && !validCountry(loc.Country) {
				t.Fatalf("country %q", loc.Country)
			}
		}
	})
}
