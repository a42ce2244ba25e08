package geoip_test

import (
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/meridian-video/meridian/internal/geoip"
	"github.com/meridian-video/meridian/internal/geoip/geoiptest"
)

// benchEntries are n /24 networks in 10.0.0.0/8 and above, over 200 countries, half with a
// position: a City database's shape at a smaller scale.
func benchEntries(n int) []geoiptest.Entry {
	es := make([]geoiptest.Entry, n)
	for i := range es {
		es[i] = geoiptest.Entry{Network: fmt.Sprintf("%d.%d.%d.0/24", 10+i>>16, i>>8&0xff, i&0xff),
			Country: string([]byte{'A' + byte(i%200/26), 'A' + byte(i%26)})}
		if i%2 == 0 {
			es[i].Position = geoiptest.At(float64(i%180-90), float64(i%360-180))
		}
	}
	return es
}

// BenchmarkOpen is a node's start with a GeoIP file: read, verify, probe.
func BenchmarkOpen(b *testing.B) {
	path := geoiptest.File(b, benchEntries(200_000)...)
	for b.Loop() {
		db, err := geoip.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
	st, _ := os.Stat(path)
	b.ReportMetric(float64(st.Size())/1e6, "file-MB")
}

// BenchmarkLookup is one join's lookup.
func BenchmarkLookup(b *testing.B) {
	db, err := geoip.Open(geoiptest.File(b, benchEntries(200_000)...))
	if err != nil {
		b.Fatal(err)
	}
	ip := netip.MustParseAddr("10.1.2.3")
	for b.Loop() {
		if loc, err := db.Lookup(ip); err != nil || loc.Country == "" {
			b.Fatal(loc, err)
		}
	}
}
