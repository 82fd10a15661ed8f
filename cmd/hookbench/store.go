package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// benchStore is the store the benchmarked Caddy uses: Badger in the run's
// directory, or Redis, either one given by URL or a redis-server that the
// run starts itself on loopback, with the persistence the README
// recommends (appendfsync always).
type benchStore struct {
	Kind string // "badger" or "redis"
	URL  string // Redis URL; empty starts a private redis-server

	server *exec.Cmd
}

// addFlags registers -storage and -redis.
func (s *benchStore) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.Kind, "storage", "badger", "the store: badger, or redis (shared by replicas)")
	fs.StringVar(&s.URL, "redis", "", "with -storage redis: the server's URL (default: start a private redis-server with appendfsync always)")
}

// start starts the private redis-server if one is needed.
func (s *benchStore) start(dir string) error {
	switch {
	case s.kind() == "badger":
		return nil
	case s.Kind != "redis":
		return fmt.Errorf("-storage must be badger or redis, not %q", s.Kind)
	case s.URL != "":
		return nil
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("-storage redis without -redis starts a redis-server, which is not installed (apt-get install -y redis-server): %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(addr)
	data := filepath.Join(dir, "redis")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--dir", data, "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--logfile", filepath.Join(data, "redis.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.server, s.URL = cmd, "redis://"+addr+"/0"
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if pong(addr) {
			return nil
		}
	}
	s.stop()
	return fmt.Errorf("redis-server never answered on %s", addr)
}

// kind is the store's name; the zero benchStore is Badger.
func (s *benchStore) kind() string {
	if s.Kind == "" {
		return "badger"
	}
	return s.Kind
}

// line is the Caddyfile's storage subdirective.
func (s *benchStore) line(badgerDir string) string {
	if s.Kind == "redis" {
		return "storage redis " + s.URL
	}
	return "storage badger " + badgerDir
}

// stop ends the private redis-server, if the run started one.
func (s *benchStore) stop() {
	if s.server != nil {
		_ = s.server.Process.Kill()
		_ = s.server.Wait()
		s.server = nil
	}
}

// pong reports whether a Redis server answers PING at addr.
func pong(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return strings.HasPrefix(line, "+PONG")
}
