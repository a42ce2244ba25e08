// Package geoiptest builds small MaxMind DB files for tests, in the layout of a GeoIP2
// City database, so that tests of GeoIP's effects (entry by country, placement) run
// against a real file read by the real reader. Test code only.
package geoiptest

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Entry maps a network to a country and, optionally, a position (as a City database
// has; a Country database has none).
type Entry struct {
	// Network in CIDR notation: "127.0.0.2/32", "198.18.1.0/24", "2001:db8::/32".
	Network string
	// Country is an ISO 3166-1 alpha-2 code; empty gives a record without a country.
	Country string
	// Position, if set, is the record's latitude and longitude.
	Position *[2]float64
}

// At is a position for an Entry.
func At(lat, lng float64) *[2]float64 { return &[2]float64{lat, lng} }

// Bytes is the database of entries. Reserved networks (loopback, 198.18.0.0/15) may be
// mapped: tests' clients come from them.
func Bytes(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "Meridian-Test-City", IncludeReservedNetworks: true, RecordSize: 24,
		Languages: []string{"en"}, Description: map[string]string{"en": "Meridian test database"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		_, network, err := net.ParseCIDR(e.Network)
		if err != nil {
			t.Fatalf("geoiptest: %v", err)
		}
		rec := mmdbtype.Map{}
		if e.Country != "" {
			rec["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(e.Country)}
		}
		if e.Position != nil {
			rec["location"] = mmdbtype.Map{
				"latitude": mmdbtype.Float64(e.Position[0]), "longitude": mmdbtype.Float64(e.Position[1]),
				"accuracy_radius": mmdbtype.Uint16(20),
			}
		}
		if err := tree.Insert(network, rec); err != nil {
			t.Fatalf("geoiptest: insert %s: %v", e.Network, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// File writes the database of entries to a file in t.TempDir() and returns its path.
func File(t testing.TB, entries ...Entry) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "geoip.mmdb")
	if err := os.WriteFile(path, Bytes(t, entries...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
