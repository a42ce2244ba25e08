package topology

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestNodeInfoValidate(t *testing.T) {
	good := NodeInfo{ID: "us-west-1", Region: "us-west", HTTPURL: "https://us-west-1.meet.example",
		SignalURL: "wss://us-west-1.meet.example/ws", MediaAddrs: []string{"203.0.113.7:50000", "[2001:db8::7]:50000"},
		Capacity: 500, Load: 12, Fingerprint: Default().Fingerprint(), Seen: testNow}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*NodeInfo){
		"id":                  func(n *NodeInfo) { n.ID = "" },
		"id with a dot":       func(n *NodeInfo) { n.ID = "us.west" },
		"id upper-case":       func(n *NodeInfo) { n.ID = "Node1" },
		"id too long":         func(n *NodeInfo) { n.ID = strings.Repeat("a", 65) },
		"id leading dash":     func(n *NodeInfo) { n.ID = "-a" },
		"region":              func(n *NodeInfo) { n.Region = "US" },
		"http_url scheme":     func(n *NodeInfo) { n.HTTPURL = "ftp://x.example" },
		"http_url host":       func(n *NodeInfo) { n.HTTPURL = "https:///path" },
		"http_url user":       func(n *NodeInfo) { n.HTTPURL = "https://u:p@x.example" },
		"http_url query":      func(n *NodeInfo) { n.HTTPURL = "https://x.example/?a=1" },
		"signal_url scheme":   func(n *NodeInfo) { n.SignalURL = "https://x.example/ws" },
		"signal_url fragment": func(n *NodeInfo) { n.SignalURL = "wss://x.example/ws#a" },
		"media_addrs port":    func(n *NodeInfo) { n.MediaAddrs = []string{"203.0.113.7:0"} },
		"media_addrs no port": func(n *NodeInfo) { n.MediaAddrs = []string{"203.0.113.7"} },
		"media_addrs host":    func(n *NodeInfo) { n.MediaAddrs = []string{":50000"} },
		"media_addrs many":    func(n *NodeInfo) { n.MediaAddrs = make([]string, 17) },
		"capacity":            func(n *NodeInfo) { n.Capacity = 0 },
		"load":                func(n *NodeInfo) { n.Load = -1 },
		"fingerprint":         func(n *NodeInfo) { n.Fingerprint = strings.ToUpper(n.Fingerprint) },
	}
	for name, change := range cases {
		n := good
		change(&n)
		field, _, _ := strings.Cut(name, " ")
		err := n.Validate()
		if err == nil || !strings.Contains(err.Error(), "node "+field+":") {
			t.Errorf("%s: got %v; want an error naming %s", name, err, field)
		}
	}
}

func TestNodeInfoUp(t *testing.T) {
	n := NodeInfo{Seen: testNow}
	for _, c := range []struct {
		now       time.Time
		downAfter time.Duration
		up        bool
	}{
		{testNow.Add(2999 * time.Millisecond), 0, true},
		{testNow.Add(3 * time.Second), 0, false},
		{testNow.Add(3 * time.Second), 5 * time.Second, true},
		{testNow.Add(-3 * time.Second), 0, false},
	} {
		if got := n.Up(c.now, c.downAfter); got != c.up {
			t.Errorf("seen %v before %v, down after %v: up=%v", c.now.Sub(testNow), c.now, c.downAfter, got)
		}
	}
	if (NodeInfo{}).Up(testNow, 0) {
		t.Error("a node never seen is up")
	}
}

func TestNodeInfoJSON(t *testing.T) {
	n := NodeInfo{ID: "n1", Region: "us-west", HTTPURL: "https://n1.example", SignalURL: "wss://n1.example/ws",
		Capacity: 5, Load: 1, Draining: true, Fingerprint: Default().Fingerprint(), Seen: testNow.Add(time.Second)}
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"id":`, `"region":`, `"http_url":`, `"signal_url":`, `"capacity":`, `"load":`, `"draining":`, `"fingerprint":`, `"seen":`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("%s lacks %s", b, key)
		}
	}
	var back NodeInfo
	if err := json.Unmarshal(b, &back); err != nil || !back.Seen.Equal(n.Seen) || back.ID != n.ID || !back.Draining {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
