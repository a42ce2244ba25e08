// Package geoip answers where an IP address is, from a MaxMind DB file the operator
// supplies (GeoIP2 or GeoLite2 Country or City, or another database in their layout): the
// address's country and, when the database has one, its position. It decides nothing:
// callers turn the answer into facts (a participant's country, a placement origin), and an
// address the database does not know has no country, for each caller to handle as its
// rules say.
package geoip

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	maxminddb "github.com/oschwald/maxminddb-golang/v2"
)

// Location is what the database says of an address.
type Location struct {
	// Country is the ISO 3166-1 alpha-2 code of the country the address is in, upper
	// case; empty when the database does not know it.
	Country string
	// Position is where the database places the address (City databases); nil when it
	// has none.
	Position *Position
}

// Position is a point on the globe in degrees.
type Position struct {
	Lat, Lng float64
}

// record is the part of a GeoIP2 Country or City record read. The country is where the
// address is, not registered_country (where its block was registered): entry by country
// asks the former, and an address with only the latter counts as unknown.
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// DB is an open database. It is safe for concurrent use; the file is read once, at Open,
// so replacing it takes effect when the node starts again.
type DB struct {
	r *maxminddb.Reader
	// Type is the database's type as its metadata names it ("GeoLite2-City").
	Type string
}

// probeRecords bounds how many records Open reads looking for a country, so that an ASN
// or ISP database (valid, but with no countries) is refused at start.
const probeRecords = 4096

// Open reads and checks the database at path: its whole search tree and data section
// (a corrupt or truncated file is refused here, not at the first lookup), and that its
// records have countries.
func Open(path string) (*DB, error) {
	// Read into memory rather than mapped: a file rewritten in place under a mapping can
	// fault the process, and the reader keeps no file open.
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("geoip: %w", err)
	}
	return openBytes(path, b)
}

func openBytes(path string, b []byte) (*DB, error) {
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("geoip: %s is not a MaxMind DB file: %w", path, err)
	}
	if err := r.Verify(); err != nil {
		return nil, fmt.Errorf("geoip: %s is corrupt: %w", path, err)
	}
	db := &DB{r: r, Type: r.Metadata.DatabaseType}
	if !db.hasCountries() {
		return nil, fmt.Errorf("geoip: %s (database type %q) has no country data: give a GeoIP2 or GeoLite2 Country or City database", path, db.Type)
	}
	return db, nil
}

func (db *DB) hasCountries() bool {
	n := 0
	for res := range db.r.Networks() {
		var rec record
		if err := res.Decode(&rec); err == nil && validCountry(rec.Country.ISOCode) {
			return true
		}
		if n++; n >= probeRecords {
			break
		}
	}
	return false
}

// ErrInvalidAddress is the error of a lookup of the zero netip.Addr.
var ErrInvalidAddress = errors.New("geoip: not an IP address")

// Lookup returns what the database says of ip: a zero Location when it does not know
// the address. An error means the record could not be read (the Location is zero then
// too: callers treat it as unknown).
func (db *DB) Lookup(ip netip.Addr) (Location, error) {
	if !ip.IsValid() {
		return Location{}, ErrInvalidAddress
	}
	var rec record
	res := db.r.Lookup(ip.Unmap().WithZone(""))
	if err := res.Err(); err != nil {
		return Location{}, fmt.Errorf("geoip: lookup %s: %w", ip, err)
	}
	if !res.Found() {
		return Location{}, nil
	}
	if err := res.Decode(&rec); err != nil {
		return Location{}, fmt.Errorf("geoip: record of %s: %w", ip, err)
	}
	var loc Location
	if validCountry(rec.Country.ISOCode) {
		loc.Country = rec.Country.ISOCode
	}
	if lat, lng := rec.Location.Latitude, rec.Location.Longitude; lat != nil && lng != nil &&
		*lat >= -90 && *lat <= 90 && *lng >= -180 && *lng <= 180 {
		loc.Position = &Position{Lat: *lat, Lng: *lng}
	}
	return loc, nil
}

// validCountry reports whether s has the shape of an ISO 3166-1 alpha-2 code.
func validCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// Close releases the database; no lookup may run during or after it. The data is held in
// memory only, so a server that looks up until it exits may leave it to the collector.
func (db *DB) Close() error { return db.r.Close() }
