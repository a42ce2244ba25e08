package residency

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
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
