//go:build linux

package regiontest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meridian-video/meridian/internal/netlab"
	"github.com/meridian-video/meridian/internal/store"
)

// busUser is the user name the embedded NATS server gives its clients with the bus
// secret (internal/bus).
const busUser = "meridian"

// hostDialer opens the NATS client's connections from inside a host.
type hostDialer struct{ h *netlab.Host }

func (d hostDialer) Dial(network, addr string) (net.Conn, error) {
	return d.h.DialContext(context.Background(), network, addr)
}

// busClient connects to n's embedded NATS server as a client, from inside n's host, with
// the bus secret, as a node does; the connection is closed when t ends.
func busClient(t *testing.T, n *netlab.Node, secret string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(fmt.Sprintf("nats://%s:%d", n.Host.Addr, busClientPort),
		nats.UserInfo(busUser, secret), nats.SetCustomDialer(hostDialer{n.Host}), nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect to the bus of %s: %v", n.Host.Name, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// waitReplicated waits until every region's view of the directory (each bucket that
// sources the others) holds the account fact of every id. In a new supercluster a view
// may start sourcing another region's bucket only after JetStream's retries, tens of
// seconds after the buckets were made. Until then a node does not find a session homed
// elsewhere and answers it itself, 401, clearing the session cookie as for any session it
// does not know; the API is not the probe, since a browser would be signed out by it.
func waitReplicated(t *testing.T, ctx context.Context, d *deployment, ids []string) {
	t.Helper()
	js := busClient(t, d.nodes["us-west"], d.busSecret)
	var views []jetstream.KeyValue
	for name := range js.StreamNames(ctx).Name() {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if bucket, ok := strings.CutPrefix(name, "KV_"); ok && len(s.CachedInfo().Config.Sources) > 0 {
			kv, err := js.KeyValue(ctx, bucket)
			if err != nil {
				t.Fatalf("bucket %s: %v", bucket, err)
			}
			views = append(views, kv)
		}
	}
	if len(views) != len(d.nodes) {
		t.Fatalf("%d directory views, want one per region (%d)", len(views), len(d.nodes))
	}
	start := time.Now()
	for _, kv := range views {
		for _, id := range ids {
			for {
				_, err := kv.Get(ctx, "account."+id)
				if err == nil {
					break
				}
				if !errors.Is(err, jetstream.ErrKeyNotFound) || ctx.Err() != nil {
					t.Fatalf("%s never held account %s: %v (after %v)", kv.Bucket(), id, err, time.Since(start).Round(time.Millisecond))
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	t.Logf("every view held every account after %v", time.Since(start).Round(time.Millisecond))
}

// scanDirectory connects to a node's embedded NATS server as a client, with the bus
// secret, as any node does, and reads every message of every JetStream stream of the
// supercluster (the directory's buckets and views, the registry): no stream name, subject
// or payload may hold anyone's address, name, topic or chat. Every meeting's routing fact
// must be among them, so the scan is known to have read the directory.
func scanDirectory(t *testing.T, ctx context.Context, d *deployment, residents []*resident) {
	t.Helper()
	var forbidden []string
	for _, r := range residents {
		forbidden = append(forbidden, r.personal()...)
	}
	js := busClient(t, d.nodes["cn-north"], d.busSecret)
	names := js.StreamNames(ctx)
	var subjects strings.Builder
	scanned, streams := 0, 0
	for name := range names.Name() {
		streams++
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				t.Fatalf("%s #%d: %v", name, seq, err)
			}
			scanned++
			subjects.WriteString(m.Subject + "\n")
			for _, text := range []string{name, m.Subject, string(m.Data)} {
				if f := findAny([]byte(text), forbidden); f != "" {
					t.Errorf("the directory's stream %s holds %q: %q", name, f, text)
				}
			}
		}
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	for _, r := range residents {
		if !strings.Contains(subjects.String(), ".meeting."+r.meetingID+"\n") {
			t.Errorf("no stream holds the routing fact of %s's meeting %s: the scan missed the directory", r.region, r.meetingID)
		}
	}
	t.Logf("scanned %d messages of %d streams through the CN node's bus", scanned, streams)
}

// checkStore opens the SQLite store of r's region from its stopped node's data directory,
// read-only: every row of every table with a region column is of that region; its users,
// accounts and meetings are exactly r's. Then every file of the data directory, read as
// bytes (the database, its WAL if one is left, the JetStream store, the outbox), holds
// nothing of another region's residents, nor any chat; the database does hold r's own
// addresses, so the scan can see.
func checkStore(t *testing.T, n *netlab.Node, r *resident, all []*resident) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(n.DataDir, store.SQLiteFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables := queryStrings(t, db, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	var withRegion []string
	for _, table := range tables {
		cols := queryStrings(t, db, `SELECT name FROM pragma_table_info(?)`, table)
		if !slices.Contains(cols, "region") {
			continue
		}
		withRegion = append(withRegion, table)
		var other, total int
		if err := db.QueryRow(`SELECT count(*), coalesce(sum(region <> ?), 0) FROM "`+table+`"`, r.region).Scan(&total, &other); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if other != 0 {
			t.Errorf("%s's store: %d of the %d rows of %s are of another region", r.region, other, total, table)
		}
	}
	for _, table := range []string{"accounts", "users", "sessions", "meetings", "audit_log"} {
		if !slices.Contains(withRegion, table) {
			t.Errorf("%s's store: table %s has no region column (tables with one: %v)", r.region, table, withRegion)
		}
	}
	emails := []string{store.NormalizeEmail(r.member.email), store.NormalizeEmail(r.owner.email)}
	slices.Sort(emails)
	names := []string{r.member.accountName, r.owner.accountName}
	slices.Sort(names)
	for _, c := range []struct {
		query string
		want  []string
	}{
		{`SELECT email FROM users ORDER BY email`, emails},
		{`SELECT name FROM accounts ORDER BY name`, names},
		{`SELECT topic FROM meetings ORDER BY topic`, []string{r.topic}},
	} {
		if got := queryStrings(t, db, c.query); !slices.Equal(got, c.want) {
			t.Errorf("%s's store: %s: %q, want %q", r.region, c.query, got, c.want)
		}
	}

	var forbidden []string
	for _, other := range all {
		if other != r {
			forbidden = append(forbidden, other.personal()...)
		}
		forbidden = append(forbidden, other.chat)
	}
	var dbBytes, natsBytes []byte
	files := 0
	err = filepath.WalkDir(n.DataDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		rel, _ := filepath.Rel(n.DataDir, path)
		if strings.HasPrefix(rel, store.SQLiteFile) {
			dbBytes = append(dbBytes, b...)
		}
		mine := forbidden
		if strings.HasPrefix(rel, "nats"+string(filepath.Separator)) {
			natsBytes = append(natsBytes, b...)
			// The JetStream store is the directory's: not even the region's own data.
			mine = append(slices.Clone(forbidden), r.personal()...)
		}
		if f := findAny(b, mine); f != "" {
			t.Errorf("%s's data directory: %s holds %q", r.region, rel, f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range emails {
		if !bytes.Contains(dbBytes, []byte(e)) {
			t.Errorf("%s's database files do not hold its own user %s as bytes: the raw scan cannot see", r.region, e)
		}
	}
	// The region's bucket of the directory is in its node's JetStream store: the routing
	// fact of its meeting is there, as bytes.
	if !bytes.Contains(natsBytes, []byte("meeting."+r.meetingID)) {
		t.Errorf("%s's JetStream store does not hold its meeting's routing fact %s as bytes: the raw scan cannot see", r.region, r.meetingID)
	}
	t.Logf("%s: tables with a region column %v; scanned %d files", r.region, withRegion, files)
}

func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// findAny returns the first of needles found in b, case folded, or "".
func findAny(b []byte, needles []string) string {
	lower := bytes.ToLower(b)
	for _, s := range needles {
		if bytes.Contains(lower, []byte(strings.ToLower(s))) {
			return s
		}
	}
	return ""
}
