package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// `caddy validate` refuses every configuration error with the file and
// line of the mistake.
func TestValidateRefusesConfigErrors(t *testing.T) {
	const head = "{\n\twebhooks {\n\t\tstorage badger {$HG_DATA}\n\t}\n}\n:8080 {\n" // lines 1-6
	cases := []struct {
		name, block string
		line        int // line of the error, counting head's 6 lines
		want        string
	}{
		{"unknown subdirective", "\twebhook_verify stripe {\n\t\tsecret whsec_abcdefghijkl\n\t\ttolerence 5m\n\t}\n", 9, `unrecognized subdirective "tolerence"`},
		{"unknown scheme", "\twebhook_verify strype {\n\t\tsecret whsec_abcdefghijkl\n\t}\n", 7, `unknown scheme "strype"`},
		{"missing secret", "\twebhook_verify stripe {\n\t\ttolerance 5m\n\t}\n", 9, "at least one secret"},
		{"secret without value", "\twebhook_verify stripe {\n\t\tsecret\n\t}\n", 8, "wrong argument count"},
		{"empty secret", "\twebhook_verify stripe {\n\t\tsecret \"  \"\n\t}\n", 8, "secret is empty"},
		{"short secret", "\twebhook_verify github {\n\t\tsecret abc\n\t}\n", 8, "secret"},
		{"undecodable base64", "\twebhook_verify standard {\n\t\tsecret whsec_!!!notbase64!!!\n\t}\n", 8, "secret"},
		{"bad public key", "\twebhook_verify discord {\n\t\tsecret 1234\n\t}\n", 8, "secret"},
		{"malformed not_after", "\twebhook_verify stripe {\n\t\tsecret whsec_abcdefghijkl not_after tomorrow\n\t}\n", 8, "not_after"},
		{"dedupe shorter than twice tolerance", "\twebhook_verify stripe {\n\t\tsecret whsec_abcdefghijkl\n\t\ttolerance 10m\n\t\tdedupe 15m\n\t}\n", 11, "twice the tolerance"},
		{"repeated subdirective", "\twebhook_verify stripe {\n\t\tsecret whsec_abcdefghijkl\n\t\ttolerance 5m\n\t\ttolerance 6m\n\t}\n", 10, "tolerance already specified"},
		{"hmac setting on a preset", "\twebhook_verify stripe {\n\t\tsecret whsec_abcdefghijkl\n\t\talgorithm sha1\n\t}\n", 9, "applies only to scheme hmac"},
		{"hmac without header", "\twebhook_verify hmac {\n\t\tsecret abcdefghijkl\n\t}\n", 9, "hmac"},
		{"unknown storage", "", 3, `unrecognized storage backend "mongo"`},
	}
	// The outbound settings, in the global option.
	outbound := []struct {
		name, block string
		line        int
		want        string
	}{
		{"bad endpoint URL", "\t\tendpoint a ht!tp://x\n", 4, "endpoint a"},
		{"userinfo in endpoint URL", "\t\tendpoint a https://user:pw@example.com/hook\n", 4, "userinfo"},
		{"http without allow_http", "\t\tendpoint a http://example.com/hook\n", 4, "endpoint a"},
		{"unknown signing scheme", "\t\tendpoint a https://example.com/hook {\n\t\t\tscheme discord\n\t\t}\n", 4, `unknown signing scheme "discord"`},
		{"empty backoff", "\t\tdispatch {\n\t\t\tbackoff\n\t\t}\n", 5, "backoff"},
		{"loopback endpoint without allow_networks", "\t\tendpoint a https://127.0.0.1/hook\n", 4, "blocked"},
		{"metadata endpoint even when allowed", "\t\tdispatch {\n\t\t\tallow_networks 169.254.0.0/16\n\t\t}\n\t\tendpoint a https://169.254.169.254/latest\n", 7, "blocked"},
		{"attempts below 1", "\t\tdispatch {\n\t\t\tattempts 0\n\t\t}\n", 5, "attempts"},
		{"unknown dispatch setting", "\t\tdispatch {\n\t\t\tworkerz 4\n\t\t}\n", 5, `unrecognized subdirective "workerz"`},
	}
	for _, tc := range outbound {
		cases = append(cases, struct {
			name, block string
			line        int
			want        string
		}{tc.name, "global:" + tc.block, tc.line, tc.want})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := head + tc.block + "\treverse_proxy 127.0.0.1:9\n}\n"
			if global, ok := strings.CutPrefix(tc.block, "global:"); ok {
				cfg = "{\n\twebhooks {\n\t\tstorage badger {$HG_DATA}\n" + global + "\t}\n}\n:8080 {\n\twebhook_dispatch\n}\n"
			}
			if tc.block == "" {
				cfg = strings.Replace(head, "storage badger {$HG_DATA}", "storage mongo", 1) + "\trespond ok\n}\n"
			}
			path := filepath.Join(t.TempDir(), "Caddyfile")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(caddyBin, "validate", "--config", path).CombinedOutput()
			if err == nil {
				t.Fatalf("validate accepted:\n%s", cfg)
			}
			wantLoc := "Caddyfile:" + strconv.Itoa(tc.line)
			msg := strings.ReplaceAll(string(out), `\"`, `"`) // the log line is JSON
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, wantLoc+`"`) {
				t.Fatalf("want %q at %s, got:\n%s", tc.want, wantLoc, out)
			}
		})
	}

	// The providers Caddyfile is run by the other tests; the quick start
	// and the sidecar example must load too.
	for _, f := range []string{"Caddyfile", "sidecar.Caddyfile"} {
		t.Run(f+" is valid", func(t *testing.T) {
			secretFile := filepath.Join(t.TempDir(), "previous")
			if err := os.WriteFile(secretFile, []byte("whsec_previousprevious\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := os.ReadFile(repoFile("caddyfile", f))
			if err != nil {
				t.Fatal(err)
			}
			cfg = []byte(strings.NewReplacer("/run/secrets/stripe_previous", secretFile, "/var/lib/hookguard", t.TempDir()).Replace(string(cfg)))
			path := filepath.Join(t.TempDir(), "Caddyfile")
			if err := os.WriteFile(path, cfg, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(caddyBin, "validate", "--config", path)
			cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+t.TempDir(),
				"STRIPE_WEBHOOK_SECRET=whsec_currentcurrent", "GITHUB_WEBHOOK_SECRET=github-secret-value")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}
