package meeting

import (
	"slices"
	"time"
)

// Recurrences a scheduled meeting may have. Occurrences keep the first one's wall-clock
// time in the meeting's time zone, so a weekly 09:00 meeting stays at 09:00 across a
// daylight-saving change.
const (
	Daily    = "daily"
	Weekdays = "weekdays" // Monday to Friday
	Weekly   = "weekly"
	Biweekly = "biweekly"
	Monthly  = "monthly" // the same day of the month; a day the month lacks rolls over (31 -> 1)
)

// Recurrences lists every recurrence a meeting may have.
var Recurrences = []string{Daily, Weekdays, Weekly, Biweekly, Monthly}

func validRecurrence(r string) bool { return r == "" || slices.Contains(Recurrences, r) }

// maxOccurrenceSteps bounds the walk through a recurring meeting's occurrences (some 27
// years of daily meetings).
const maxOccurrenceSteps = 10_000

// NextStart is when the meeting's next occurrence starts: the first whose end (start plus
// duration) is after now. For a meeting that does not recur it is StartsAt, past or not;
// for an instant meeting (no StartsAt) it is zero. It is a pure function of its arguments.
func NextStart(m Meeting, now time.Time) time.Time {
	if m.StartsAt.IsZero() || m.Recurrence == "" || !validRecurrence(m.Recurrence) {
		return m.StartsAt
	}
	loc, err := time.LoadLocation(m.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	first := m.StartsAt.In(loc)
	dur := time.Duration(m.DurationMinutes) * time.Minute
	for k := 0; k < maxOccurrenceSteps; k++ {
		t := occurrence(first, m.Recurrence, k)
		if t.IsZero() {
			continue
		}
		if t.Add(dur).After(now) {
			return t.UTC()
		}
	}
	return time.Time{}
}

// occurrence is the k-th occurrence after first (k = 0 is first itself), counted from
// first so that no rounding accumulates; zero when step k is no occurrence (a weekend day
// of a weekdays meeting).
func occurrence(first time.Time, rec string, k int) time.Time {
	switch rec {
	case Daily:
		return first.AddDate(0, 0, k)
	case Weekdays:
		t := first.AddDate(0, 0, k)
		if t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
			return time.Time{}
		}
		return t
	case Weekly:
		return first.AddDate(0, 0, 7*k)
	case Biweekly:
		return first.AddDate(0, 0, 14*k)
	case Monthly:
		return first.AddDate(0, k, 0)
	}
	if k == 0 {
		return first
	}
	return time.Time{}
}
