package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A site using webhook_verify without the `webhooks` global option gets
// the default store, in Caddy's data directory.
func TestDefaultStoreWithoutGlobalOption(t *testing.T) {
	up := newUpstream(t)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	secret := newSecret(t)
	cfg := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("http://%s {\n\twebhook_verify {\n\t\tsecret %s\n\t}\n\treverse_proxy %s\n}\n", listen, secret, up.addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	startCaddy(t, cfg, map[string]string{"XDG_DATA_HOME": data}, listen)

	id := newID(t)
	body := eventBody(id)
	for i, wantDup := range []string{"", "true"} {
		a := send(t, "http://"+listen+"/", standardRequest(t, secret, id, time.Now(), body), body)
		if a.Status != 200 || a.Header.Get("Webhook-Duplicate") != wantDup {
			t.Fatalf("delivery %d: %d dup=%q %s", i+1, a.Status, a.Header.Get("Webhook-Duplicate"), a.Body)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "caddy", "webhooks", "dedupe", "MANIFEST")); err != nil {
		t.Fatalf("no Badger database in Caddy's data directory: %v", err)
	}
}

// A second process pointed at a Badger directory in use is refused at
// start-up with a clear error, and the first keeps running (case 37).
func TestSecondProcessOnSameStoreRefused(t *testing.T) {
	s := startSite(t)
	env := map[string]string{}
	for k, v := range s.env {
		env[k] = v
	}
	env["HG_LISTEN"] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(caddyBin, "run", "--config", repoFile("caddyfile", "providers.Caddyfile"))
	cmd.Env = append(os.Environ(), "CADDY_ADMIN="+fmt.Sprintf("127.0.0.1:%d", freePort(t)), "XDG_DATA_HOME="+t.TempDir())
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("a second Caddy opened a store that was in use")
	}
	if !strings.Contains(string(out), "in use by another process") {
		t.Fatalf("unclear error:\n%s", out)
	}
	id := newID(t)
	body := eventBody(id)
	if a := send(t, s.base+"/standard", standardRequest(t, s.secrets["standard"], id, time.Now(), body), body); a.Status != 200 {
		t.Fatalf("first Caddy after the refused start: %d %s", a.Status, a.Body)
	}
}

// `caddy validate` of the running config works beside the running Caddy,
// which holds the store's directory lock.
func TestValidateBesideRunningCaddy(t *testing.T) {
	s := startSite(t)
	cmd := exec.Command(caddyBin, "validate", "--config", repoFile("caddyfile", "providers.Caddyfile"))
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+t.TempDir())
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("validate beside a running Caddy: %v\n%s", err, out)
	}
}
