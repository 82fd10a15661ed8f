// Package redistest runs a real redis-server (Debian's package) for tests:
// on a free loopback port, in a temporary directory, with the persistence
// a test asks for. A test can stop it, kill it with SIGKILL, and start it
// again on the same port and directory, as an operator's restart or a
// crash would. There is no fake: a missing redis-server fails the test
// with how to install it.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Install is how to get the server the tests need.
const Install = "apt-get install -y redis-server"

// Options says how the server persists data.
type Options struct {
	// AOF turns the append-only file on with `appendfsync always`: every
	// write is on disk before Redis answers it. Off, nothing survives a
	// restart (RDB snapshots are off either way).
	AOF bool
	// Password, if set, is required of every client (`requirepass`).
	Password string
}

// Server is one redis-server process and its directory. Its methods may be
// called from any goroutine.
type Server struct {
	// Addr is host:port on loopback; it stays the same across restarts.
	Addr string
	// Dir holds the server's data files.
	Dir string

	t    testing.TB
	bin  string
	opts Options

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start runs a new server and waits until it answers. The test's cleanup
// stops it.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed, and these tests need a real one: %s (%v)", Install, err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))), Dir: t.TempDir(), t: t, bin: bin, opts: o}
	s.Restart()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("redis-server log:\n%s", s.logText())
		}
	})
	return s
}

// URL is the redis:// URL of the server, with the password if one is set.
func (s *Server) URL() string {
	if s.opts.Password != "" {
		return "redis://:" + s.opts.Password + "@" + s.Addr + "/0"
	}
	return "redis://" + s.Addr + "/0"
}

// Restart starts the server again on the same port and directory. It is
// how Start starts it, and a no-op while it runs.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		select {
		case <-s.done:
		default:
			return
		}
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	args := []string{
		"--bind", "127.0.0.1", "--port", port, "--dir", s.Dir,
		"--save", "", "--daemonize", "no", "--logfile", s.logFile(),
		"--appendonly", "no",
	}
	if s.opts.AOF {
		args[len(args)-1] = "yes"
		args = append(args, "--appendfsync", "always")
	}
	if s.opts.Password != "" {
		args = append(args, "--requirepass", s.opts.Password)
	}
	cmd := exec.Command(s.bin, args...)
	// Its own process group, so a signal to the test does not reach it
	// first and the test decides when it stops.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	s.waitReady(done)
}

// Stop shuts the server down as an operator would (SIGTERM, which with the
// AOF on flushes it), and waits for it to exit.
func (s *Server) Stop() {
	s.signal(syscall.SIGTERM)
}

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() {
	s.signal(syscall.SIGKILL)
}

// Pause stops the server in its tracks (SIGSTOP): connections stay open
// and nothing is answered, as with a Redis that is stuck. Resume undoes it.
func (s *Server) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.cmd.Process.Signal(syscall.SIGSTOP)
}

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(sig)
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused server handles sig only once resumed
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// waitReady polls the server with PING until it answers (NOAUTH counts:
// the server is up), or fails the test after 15 seconds.
func (s *Server) waitReady(done chan struct{}) {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			s.t.Fatalf("redis-server exited at start:\n%s", s.logText())
		default:
		}
		if reply, err := ping(s.Addr); err == nil && (reply == "+PONG" || strings.HasPrefix(reply, "-NOAUTH")) {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling a process we do not control
	}
	s.t.Fatalf("redis-server never answered on %s:\n%s", s.Addr, s.logText())
}

// ping sends one PING in the protocol's inline form and returns the first
// reply line.
func ping(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// AOFBytes is the size of the append-only files in Dir, so that a test
// can show the AOF was written.
func (s *Server) AOFBytes() int64 {
	var n int64
	_ = filepath.WalkDir(s.Dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(d.Name(), ".aof") {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// logFile is where the server writes its log, kept across restarts.
func (s *Server) logFile() string {
	return filepath.Join(s.Dir, "redis.log")
}

// logText is the server's log so far.
func (s *Server) logText() string {
	b, err := os.ReadFile(s.logFile())
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// String describes the server for test logs, without its password.
func (s *Server) String() string {
	return fmt.Sprintf("redis-server at %s (aof %v)", s.Addr, s.opts.AOF)
}
