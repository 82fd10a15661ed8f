package signature

import (
	"fmt"
	"strconv"
	"time"
)

// tsUnit is the unit of a scheme's timestamp.
type tsUnit uint8

const (
	tsNone tsUnit = iota
	tsSeconds
	tsMillis
	// tsRFC3339 is an RFC 3339 (ISO 8601) date-time with a zone, such as
	// "2024-05-01T12:00:00.123Z" (Twitch, Box, Zendesk).
	tsRFC3339
	// tsISOUTC is an ISO 8601 date-time whose zone may be left out, and is
	// then UTC, such as "2024-03-27T15:42:29.551" (Orb).
	tsISOUTC
)

// isoNoZone is the layout of a tsISOUTC timestamp sent without a zone.
const isoNoZone = "2006-01-02T15:04:05.999999999"

// String names the unit for the presets table.
func (u tsUnit) String() string {
	switch u {
	case tsSeconds:
		return "s"
	case tsMillis:
		return "ms"
	case tsRFC3339:
		return "RFC 3339"
	case tsISOUTC:
		return "ISO 8601, UTC if no zone"
	default:
		return ""
	}
}

// maxTimestampSeconds bounds accepted timestamps (about year 31.7 million):
// far beyond any real clock, so a milliseconds value sent to a seconds
// scheme is still parsed and then rejected as stale, yet small enough that
// time arithmetic cannot overflow.
const maxTimestampSeconds = 1e15

// parseTimestamp parses a canonical decimal timestamp in the given unit:
// ASCII digits only, no sign, no leading zero, no whitespace, no exponent,
// no base prefix; or, for tsRFC3339, an RFC 3339 date-time; or, for
// tsISOUTC, that or the same without a zone, read as UTC. Anything else
// is ErrMalformedTimestamp.
func parseTimestamp(s string, unit tsUnit) (time.Time, error) {
	if unit == tsRFC3339 || unit == tsISOUTC {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil && unit == tsISOUTC {
			t, err = time.Parse(isoNoZone, s)
		}
		if err != nil || len(s) > 64 {
			return time.Time{}, fmt.Errorf("%w: not an RFC 3339 or ISO 8601 date-time", ErrMalformedTimestamp)
		}
		return t, nil
	}
	if s == "" || len(s) > 19 {
		return time.Time{}, fmt.Errorf("%w: want 1 to 19 decimal digits", ErrMalformedTimestamp)
	}
	if len(s) > 1 && s[0] == '0' {
		return time.Time{}, fmt.Errorf("%w: leading zero", ErrMalformedTimestamp)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, fmt.Errorf("%w: not a plain decimal integer", ErrMalformedTimestamp)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: out of range", ErrMalformedTimestamp)
	}
	if unit == tsMillis {
		if n > maxTimestampSeconds*1000 {
			return time.Time{}, fmt.Errorf("%w: out of range", ErrMalformedTimestamp)
		}
		return time.UnixMilli(n), nil
	}
	if n > maxTimestampSeconds {
		return time.Time{}, fmt.Errorf("%w: out of range", ErrMalformedTimestamp)
	}
	return time.Unix(n, 0), nil
}

// formatTimestamp renders t in the unit, as Sign writes it.
func formatTimestamp(t time.Time, unit tsUnit) string {
	switch unit {
	case tsMillis:
		return strconv.FormatInt(t.UnixMilli(), 10)
	case tsRFC3339:
		return t.UTC().Format(time.RFC3339)
	case tsISOUTC:
		return t.UTC().Format("2006-01-02T15:04:05.000")
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// checkTolerance reports ErrStaleTimestamp unless |now-ts| <= tolerance.
func checkTolerance(ts, now time.Time, tolerance time.Duration) error {
	d := now.Sub(ts) // saturates instead of overflowing
	switch {
	case d > tolerance:
		return fmt.Errorf("%w: older than the %s tolerance", ErrStaleTimestamp, tolerance)
	case d < -tolerance:
		return fmt.Errorf("%w: further ahead than the %s tolerance", ErrStaleTimestamp, tolerance)
	}
	return nil
}
