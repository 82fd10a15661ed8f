package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A Caddy killed between claiming an event and recording the upstream's
// answer must not block that event forever: once the lease lapses, the
// sender's retry gets through (reliability case 34). A claim held for
// more than 100 ms is in the store, so until then the retry is told to come
// back later rather than forwarded while the upstream may still be at work.
func TestKillBetweenClaimAndCommit(t *testing.T) {
	s := startSite(t)
	url := s.base + "/standard/shortlease" // lease 5s
	secret := s.secrets["standard"]
	id := newID(t)
	body := eventBody(id)

	hold := make(chan struct{})
	defer close(hold)
	s.up.set(200, hold)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The connection dies with the process; the error is expected.
		_, _ = post(http.DefaultClient, url, standardRequest(t, secret, id, time.Now(), body), body)
	}()
	waitFor(t, func() bool { return s.up.count("/standard/shortlease") == 1 })
	time.Sleep(500 * time.Millisecond) // well past the 100 ms after which a claim is written
	s.restart(t, true)                 // SIGKILL while the upstream holds the delivery
	<-done
	s.up.set(200, nil)

	// The dead process's claim is still in the store: a retry right away
	// is told to come back later, not forwarded twice.
	a := send(t, url, standardRequest(t, secret, id, time.Now(), body), body)
	if a.Status != 409 || errorCode(t, a) != "duplicate_in_flight" {
		t.Fatalf("retry inside the lease: got %d %s", a.Status, a.Body)
	}
	// Once the lease lapses, the retry is forwarded exactly once.
	var got answer
	waitFor(t, func() bool {
		got = send(t, url, standardRequest(t, secret, id, time.Now(), body), body)
		return got.Status != 409
	})
	if got.Status != 200 || got.Header.Get("Webhook-Duplicate") != "" {
		t.Fatalf("retry after the lease: got %d %s", got.Status, got.Body)
	}
	if n := s.up.count("/standard/shortlease"); n != 2 {
		t.Fatalf("upstream saw %d deliveries, want 2 (the killed one and the retry)", n)
	}
	if a := send(t, url, standardRequest(t, secret, id, time.Now(), body), body); a.Header.Get("Webhook-Duplicate") != "true" {
		t.Fatalf("after the retry was answered, a duplicate got %d %s", a.Status, a.Body)
	}
}

// Reloading the config under traffic keeps the open store and its dedupe
// state, and answers every verified request correctly. A reload can reset
// a connection even for a plain reverse_proxy, so the verified route is
// held to the plain route's standard in the same run (case 36).
func TestReloadUnderTraffic(t *testing.T) {
	s := startSite(t)
	secret := s.secrets["standard"]
	config := repoFile("caddyfile", "providers.Caddyfile")

	// An event delivered before the reloads.
	early := newID(t)
	earlyBody := eventBody(early)
	if a := send(t, s.base+"/standard", standardRequest(t, secret, early, time.Now(), earlyBody), earlyBody); a.Status != 200 {
		t.Fatalf("got %d", a.Status)
	}

	var (
		stop                    atomic.Bool
		wg                      sync.WaitGroup
		verifiedOK, verifiedBad atomic.Int64
		plainOK, plainBad       atomic.Int64
		mu                      sync.Mutex
		wrong                   []string // answers only the verified route could be blamed for
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load() && i < 20000; i++ {
				if w%2 == 1 {
					a, err := post(client, s.base+"/plain", nil, []byte(`{}`))
					if err != nil || a.Status != 200 {
						plainBad.Add(1)
					} else {
						plainOK.Add(1)
					}
					continue
				}
				id := newID(t)
				body := eventBody(id)
				a, err := post(client, s.base+"/standard", standardRequest(t, secret, id, time.Now(), body), body)
				switch {
				case err != nil:
					verifiedBad.Add(1) // a reset, as the plain route sees too
				case a.Status == 200 && a.Header.Get("Webhook-Duplicate") == "":
					verifiedOK.Add(1)
				case a.Status >= 500 && !strings.Contains(a.Body, `"error"`):
					// Caddy's own answer while a config goes away (the
					// proxy's 502/503, no body of ours): the plain route
					// gets these too.
					verifiedBad.Add(1)
				default:
					// A refusal, a duplicate for a fresh ID, or a JSON
					// error of webhook_verify's, such as store_unavailable.
					mu.Lock()
					wrong = append(wrong, fmt.Sprintf("%d %s", a.Status, a.Body))
					mu.Unlock()
				}
			}
		}()
	}
	// Reload five times, with traffic flowing before, between and after.
	progress := func() {
		from := verifiedOK.Load() + plainOK.Load()
		waitFor(t, func() bool { return verifiedOK.Load()+plainOK.Load() >= from+100 })
	}
	for range 5 {
		progress()
		if err := s.caddy.reload(config); err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatal(err)
		}
	}
	progress()
	stop.Store(true)
	wg.Wait()

	t.Logf("verified: %d ok, %d reset/other; plain: %d ok, %d reset/other",
		verifiedOK.Load(), verifiedBad.Load(), plainOK.Load(), plainBad.Load())
	if len(wrong) > 0 {
		t.Fatalf("verified route answered wrongly during reloads: %v", wrong)
	}
	if verifiedOK.Load() == 0 || plainOK.Load() == 0 {
		t.Fatal("no traffic got through during the reloads")
	}
	// Resets happen to both routes; the verified one may not fare much
	// worse than the plain one.
	if bad, allowed := verifiedBad.Load(), plainBad.Load()+5; bad > allowed {
		t.Fatalf("verified route lost %d requests, plain %d", bad, plainBad.Load())
	}
	if lockErr := s.caddy.log.String(); containsAny(lockErr, "Cannot acquire directory lock", "resource temporarily unavailable") {
		t.Fatalf("badger lock error during reload:\n%s", lockErr)
	}
	// The state from before the reloads is still there.
	a := send(t, s.base+"/standard", standardRequest(t, secret, early, time.Now(), earlyBody), earlyBody)
	if a.Status != 200 || a.Header.Get("Webhook-Duplicate") != "true" {
		t.Fatalf("early event after reloads: %d dup=%q", a.Status, a.Header.Get("Webhook-Duplicate"))
	}
}

// A sender that trickles its headers or body is cut off by the server's
// read timeouts, while other deliveries go on (case 20).
func TestSlowSenderIsCutOff(t *testing.T) {
	s := startSite(t)
	addr := strings.TrimPrefix(s.base, "http://")
	for _, tc := range []struct{ name, head string }{
		{"headers", "POST /standard HTTP/1.1\r\nHost: x\r\n"},
		{"body", "POST /standard HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte(tc.head)); err != nil {
				t.Fatal(err)
			}
			// Meanwhile a genuine delivery goes through.
			id := newID(t)
			body := eventBody(id)
			if a := send(t, s.base+"/standard", standardRequest(t, s.secrets["standard"], id, time.Now(), body), body); a.Status != 200 {
				t.Fatalf("concurrent delivery: %d", a.Status)
			}
			// The server closes the slow connection within its timeout
			// (read_header 5s, read_body 10s), without us sending more.
			start := time.Now()
			_ = conn.SetReadDeadline(start.Add(20 * time.Second))
			_, err = io.Copy(io.Discard, conn)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server kept a trickling connection open for 20s")
			}
			t.Logf("closed after %s", time.Since(start).Round(time.Millisecond))
		})
	}
}
