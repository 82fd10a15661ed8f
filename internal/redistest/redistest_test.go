package redistest

import (
	"strings"
	"testing"
)

// TestLifecycle: the server answers after Start, not after Stop or Kill,
// and again after Restart on the same address.
func TestLifecycle(t *testing.T) {
	s := Start(t, Options{AOF: true, Password: "s3cret-pass"})
	up := func(want bool) {
		t.Helper()
		reply, err := ping(s.Addr)
		if got := err == nil && strings.HasPrefix(reply, "-NOAUTH"); got != want {
			t.Fatalf("server up = %v (reply %q, err %v), want %v", got, reply, err, want)
		}
	}
	up(true)
	if s.AOFBytes() < 0 || !strings.Contains(s.URL(), "s3cret-pass@"+s.Addr) {
		t.Fatalf("URL %q does not carry the password and address", s.URL())
	}
	s.Stop()
	up(false)
	s.Restart()
	up(true)
	s.Kill()
	up(false)
	s.Restart()
	s.Restart() // a no-op while it runs
	up(true)
	if strings.Contains(s.String(), "s3cret") {
		t.Fatalf("String() shows the password: %s", s)
	}
}
