package delivery

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func fixedRand(v float64) func() float64 { return func() float64 { return v } }

// almostOne is the largest value a [0, 1) source can return.
var almostOne = math.Nextafter(1, 0)

func TestDefaultSchedule(t *testing.T) {
	s := DefaultSchedule()
	if err := s.Validate(); err != nil {
		t.Fatalf("default schedule invalid: %v", err)
	}
	want := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour}
	if s.Attempts != 5 || s.Jitter != 0.10 || fmt.Sprint(s.Backoff) != fmt.Sprint(want) {
		t.Fatalf("DefaultSchedule() = %+v", s)
	}
	if got := s.MaxBackoff(); got != 2*time.Hour {
		t.Errorf("MaxBackoff = %s, want 2h", got)
	}
	// DefaultSchedule returns a fresh slice each time.
	s.Backoff[0] = time.Second
	if DefaultSchedule().Backoff[0] != time.Minute {
		t.Error("DefaultSchedule shares its Backoff slice")
	}
}

func TestScheduleValidate(t *testing.T) {
	ok := []time.Duration{time.Second}
	tests := []struct {
		name string
		s    Schedule
		want string // substring of the error, "" for valid
	}{
		{"default", DefaultSchedule(), ""},
		{"one attempt, no jitter", Schedule{Attempts: 1, Backoff: ok}, ""},
		{"jitter just under 1", Schedule{Attempts: 2, Backoff: ok, Jitter: 0.99}, ""},
		{"zero attempts", Schedule{Attempts: 0, Backoff: ok}, "attempts"},
		{"negative attempts", Schedule{Attempts: -1, Backoff: ok}, "attempts"},
		{"nil backoff", Schedule{Attempts: 3}, "backoff"},
		{"empty backoff", Schedule{Attempts: 3, Backoff: []time.Duration{}}, "backoff"},
		{"zero duration", Schedule{Attempts: 3, Backoff: []time.Duration{time.Second, 0}}, "backoff value 2"},
		{"negative duration", Schedule{Attempts: 3, Backoff: []time.Duration{-time.Second}}, "backoff value 1"},
		{"negative jitter", Schedule{Attempts: 3, Backoff: ok, Jitter: -0.1}, "jitter"},
		{"jitter 1", Schedule{Attempts: 3, Backoff: ok, Jitter: 1}, "jitter"},
		{"jitter NaN", Schedule{Attempts: 3, Backoff: ok, Jitter: math.NaN()}, "jitter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestNextBackoff(t *testing.T) {
	s := DefaultSchedule()
	s.Attempts = 8
	tests := []struct {
		attempt int
		rnd     float64
		want    time.Duration
		ok      bool
	}{
		// rnd = 0.5 is the nominal value.
		{1, 0.5, time.Minute, true},
		{2, 0.5, 5 * time.Minute, true},
		{3, 0.5, 30 * time.Minute, true},
		{4, 0.5, 2 * time.Hour, true},
		// the last value repeats
		{5, 0.5, 2 * time.Hour, true},
		{7, 0.5, 2 * time.Hour, true},
		// out of attempts
		{8, 0.5, 0, false},
		{9, 0.5, 0, false},
		// an attempt below 1 counts as the first
		{0, 0.5, time.Minute, true},
		{-3, 0.5, time.Minute, true},
		// jitter bounds: rnd = 0 is -10% exactly
		{1, 0, 54 * time.Second, true},
		{4, 0, 108 * time.Minute, true},
		{6, 0, 108 * time.Minute, true},
		// out-of-range sources are clamped
		{1, -1, 54 * time.Second, true},
		{1, math.NaN(), 54 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("attempt %d rnd %v", tt.attempt, tt.rnd), func(t *testing.T) {
			got, ok := s.Next(tt.attempt, 0, fixedRand(tt.rnd))
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Next(%d) = %s, %v; want %s, %v", tt.attempt, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNextJitterBounds(t *testing.T) {
	s := DefaultSchedule()
	for i, base := range s.Backoff {
		attempt := i + 1
		lo := time.Duration(float64(base) * 0.9)
		hi := time.Duration(float64(base) * 1.1)

		got, _ := s.Next(attempt, 0, fixedRand(0))
		if got != lo {
			t.Errorf("attempt %d rnd 0: %s, want %s", attempt, got, lo)
		}
		got, _ = s.Next(attempt, 0, fixedRand(almostOne))
		if got > hi || hi-got > time.Microsecond {
			t.Errorf("attempt %d rnd→1: %s, want just under %s", attempt, got, hi)
		}
		// rnd = 1 (out of contract) and above stay within the bound.
		for _, r := range []float64{1, 2, math.Inf(1)} {
			if got, _ := s.Next(attempt, 0, fixedRand(r)); got > hi || got < lo {
				t.Errorf("attempt %d rnd %v: %s outside [%s, %s]", attempt, r, got, lo, hi)
			}
		}
		// a sweep stays in [lo, hi] and is monotone in rnd
		prev := time.Duration(0)
		for k := range 101 {
			r := float64(k) / 101
			got, ok := s.Next(attempt, 0, fixedRand(r))
			if !ok || got < lo || got > hi || got < prev {
				t.Fatalf("attempt %d rnd %v: %s, %v (prev %s)", attempt, r, got, ok, prev)
			}
			prev = got
		}
	}
}

func TestNextNoJitterAndNilRand(t *testing.T) {
	s := Schedule{Attempts: 3, Backoff: []time.Duration{time.Second, 3 * time.Second}}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 3 * time.Second} {
		if got, ok := s.Next(attempt, 0, nil); got != want || !ok {
			t.Errorf("Next(%d) = %s, %v; want %s, true", attempt, got, ok, want)
		}
	}
	// nil rnd with jitter draws from math/rand and stays within bounds.
	d := DefaultSchedule()
	for range 1000 {
		got, ok := d.Next(1, 0, nil)
		if !ok || got < 54*time.Second || got > 66*time.Second {
			t.Fatalf("Next with nil rnd = %s, %v", got, ok)
		}
	}
	// A huge backoff with jitter saturates instead of overflowing.
	huge := Schedule{Attempts: 2, Backoff: []time.Duration{time.Duration(math.MaxInt64)}, Jitter: 0.5}
	if got, ok := huge.Next(1, 0, fixedRand(almostOne)); got != time.Duration(math.MaxInt64) || !ok {
		t.Errorf("huge Next = %s, %v", got, ok)
	}
	// An empty (invalid) schedule allows nothing rather than panicking.
	if got, ok := (Schedule{Attempts: 5}).Next(1, 0, nil); got != 0 || ok {
		t.Errorf("empty schedule Next = %s, %v", got, ok)
	}
}

func TestNextRetryAfter(t *testing.T) {
	s := DefaultSchedule()
	tests := []struct {
		name       string
		attempt    int
		retryAfter time.Duration
		want       time.Duration
		ok         bool
	}{
		{"shorter than backoff is honoured", 1, 10 * time.Second, 10 * time.Second, true},
		{"longer than backoff is honoured", 1, 20 * time.Minute, 20 * time.Minute, true},
		{"not jittered", 2, 7 * time.Minute, 7 * time.Minute, true},
		{"capped at longest backoff", 1, 5 * time.Hour, 2 * time.Hour, true},
		{"huge is capped", 1, time.Duration(math.MaxInt64), 2 * time.Hour, true},
		{"equal to cap", 3, 2 * time.Hour, 2 * time.Hour, true},
		{"zero means backoff", 1, 0, time.Minute, true},
		{"negative means backoff", 1, -time.Second, time.Minute, true},
		{"no attempts left", 5, 10 * time.Second, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := s.Next(tt.attempt, tt.retryAfter, fixedRand(0.5))
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Next(%d, %s) = %s, %v; want %s, %v", tt.attempt, tt.retryAfter, got, ok, tt.want, tt.ok)
			}
		})
	}
	// The cap is the longest value even when it is not the last.
	odd := Schedule{Attempts: 3, Backoff: []time.Duration{time.Hour, time.Minute}}
	if got, _ := odd.Next(2, 3*time.Hour, nil); got != time.Hour {
		t.Errorf("cap with non-monotone backoff = %s, want 1h", got)
	}
}

func TestAttemptsExhausted(t *testing.T) {
	for attempts := 1; attempts <= 6; attempts++ {
		s := DefaultSchedule()
		s.Attempts = attempts
		retries := 0
		for attempt := 1; ; attempt++ {
			if _, ok := s.Next(attempt, 0, fixedRand(0.5)); !ok {
				break
			}
			retries++
		}
		if retries != attempts-1 {
			t.Errorf("Attempts=%d allowed %d retries, want %d", attempts, retries, attempts-1)
		}
	}
}

func TestDecide(t *testing.T) {
	s := DefaultSchedule()
	tests := []struct {
		attempt int
		in      Outcome
		ra      time.Duration
		want    Outcome
		wait    time.Duration
	}{
		{1, Succeeded, 0, Succeeded, 0},
		{5, Succeeded, 0, Succeeded, 0},
		{1, DisableEndpoint, time.Hour, DisableEndpoint, 0},
		{1, Retry, 0, Retry, time.Minute},
		{4, Retry, 0, Retry, 2 * time.Hour},
		{2, Retry, 30 * time.Second, Retry, 30 * time.Second},
		{5, Retry, 0, Failed, 0},
		{6, Retry, 0, Failed, 0},
	}
	for _, tt := range tests {
		got, wait := s.Decide(tt.attempt, tt.in, tt.ra, fixedRand(0.5))
		if got != tt.want || wait != tt.wait {
			t.Errorf("Decide(%d, %s, %s) = %s, %s; want %s, %s", tt.attempt, tt.in, tt.ra, got, wait, tt.want, tt.wait)
		}
	}
}

func TestClassify(t *testing.T) {
	timeout := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	tests := []struct {
		status int
		err    error
		want   Outcome
	}{
		{200, nil, Succeeded},
		{201, nil, Succeeded},
		{202, nil, Succeeded},
		{204, nil, Succeeded},
		{299, nil, Succeeded},
		{100, nil, Retry},
		{300, nil, Retry},
		{301, nil, Retry},
		{302, nil, Retry},
		{307, nil, Retry},
		{308, nil, Retry},
		{400, nil, Retry},
		{401, nil, Retry},
		{404, nil, Retry},
		{409, nil, Retry},
		{410, nil, DisableEndpoint},
		{413, nil, Retry},
		{429, nil, Retry},
		{500, nil, Retry},
		{502, nil, Retry},
		{503, nil, Retry},
		{504, nil, Retry},
		{0, nil, Retry},
		{0, errors.New("connection refused"), Retry},
		{0, timeout, Retry},
		// a transport error wins over any status
		{200, errors.New("body read failed"), Retry},
		{410, timeout, Retry},
	}
	for _, tt := range tests {
		if got := Classify(tt.status, tt.err); got != tt.want {
			t.Errorf("Classify(%d, %v) = %s, want %s", tt.status, tt.err, got, tt.want)
		}
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{
		Succeeded: "succeeded", Retry: "retry", Failed: "failed",
		DisableEndpoint: "disable_endpoint", 0: "outcome(0)", 99: "outcome(99)",
	} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	at := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	maxDur := time.Duration(math.MaxInt64)
	tests := []struct {
		name string
		h    string
		want time.Duration
	}{
		{"seconds", "120", 2 * time.Minute},
		{"one second", "1", time.Second},
		{"zero", "0", 0},
		{"leading zeros", "007", 7 * time.Second},
		{"surrounding space", "  30 ", 30 * time.Second},
		{"IMF-fixdate", "Fri, 14 Mar 2025 15:10:26 GMT", time.Minute},
		{"RFC 850 date", "Friday, 14-Mar-25 15:19:26 GMT", 10 * time.Minute},
		{"asctime date", "Fri Mar 14 16:09:26 2025", time.Hour},
		{"date now", "Fri, 14 Mar 2025 15:09:26 GMT", 0},
		{"past date", "Fri, 14 Mar 2025 15:00:00 GMT", 0},
		{"far past date", "Thu, 01 Jan 1970 00:00:00 GMT", 0},
		{"empty", "", 0},
		{"blank", "   ", 0},
		{"garbage", "soon", 0},
		{"negative", "-5", 0},
		{"plus sign", "+5", 0},
		{"fraction", "1.5", 0},
		{"hex", "0x10", 0},
		{"unit", "10s", 0},
		{"two numbers", "10 20", 0},
		{"date with bad zone", "Fri, 14 Mar 2025 15:10:26 PST", 0},
		{"huge seconds", "9999999999999999999", maxDur},
		{"overflowing int64", "99999999999999999999999999999", maxDur},
		{"just over Duration", "9223372037", maxDur},
		{"just under Duration", "9223372036", 9223372036 * time.Second},
		{"far future date saturates", "Fri, 31 Dec 9999 23:59:59 GMT", maxDur},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseRetryAfter(tt.h, at); got != tt.want {
				t.Fatalf("ParseRetryAfter(%q) = %s, want %s", tt.h, got, tt.want)
			}
		})
	}
}

func TestThrottles(t *testing.T) {
	for status, want := range map[int]bool{200: false, 400: false, 410: false, 429: true, 500: false, 501: false, 502: true, 503: true, 504: true, 505: false} {
		if got := Throttles(status); got != want {
			t.Errorf("Throttles(%d) = %v, want %v", status, got, want)
		}
	}
}
