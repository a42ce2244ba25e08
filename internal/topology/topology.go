// Package topology owns the shape of a Meridian deployment and the decisions made from it:
// the regions (each with its jurisdiction, location, whether it is opt-in and the partner
// that runs it, if one does), the node
// identity every node announces, the set of regions a meeting may use, an account's
// default home region, and placement, which picks the node for a join. It is pure: no I/O,
// no NATS, no clock reads (time is a parameter), so every rule is a table test.
//
// A region run by an OEM partner carries only the meetings of that partner's customers
// (accounts whose sales channel is the partner): every decision here that takes a region
// for an account also takes its channel, and refuses the partner's regions to anyone else.
//
// Placement never spills: a join goes to a node of a region the meeting allows, or is
// refused with the regions tried and why. The region list's order is for display only;
// every decision breaks ties by region id and node id, so that nodes agreeing on the
// Fingerprint decide alike.
package topology

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// DefaultRegion is the one region of a deployment configured with none; it is the store's
// default region too.
const DefaultRegion = "local"

// DefaultJurisdiction is the jurisdiction of DefaultRegion: ZZ, the ISO 3166 user-assigned
// code CLDR uses for an unknown region, since a single-node deployment claims none.
const DefaultJurisdiction = "ZZ"

// Limits on operator input, so that a region list stays small enough for every node to
// hold and every placement to scan.
const (
	MaxRegions    = 64
	maxNameRunes  = 64
	maxConfigSize = 1 << 20
)

// LatLng is a position in degrees.
type LatLng struct {
	Lat float64 `yaml:"lat" json:"lat"`
	Lng float64 `yaml:"lng" json:"lng"`
}

// Region is a data-center region of the deployment.
type Region struct {
	// ID is lowercase [a-z][a-z0-9-]{1,31}, such as us-west; safe as a NATS subject token.
	ID string `yaml:"id" json:"id"`
	// Jurisdiction is an upper-case ISO 3166-like code of 2 or 3 letters: US, EU, CN, JP.
	Jurisdiction string `yaml:"jurisdiction" json:"jurisdiction"`
	// Name is for people: "US West (Oregon)".
	Name     string `yaml:"name" json:"name"`
	Location LatLng `yaml:"location" json:"location"`
	// OptIn regions carry no meeting of an account homed outside their jurisdiction until
	// an admin of that account turns them on.
	OptIn bool `yaml:"opt_in" json:"opt_in"`
	// PublicKey is the region's Ed25519 public key, standard base64 of its 32 bytes: the
	// key its join tokens must verify with. Every node takes it from this list, which the
	// operator controls, and not from anything a node announces. Optional in a deployment
	// of one region, whose node then trusts its own region key.
	PublicKey string `yaml:"public_key,omitempty" json:"public_key,omitempty"`
	// Partner is the id of the OEM partner that runs the region (its domestic data
	// center), empty for the operator's own regions. A partner region carries only the
	// meetings of accounts whose sales channel is that partner: for every other account
	// it is no home choice, in no allowed set, and never placed on.
	Partner string `yaml:"partner,omitempty" json:"partner,omitempty"`
}

// Serves reports whether r may carry the meetings of an account of this sales channel
// ("direct", "" or a partner id): every region of the operator's, and a partner's region
// for that partner's customers only.
func (r Region) Serves(channel string) bool { return r.Partner == "" || r.Partner == channel }

// ValidPartnerID reports whether id has the shape of a partner id, as commerce and the
// jurisdiction policy name partners: 2 to 64 of [a-z0-9-], and not "direct" (the
// operator's own channel).
func ValidPartnerID(id string) bool {
	if len(id) < 2 || len(id) > 64 || id == "direct" {
		return false
	}
	for i := range len(id) {
		if c := id[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// Ed25519Key decodes PublicKey; ok is false when none is given.
func (r Region) Ed25519Key() (key ed25519.PublicKey, ok bool, err error) {
	if r.PublicKey == "" {
		return nil, false, nil
	}
	b, err := base64.StdEncoding.DecodeString(r.PublicKey)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, false, fmt.Errorf("%q: want the standard base64 of a %d-byte Ed25519 public key", r.PublicKey, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), true, nil
}

// Deployment is the region list every node of a deployment is configured with.
type Deployment struct {
	Regions []Region `yaml:"regions" json:"regions"`
}

// Default is the deployment of `meridian serve` without a region list: one region, local.
func Default() Deployment {
	return Deployment{Regions: []Region{{
		ID: DefaultRegion, Jurisdiction: DefaultJurisdiction, Name: "Local",
	}}}
}

// ConfigError is a region list that cannot work: the field at fault, with its line in the
// YAML when it came from Parse. It matches ErrInvalidInput under errors.Is.
type ConfigError struct {
	Line    int    // 1-based; 0 when unknown
	Field   string // such as regions[2].location.lat
	Message string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("topology: region list: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Is makes a ConfigError match ErrInvalidInput.
func (e *ConfigError) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == CodeInvalidInput
}

// Parse reads a region list from YAML and validates it. Unknown keys are refused, so that a
// typo does not silently leave a default in force, and so are a missing location or
// coordinate (which would otherwise read as 0, 0); errors name the field and its line.
func Parse(b []byte) (Deployment, error) {
	var dep Deployment
	if len(b) > maxConfigSize {
		return dep, &ConfigError{Message: fmt.Sprintf("larger than %d bytes", maxConfigSize)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&dep); err != nil {
		if errors.Is(err, io.EOF) {
			return Deployment{}, &ConfigError{Message: "empty; want regions: [...]"}
		}
		return Deployment{}, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Deployment{}, &ConfigError{Line: extra.Line, Message: "more than one YAML document"}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return Deployment{}, yamlError(err)
	}
	regions := mapValue(docRoot(&doc), "regions")
	if err := requireKeys(regions); err != nil {
		return Deployment{}, err
	}
	if err := dep.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.Line = lineOf(regions, ce)
		}
		return Deployment{}, err
	}
	return dep, nil
}

// yamlError words a decoding error; yaml.v3 puts the line in each message.
func yamlError(err error) *ConfigError {
	if te := (*yaml.TypeError)(nil); errors.As(err, &te) {
		return &ConfigError{Message: strings.Join(te.Errors, "; ")}
	}
	return &ConfigError{Message: strings.TrimPrefix(err.Error(), "yaml: ")}
}

func docRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return nil
}

// mapValue returns the value of key in mapping node m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	_, v := mapEntry(m, key)
	return v
}

// mapKey returns the key node of key in mapping node m, or nil.
func mapKey(m *yaml.Node, key string) *yaml.Node {
	k, _ := mapEntry(m, key)
	return k
}

func mapEntry(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// requireKeys refuses a region without a key whose absence would read as a valid zero.
func requireKeys(regions *yaml.Node) error {
	if regions == nil || regions.Kind != yaml.SequenceNode {
		return nil // decoding refused a non-list; Validate refuses an empty one
	}
	for i, r := range regions.Content {
		if r.Kind != yaml.MappingNode {
			continue
		}
		for _, k := range []string{"id", "jurisdiction", "name", "location"} {
			if mapKey(r, k) == nil {
				return &ConfigError{Line: r.Line, Field: fmt.Sprintf("regions[%d]", i), Message: k + " is missing"}
			}
		}
		loc := mapValue(r, "location")
		for _, k := range []string{"lat", "lng"} {
			if mapKey(loc, k) == nil {
				return &ConfigError{Line: loc.Line, Field: fmt.Sprintf("regions[%d].location", i), Message: k + " is missing"}
			}
		}
	}
	return nil
}

// lineOf finds the line of the field a validation error names (regions[i].key[.sub]).
func lineOf(regions *yaml.Node, ce *ConfigError) int {
	var i int
	var rest string
	if n, _ := fmt.Sscanf(ce.Field, "regions[%d]", &i); n != 1 || regions == nil ||
		regions.Kind != yaml.SequenceNode || i < 0 || i >= len(regions.Content) {
		if regions != nil {
			return regions.Line
		}
		return 0
	}
	node := regions.Content[i]
	if _, after, ok := strings.Cut(ce.Field, "]."); ok {
		rest = after
	}
	for key := range strings.SplitSeq(rest, ".") {
		if key == "" {
			break
		}
		if v := mapValue(node, key); v != nil {
			node = v
		}
	}
	return node.Line
}

// Validate reports the first thing in the region list that cannot work.
func (d Deployment) Validate() error {
	if len(d.Regions) == 0 {
		return &ConfigError{Field: "regions", Message: "no region; want at least one"}
	}
	if len(d.Regions) > MaxRegions {
		return &ConfigError{Field: "regions", Message: fmt.Sprintf("%d regions; at most %d", len(d.Regions), MaxRegions)}
	}
	for i, r := range d.Regions {
		field := func(name string) string { return fmt.Sprintf("regions[%d].%s", i, name) }
		if !ValidRegionID(r.ID) {
			return &ConfigError{Field: field("id"), Message: fmt.Sprintf("%q: want lowercase [a-z][a-z0-9-]{1,31}, such as us-west", r.ID)}
		}
		for _, p := range d.Regions[:i] {
			if p.ID == r.ID {
				return &ConfigError{Field: field("id"), Message: fmt.Sprintf("%q appears twice", r.ID)}
			}
		}
		if !ValidJurisdiction(r.Jurisdiction) {
			return &ConfigError{Field: field("jurisdiction"), Message: fmt.Sprintf("%q: want 2 or 3 upper-case letters, such as US or EU", r.Jurisdiction)}
		}
		if msg := checkName(r.Name); msg != "" {
			return &ConfigError{Field: field("name"), Message: msg}
		}
		// Written so that NaN fails too.
		if !(r.Location.Lat >= -90 && r.Location.Lat <= 90) {
			return &ConfigError{Field: field("location.lat"), Message: fmt.Sprintf("%v: want degrees in [-90, 90]", r.Location.Lat)}
		}
		if !(r.Location.Lng >= -180 && r.Location.Lng <= 180) {
			return &ConfigError{Field: field("location.lng"), Message: fmt.Sprintf("%v: want degrees in [-180, 180]", r.Location.Lng)}
		}
		if _, _, err := r.Ed25519Key(); err != nil {
			return &ConfigError{Field: field("public_key"), Message: err.Error()}
		}
		if r.Partner != "" {
			if !ValidPartnerID(r.Partner) {
				return &ConfigError{Field: field("partner"), Message: fmt.Sprintf("%q: want a partner id, 2 to 64 of [a-z0-9-] and not direct", r.Partner)}
			}
			// local is the region of a node configured with no list, which serves
			// everyone; a partner's region is always named in a list.
			if r.ID == DefaultRegion {
				return &ConfigError{Field: field("partner"), Message: fmt.Sprintf("the region %s cannot be a partner's; give the partner's region an id of its own", DefaultRegion)}
			}
		}
	}
	return nil
}

func checkName(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "empty; want a name for people, such as US West (Oregon)"
	case !utf8.ValidString(name):
		return "not valid UTF-8"
	case utf8.RuneCountInString(name) > maxNameRunes:
		return fmt.Sprintf("longer than %d characters", maxNameRunes)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "contains a control character"
	}
	return ""
}

// ValidRegionID reports whether id has the shape of a region id: [a-z][a-z0-9-]{1,31}.
func ValidRegionID(id string) bool {
	if len(id) < 2 || len(id) > 32 || id[0] < 'a' || id[0] > 'z' {
		return false
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// ValidJurisdiction reports whether j has the shape of a jurisdiction: 2 or 3 upper-case
// ASCII letters (ISO 3166-1 alpha-2 or alpha-3, and EU).
func ValidJurisdiction(j string) bool {
	if len(j) < 2 || len(j) > 3 {
		return false
	}
	for i := range len(j) {
		if j[i] < 'A' || j[i] > 'Z' {
			return false
		}
	}
	return true
}

// Lookup returns the region with this id.
func (d Deployment) Lookup(id string) (Region, bool) {
	for _, r := range d.Regions {
		if r.ID == id {
			return r, true
		}
	}
	return Region{}, false
}

// fingerprintVersion starts the canonical encoding, so that a change of encoding can never
// make two different region lists hash alike.
const fingerprintVersion = "meridian/topology/deployment/v1\n"

// Fingerprint is the SHA-256, in lowercase hex, of a canonical encoding of the region list:
// regions sorted by id, every field length-prefixed, coordinates as IEEE 754 bits. It does
// not depend on the YAML's order, spacing or comments, and changes with any field, so nodes
// announcing it reveal a region list that differs between them (public keys and partners
// included). The list's order is not covered because no decision depends on it.
func (d Deployment) Fingerprint() string {
	regions := slices.Clone(d.Regions)
	slices.SortFunc(regions, func(a, b Region) int { return strings.Compare(a.ID, b.ID) })
	b := make([]byte, 0, len(fingerprintVersion)+len(regions)*96)
	b = append(b, fingerprintVersion...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(regions)))
	str := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	num := func(f float64) {
		if f == 0 {
			f = 0 // -0 and 0 are one place
		}
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(f))
	}
	for _, r := range regions {
		str(r.ID)
		str(r.Jurisdiction)
		str(r.Name)
		num(r.Location.Lat)
		num(r.Location.Lng)
		// Flags: bit 0 opt-in, bit 1 a public key follows, bit 2 a partner id follows. A
		// list without keys or partners encodes as it did before they existed, so its
		// fingerprint is unchanged.
		var flags byte
		if r.OptIn {
			flags |= 1
		}
		if r.PublicKey != "" {
			flags |= 2
		}
		if r.Partner != "" {
			flags |= 4
		}
		b = append(b, flags)
		if r.PublicKey != "" {
			str(r.PublicKey)
		}
		if r.Partner != "" {
			str(r.Partner)
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
