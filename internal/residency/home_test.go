package residency

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meridian-video/meridian/internal/topology"
)

func TestMeetingIDOfJoin(t *testing.T) {
	mac := strings.Repeat("x", 43)
	cases := []struct {
		b    body
		want string
	}{
		{body{MeetingID: "123 4567 8901"}, "12345678901"},
		{body{LinkToken: "12345678901" + mac}, "12345678901"},
		{body{LinkToken: "https://meet.example/j/12345678901" + mac}, "12345678901"},
		{body{LinkToken: "12345678901" + mac, MeetingID: "99999999999"}, "12345678901"}, // the link wins, as in the API
		{body{LinkToken: "1234"}, ""},
		{body{LinkToken: "1234 5678 901" + mac}, ""}, // a link is spelled one way
		{body{MeetingID: "not a meeting"}, ""},
		{body{}, ""},
	}
	for _, c := range cases {
		id, ok := meetingID(c.b)
		if ok != (c.want != "") || (ok && id != c.want) {
			t.Errorf("%+v: %q %v, want %q", c.b, id, ok, c.want)
		}
	}
}

func TestReadBodyLeavesItForTheAPI(t *testing.T) {
	in := `{"email":"a@example.test","password":"pw","extra":1}`
	r := httptest.NewRequest("POST", "/api/signin", strings.NewReader(in))
	b, raw := readBody(r)
	if b.Email != "a@example.test" || len(raw) != 3 {
		t.Fatalf("read %+v %v", b, raw)
	}
	if got, _ := io.ReadAll(r.Body); string(got) != in {
		t.Fatalf("left %q", got)
	}
	// Too large: decoded as nothing, and passed on whole for the API to refuse.
	big := bytes.Repeat([]byte(" "), maxBody+10)
	r = httptest.NewRequest("POST", "/api/signin", bytes.NewReader(big))
	if b, raw := readBody(r); b != (body{}) || raw != nil {
		t.Fatalf("large body read as %+v", b)
	}
	if got, _ := io.ReadAll(r.Body); len(got) != len(big) {
		t.Fatalf("left %d bytes of %d", len(got), len(big))
	}
}

// A sign-up asking for a partner's region as home is answered (refused) where it came in:
// its personal data never goes to the partner's data center. An operator's region is
// forwarded to as before.
func TestSignUpIsNotForwardedToAPartnersRegion(t *testing.T) {
	dep := topology.Deployment{Regions: []topology.Region{
		{ID: "us-west", Jurisdiction: "US", Name: "US West", Location: topology.LatLng{Lat: 45.6, Lng: -121.2}},
		{ID: "cn-north", Jurisdiction: "CN", Name: "CN North", Location: topology.LatLng{Lat: 39.9, Lng: 116.4}},
		{ID: "cn-lotus", Jurisdiction: "CN", Name: "Lotus Bridge", Location: topology.LatLng{Lat: 39.9, Lng: 116.3}, Partner: "lotus-bridge"},
	}}
	f := &Forwarder{cfg: Config{Deployment: dep, Region: "us-west"}}
	r := httptest.NewRequest("POST", "/api/signup", nil)
	for _, c := range []struct {
		b    body
		want string
	}{
		{body{HomeRegion: "cn-lotus"}, ""},
		{body{HomeRegion: "cn-north"}, "cn-north"},
		{body{Jurisdiction: "CN"}, "cn-north"}, // the proposal is never the partner's nearer region
	} {
		raw := map[string]json.RawMessage{}
		if got := f.signUpHome(r, c.b, raw); got != c.want {
			t.Errorf("%+v: forwarded to %q, want %q", c.b, got, c.want)
		}
	}
}
