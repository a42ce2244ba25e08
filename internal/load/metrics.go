package load

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// metricsURL is the server's /metrics address from its base or signalling URL.
func metricsURL(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path, u.RawQuery, u.Fragment = "/metrics", "", ""
	return u.String()
}

type serverMetrics struct {
	nacks, retransmits, packetsIn, packetsOut float64
	forward                                   []bucket // meridian_sfu_forward_seconds, by upper bound
}

// bucket is one cumulative bucket of a Prometheus histogram.
type bucket struct{ le, count float64 }

// forwardBuckets parses a bucket line of meridian_sfu_forward_seconds, whose labels are
// {le="0.001"}.
func forwardBucket(name, val string) (bucket, bool) {
	labels, ok := strings.CutPrefix(name, "meridian_sfu_forward_seconds_bucket{le=\"")
	if !ok {
		return bucket{}, false
	}
	le, err1 := strconv.ParseFloat(strings.TrimSuffix(labels, "\"}"), 64)
	n, err2 := strconv.ParseFloat(strings.TrimSpace(val), 64)
	if err1 != nil || err2 != nil {
		return bucket{}, false
	}
	return bucket{le: le, count: n}, true
}

// forwardPercentiles reads percentiles from the difference of two snapshots of the
// server's forwarding histogram; each is the upper bound of its bucket, in milliseconds, or
// nil when it lies beyond the largest bucket.
func forwardPercentiles(before, after []bucket) *BucketPercentiles {
	if len(before) != len(after) || len(after) == 0 {
		return nil
	}
	total := after[len(after)-1].count - before[len(before)-1].count
	if total <= 0 {
		return nil
	}
	at := func(p float64) *float64 {
		rank := math.Ceil(p / 100 * total)
		for i := range after {
			if after[i].count-before[i].count >= rank && !math.IsInf(after[i].le, 1) {
				v := after[i].le * 1000
				return &v
			}
		}
		return nil
	}
	return &BucketPercentiles{P50: at(50), P95: at(95), P99: at(99), Samples: int64(total)}
}

// readMetrics reads the SFU's counters from the Prometheus text exposition.
func readMetrics(ctx context.Context, u string) (serverMetrics, error) {
	var m serverMetrics
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return m, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if b, ok := forwardBucket(name, val); ok {
			m.forward = append(m.forward, b)
			continue
		}
		var dst *float64
		switch name {
		case "meridian_sfu_nacks_total":
			dst = &m.nacks
		case "meridian_sfu_retransmits_total":
			// Not counted in found: optional, for reading older servers.
			if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
				m.retransmits = f
			}
			continue
		case "meridian_sfu_packets_in_total":
			dst = &m.packetsIn
		case "meridian_sfu_packets_out_total":
			dst = &m.packetsOut
		default:
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return m, fmt.Errorf("metric %s: %w", name, err)
		}
		*dst = f
		found++
	}
	if err := sc.Err(); err != nil {
		return m, err
	}
	if found < 3 {
		return m, fmt.Errorf("GET %s: meridian_sfu_nacks_total, meridian_sfu_packets_in_total or meridian_sfu_packets_out_total missing", u)
	}
	slices.SortFunc(m.forward, func(a, b bucket) int { return cmp.Compare(a.le, b.le) })
	return m, nil
}

type procSample struct {
	ticks   int64 // utime + stime, in clock ticks
	peakRSS int64 // bytes
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func (p procSample) seconds() float64 { return float64(p.ticks) / clockTicks }

// machineBusy reads the clock ticks every CPU of the machine has spent on anything but
// idling or waiting for I/O, from the first line of /proc/stat.
func machineBusy() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: malformed")
	}
	var busy int64
	// user nice system idle iowait irq softirq steal: all but idle (4) and iowait (5).
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += n
	}
	return busy, nil
}

// procCPU reads a process's CPU time from /proc/PID/stat and its peak RSS (VmHWM) from
// /proc/PID/status; pid 0 reads nothing.
func procCPU(pid int) (procSample, error) {
	var s procSample
	if pid == 0 {
		return s, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name, field 2, is in parentheses and may hold spaces: count from after it.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	s.ticks = ut + st
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return s, fmt.Errorf("/proc/%d/status VmHWM: %w", pid, err)
			}
			s.peakRSS = kb * 1024
		}
	}
	return s, nil
}
