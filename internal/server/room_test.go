package server_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/meridian-video/meridian/client"
)

// orderCheck records, per received track, whether packets arrived in sequence and intact.
type orderCheck struct {
	mu        sync.Mutex
	reordered map[string]int
	noMarker  map[string]int
}

func (o *orderCheck) watch(owner string) func(*client.RemoteTrack) {
	return func(rt *client.RemoteTrack) {
		key := owner + "<-" + rt.Info.ParticipantID + "/" + rt.Info.Kind
		var last uint16
		var started bool
		rt.SetHandler(func(p *rtp.Packet) {
			o.mu.Lock()
			defer o.mu.Unlock()
			if started && int16(p.SequenceNumber-last) <= 0 {
				o.reordered[key]++
			}
			if _, ok := client.ParseMarker(p.Payload); !ok {
				o.noMarker[key]++
			}
			started, last = true, p.SequenceNumber
		})
	}
}

// runRoom has n participants each publish camera and microphone, and checks that every
// participant receives every other's tracks in order, intact and without loss.
func runRoom(t *testing.T, n int, videoBitrate int, dur time.Duration) {
	srv := startServer(t)
	ctx, cancel := testContext(t)
	defer cancel()
	check := &orderCheck{reordered: map[string]int{}, noMarker: map[string]int{}}
	clients := make([]*client.Client, n)
	for i := range clients {
		id := fmt.Sprintf("p%d", i)
		clients[i] = join(t, ctx, srv, "room", id, pubSub, client.Options{OnTrack: check.watch(id)})
	}
	for _, c := range clients {
		publishAV(t, ctx, c, videoBitrate)
	}
	want := 2 * (n - 1)
	eventually(t, 20*time.Second, "every participant to receive every track", func() bool {
		for _, c := range clients {
			got := 0
			for _, rt := range c.RemoteTracks() {
				if rt.Stats().Packets > 0 {
					got++
				}
			}
			if got < want {
				return false
			}
		}
		return true
	})
	time.Sleep(dur)
	cancel()
	time.Sleep(300 * time.Millisecond) // let the last packets land

	for i, c := range clients {
		tracks := c.RemoteTracks()
		if len(tracks) != want {
			t.Errorf("p%d receives %d tracks, want %d", i, len(tracks), want)
		}
		from := map[string]int{}
		for _, rt := range tracks {
			st := rt.Stats()
			from[rt.Info.ParticipantID]++
			if rt.Info.ParticipantID == c.Self().ID {
				t.Errorf("p%d receives its own track", i)
			}
			min := int64(dur / (100 * time.Millisecond)) // both kinds send 30-50 packets/s; a loaded machine sends fewer
			if st.Packets < min {
				t.Errorf("p%d <- %s %s: %d packets, want at least %d", i, rt.Info.ParticipantID, rt.Info.Kind, st.Packets, min)
			}
			if st.Lost() != 0 || st.Corrupt != 0 || st.Duplicates != 0 {
				t.Errorf("p%d <- %s %s: lost %d corrupt %d duplicates %d of %d", i, rt.Info.ParticipantID, rt.Info.Kind, st.Lost(), st.Corrupt, st.Duplicates, st.Packets)
			}
		}
		if len(from) != n-1 {
			t.Errorf("p%d receives from %d participants, want %d", i, len(from), n-1)
		}
	}
	// Every subscriber connection took the SFU's own SRTP send path: the packets checked
	// above were sealed by it, not by pion.
	if direct := metricValue(t, srv, `meridian_sfu_subscriber_connections_total{path="direct"}`); direct != float64(n) {
		t.Errorf("%v of %d subscriber connections on the direct send path", direct, n)
	}
	if taken := metricValue(t, srv, `meridian_sfu_subscriber_rtcp_packets_total{path="direct"}`); taken == 0 {
		t.Error("no subscriber RTCP was taken off the media socket by the direct path")
	}
	check.mu.Lock()
	defer check.mu.Unlock()
	for k, v := range check.reordered {
		t.Errorf("%s: %d packets out of order", k, v)
	}
	for k, v := range check.noMarker {
		t.Errorf("%s: %d payloads altered", k, v)
	}
}

func TestRoomOfTwo(t *testing.T) { runRoom(t, 2, 1_000_000, 2*time.Second) }

func TestRoomOfTen(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	bitrate := 300_000
	if raceEnabled {
		bitrate = 100_000
	}
	runRoom(t, 10, bitrate, 2*time.Second)
}
