package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// profileCaddy starts fetching a CPU profile of d from Caddy's admin
// endpoint into path, and returns a function that waits for it. With an
// empty path it does nothing.
func profileCaddy(admin, path string, d time.Duration) (wait func() error) {
	if path == "" {
		return func() error { return nil }
	}
	done := make(chan error, 1)
	go func() {
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, max(1, int(d.Seconds())))
		resp, err := http.Get(url)
		if err != nil {
			done <- fmt.Errorf("profiling caddy: %w", err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			done <- fmt.Errorf("profiling caddy: %s", resp.Status)
			return
		}
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return func() error { return <-done }
}
