package topology

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// partnerDeployment is testDeployment with two regions run by the OEM partner
// lotus-bridge, one in CN (its domestic data center) and one in JP, and one run by
// another partner.
func partnerDeployment() Deployment {
	dep := testDeployment()
	dep.Regions = append(dep.Regions,
		Region{ID: "cn-lotus", Jurisdiction: "CN", Name: "Lotus Bridge Beijing", Location: LatLng{39.9, 116.3}, Partner: "lotus-bridge"},
		Region{ID: "jp-lotus", Jurisdiction: "JP", Name: "Lotus Bridge Tokyo", Location: LatLng{35.7, 139.7}, Partner: "lotus-bridge"},
		Region{ID: "cn-jade", Jurisdiction: "CN", Name: "Jade Harbor Shanghai", Location: LatLng{31.2, 121.5}, Partner: "jade-harbor"},
	)
	return dep
}

const lotus = "lotus-bridge"

func TestParsePartner(t *testing.T) {
	y := strings.Replace(threeRegions, "    opt_in: true\n", "    opt_in: true\n    partner: lotus-bridge\n", 1)
	dep, err := Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if cn, _ := dep.Lookup("cn-north"); cn.Partner != lotus || !cn.Serves(lotus) || cn.Serves("direct") || cn.Serves("jade-harbor") {
		t.Fatalf("cn-north %+v", cn)
	}
	if us, _ := dep.Lookup("us-west"); us.Partner != "" || !us.Serves("direct") || !us.Serves(lotus) {
		t.Fatalf("us-west %+v: the operator's region serves every channel", us)
	}
	for name, bad := range map[string]string{
		"upper case": "Lotus", "one letter": "l", "direct": "direct", "a dot": "lotus.bridge", "65 letters": strings.Repeat("l", 65),
	} {
		y := strings.Replace(threeRegions, "    opt_in: true\n", "    opt_in: true\n    partner: "+bad+"\n", 1)
		_, err := Parse([]byte(y))
		if err == nil || !strings.Contains(err.Error(), "line 18: regions[2].partner") || !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	local := Default()
	local.Regions[0].Partner = lotus
	if err := local.Validate(); err == nil || !strings.Contains(err.Error(), "regions[0].partner") {
		t.Errorf("a partner's local region: %v", err)
	}
}

// A list without partners keeps its fingerprint; a partner, or another partner, changes it.
func TestFingerprintWithPartner(t *testing.T) {
	dep, err := Parse([]byte(threeRegions))
	if err != nil {
		t.Fatal(err)
	}
	const before = "85ef9a5ec692d8e1b0912f40126b2221756971f07669d1dbc9274a6bcaff55d9"
	if fp := dep.Fingerprint(); fp != before {
		t.Fatalf("fingerprint of a list without partners = %s, want %s as before", fp, before)
	}
	run := func(partner, key string) string {
		d := Deployment{Regions: slices.Clone(dep.Regions)}
		d.Regions[2].Partner, d.Regions[2].PublicKey = partner, key
		return d.Fingerprint()
	}
	seen := map[string]string{before: "none"}
	for _, c := range [][2]string{{lotus, ""}, {"jade-harbor", ""}, {lotus, testKey}, {"", testKey}} {
		fp := run(c[0], c[1])
		if prev, dup := seen[fp]; dup {
			t.Errorf("partner %q key %q hashes like %s", c[0], c[1], prev)
		}
		seen[fp] = c[0] + "/" + c[1]
	}
}

func TestEffectiveAllowedWithPartners(t *testing.T) {
	dep := partnerDeployment()
	cases := []struct {
		name, home, channel string
		requested           []string
		plan                bool
		optedIn             map[string]bool
		want                []string
		code                string
	}{
		{name: "a direct account cannot ask for a partner's region", home: "us-west", channel: "direct",
			requested: []string{"us-west", "cn-lotus"}, plan: true, code: CodePartnerRegion},
		{name: "not even opted in", home: "us-west", channel: "direct",
			requested: []string{"us-west", "cn-lotus"}, plan: true, optedIn: map[string]bool{"cn-lotus": true}, code: CodePartnerRegion},
		{name: "an empty channel is direct", home: "us-west", requested: []string{"us-west", "jp-lotus"}, plan: true, code: CodePartnerRegion},
		{name: "on a free plan the refusal is still partner_region", home: "us-west", channel: "direct",
			requested: []string{"us-west", "cn-lotus"}, code: CodePartnerRegion},
		{name: "another partner's customer cannot either", home: "cn-jade", channel: "jade-harbor",
			requested: []string{"cn-jade", "cn-lotus"}, plan: true, code: CodePartnerRegion},
		{name: "a direct account homed in a partner's region has no set", home: "cn-lotus", channel: "direct", code: CodePartnerRegion},
		{name: "the partner's customer chooses the partner's regions", home: "cn-lotus", channel: lotus,
			requested: []string{"cn-lotus", "jp-lotus"}, plan: true, want: []string{"cn-lotus", "jp-lotus"}},
		{name: "and public regions when its settings say so", home: "cn-lotus", channel: lotus,
			requested: []string{"cn-lotus", "us-west"}, plan: true, want: []string{"cn-lotus", "us-west"}},
		{name: "a public opt-in region still needs the opt-in", home: "jp-lotus", channel: lotus,
			requested: []string{"jp-lotus", "cn-north"}, plan: true, code: CodeOptInRequired},
		{name: "free: locked to home", home: "cn-lotus", channel: lotus,
			requested: []string{"cn-lotus", "jp-lotus"}, code: CodePlanLocked},
		{name: "free: home alone", home: "cn-lotus", channel: lotus, want: []string{"cn-lotus"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := EffectiveAllowed(dep, c.home, c.channel, c.requested, c.plan, c.optedIn)
			if c.code != "" {
				if code, _, _ := CodeOf(err); code != c.code || !errors.Is(err, &Error{Code: c.code}) {
					t.Fatalf("got %v, %v; want %s", got, err, c.code)
				}
				return
			}
			if err != nil || !slices.Equal(got.IDs(), c.want) {
				t.Fatalf("got %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

func TestDefaultAllowedWithPartners(t *testing.T) {
	dep := partnerDeployment()
	cases := []struct {
		name, home, channel string
		plan                bool
		want                string
		code                string
	}{
		{name: "direct: home alone", home: "us-west", channel: "direct", plan: true, want: "us-west"},
		{name: "partner's customer: the partner's regions", home: "cn-lotus", channel: lotus, plan: true, want: "cn-lotus,jp-lotus"},
		{name: "partner's customer homed in a public region: that and the partner's", home: "us-west", channel: lotus, plan: true,
			want: "cn-lotus,jp-lotus,us-west"},
		{name: "partner's customer on a free plan: home alone", home: "cn-lotus", channel: lotus, want: "cn-lotus"},
		{name: "direct account homed in a partner's region: none", home: "cn-lotus", channel: "direct", plan: true, code: CodePartnerRegion},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DefaultAllowed(dep, c.home, c.channel, c.plan, nil)
			if c.code != "" {
				if code, _, _ := CodeOf(err); code != c.code {
					t.Fatalf("got %v, %v; want %s", got, err, c.code)
				}
				return
			}
			if err != nil || got.String() != c.want {
				t.Fatalf("got %v, %v; want %s", got, err, c.want)
			}
		})
	}
	// A partner's region of another jurisdiction that is opt-in needs the opt-in, as any.
	optIn := partnerDeployment()
	optIn.Regions[5].OptIn = true // jp-lotus
	if got, err := DefaultAllowed(optIn, "cn-lotus", lotus, true, nil); err != nil || got.String() != "cn-lotus" {
		t.Fatalf("opt-in partner region not turned on: %v, %v", got, err)
	}
	if got, err := DefaultAllowed(optIn, "cn-lotus", lotus, true, map[string]bool{"jp-lotus": true}); err != nil || got.String() != "cn-lotus,jp-lotus" {
		t.Fatalf("opt-in partner region turned on: %v, %v", got, err)
	}
}

func TestHomeWithPartners(t *testing.T) {
	dep := partnerDeployment()
	ids := func(rs []Region) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	// The public sign-up (direct) never sees a partner's region.
	if got := ids(HomeChoices(dep, "CN")); got != "cn-north,eu-central,us-east,us-west" {
		t.Errorf("direct CN: %s", got)
	}
	if got := ids(HomeChoicesFor(dep, lotus, "CN")); got != "cn-lotus,cn-north,eu-central,jp-lotus,us-east,us-west" {
		t.Errorf("lotus-bridge CN: %s", got)
	}
	cases := []struct {
		name, channel, j string
		loc              *LatLng
		want             string
	}{
		{name: "direct from CN: the operator's CN region, not the nearer partner's", channel: "direct", j: "CN", loc: &LatLng{39.9, 116.3}, want: "cn-north"},
		{name: "direct from JP: never the partner's JP region", channel: "direct", j: "JP", loc: &LatLng{35.7, 139.7}, want: "us-west"},
		{name: "direct, unknown: first public by id", channel: "direct", want: "eu-central"},
		{name: "partner's customer from CN: the partner's CN region", channel: lotus, j: "CN", want: "cn-lotus"},
		{name: "partner's customer from JP: the partner's JP region", channel: lotus, j: "JP", loc: beijing, want: "jp-lotus"},
		{name: "partner's customer from the US: the nearest partner region", channel: lotus, j: "US", loc: oregon, want: "jp-lotus"},
		{name: "partner's customer, unknown: the partner's first by id", channel: lotus, want: "cn-lotus"},
		{name: "a partner without regions: as direct", channel: "acme-resell", j: "US", loc: oregon, want: "us-west"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DefaultHomeFor(dep, c.channel, c.j, c.loc)
			if err != nil || got.ID != c.want {
				t.Fatalf("got %s, %v; want %s", got.ID, err, c.want)
			}
			if !slices.ContainsFunc(HomeChoicesFor(dep, c.channel, c.j), func(r Region) bool { return r.ID == got.ID }) {
				t.Errorf("%s is not among HomeChoicesFor", got.ID)
			}
		})
	}
	if got, err := DefaultHome(dep, "JP", &LatLng{35.7, 139.7}); err != nil || got.Partner != "" {
		t.Errorf("DefaultHome from JP: %s, %v; want an operator's region", got.ID, err)
	}
	onlyPartner := Deployment{Regions: []Region{{ID: "cn-lotus", Jurisdiction: "CN", Name: "Lotus", Partner: lotus}}}
	if _, err := DefaultHome(onlyPartner, "CN", nil); !errors.Is(err, ErrNoHomeRegion) {
		t.Errorf("only a partner's region, direct sign-up: %v; want no_home_region", err)
	}
}

// Place never puts a meeting on a partner's region unless its account is the partner's,
// even when that region is nearest and the only one with room, and refuses an allowed set
// that names one for anyone else.
func TestPlaceWithPartners(t *testing.T) {
	dep := partnerDeployment()
	fp := dep.Fingerprint()
	mk := func(id, region string, opts ...func(*NodeInfo)) NodeInfo {
		n := node(id, region, opts...)
		n.Fingerprint = fp
		return n
	}
	nodes := []NodeInfo{mk("w1", "us-west", full), mk("l1", "cn-lotus"), mk("j1", "jp-lotus"), mk("n1", "cn-north")}
	cases := []struct {
		name    string
		allowed []string
		channel string
		carrier string
		from    Origin
		want    string
		tried   []string
	}{
		{name: "direct: the public region full, the partner's never tried", allowed: []string{"us-west"}, channel: "direct",
			from: Origin{Location: beijing}, tried: []string{"us-west:all_full"}},
		{name: "direct with a partner's region in its set: refused whole (fail closed)", allowed: []string{"cn-lotus", "cn-north", "us-west"},
			channel: "direct", from: Origin{Location: beijing}, tried: []string{"cn-lotus:partner_region"}},
		{name: "no channel counts as direct", allowed: []string{"cn-lotus", "us-west"},
			from: Origin{Location: beijing}, tried: []string{"cn-lotus:partner_region"}},
		{name: "another partner's customer", allowed: []string{"cn-lotus", "us-west"}, channel: "jade-harbor",
			from: Origin{Location: beijing}, tried: []string{"cn-lotus:partner_region"}},
		{name: "a direct meeting whose carrier is a partner node: refused, not kept there", allowed: []string{"cn-lotus", "us-west"},
			channel: "direct", carrier: "l1", tried: []string{"cn-lotus:partner_region"}},
		{name: "the partner's customer: the nearest partner region", allowed: []string{"cn-lotus", "jp-lotus"}, channel: lotus,
			from: Origin{Location: beijing}, want: "l1"},
		{name: "the partner's customer allowing a public region too", allowed: []string{"cn-lotus", "cn-north", "us-west"}, channel: lotus,
			from: Origin{Location: &LatLng{39.9, 116.5}}, want: "n1"},
		{name: "the partner's customer sticks to its carrier", allowed: []string{"cn-lotus", "jp-lotus"}, channel: lotus,
			carrier: "j1", from: Origin{Location: beijing}, want: "j1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			allowed, err := NewAllowedSet(c.allowed...)
			if err != nil {
				t.Fatal(err)
			}
			in := PlacementInput{Deployment: dep, Fingerprint: fp, Nodes: nodes, Now: testNow, Allowed: allowed,
				Carrier: c.carrier, From: c.from, Channel: c.channel}
			got, err := Place(in)
			checkNeverSpills(t, in, got, err)
			if err == nil {
				if r, _ := dep.Lookup(got.Node.Region); !r.Serves(c.channel) {
					t.Fatalf("placed on %s of %s, run by %s, for channel %q", got.Node.ID, r.ID, r.Partner, c.channel)
				}
			}
			if c.tried != nil {
				var r *Refusal
				if !errors.As(err, &r) {
					t.Fatalf("got %s, %v; want a refusal", got.Node.ID, err)
				}
				if tried := triedOf(r); !slices.Equal(tried, c.tried) {
					t.Errorf("tried %v; want %v", tried, c.tried)
				}
				return
			}
			if err != nil || got.Node.ID != c.want {
				t.Fatalf("got %s, %v; want %s", got.Node.ID, err, c.want)
			}
		})
	}
}
