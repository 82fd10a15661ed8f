package signature

import (
	"errors"
	"testing"
	"time"
)

// TestParseISOUTC checks the zone-optional ISO 8601 unit (Orb): a zone is
// honoured, its absence means UTC, and anything else is malformed.
func TestParseISOUTC(t *testing.T) {
	want := time.Date(2024, 3, 27, 15, 42, 29, 551e6, time.UTC)
	for _, tc := range []struct {
		in  string
		ok  bool
		off time.Duration
	}{
		{"2024-03-27T15:42:29.551", true, 0},
		{"2024-03-27T15:42:29.551Z", true, 0},
		{"2024-03-27T17:42:29.551+02:00", true, 0},
		{"2024-03-27T15:42:29", true, -551 * time.Millisecond},
		{"2024-03-27 15:42:29.551", false, 0},
		{"1711554149", false, 0},
		{"", false, 0},
	} {
		got, err := parseTimestamp(tc.in, tsISOUTC)
		if !tc.ok {
			if !errors.Is(err, ErrMalformedTimestamp) {
				t.Errorf("%q: err = %v, want ErrMalformedTimestamp", tc.in, err)
			}
			continue
		}
		if err != nil || !got.Equal(want.Add(tc.off)) {
			t.Errorf("%q: got %v, %v", tc.in, got, err)
		}
	}
	if _, err := parseTimestamp("2024-03-27T15:42:29.551", tsRFC3339); !errors.Is(err, ErrMalformedTimestamp) {
		t.Errorf("RFC 3339 accepted a date-time without a zone: %v", err)
	}
	if got := formatTimestamp(want, tsISOUTC); got != "2024-03-27T15:42:29.551" {
		t.Errorf("formatTimestamp = %q", got)
	}
}
