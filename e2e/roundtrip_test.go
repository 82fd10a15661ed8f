package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outboundSchemes are the schemes an endpoint can sign with.
var outboundSchemes = []string{"standard", "svix", "stripe", "foil", "github", "gately", "slack", "shopify", "paddle", "enforgate", "hmac"}

// What the dispatcher signs, webhook_verify accepts: one Caddy delivers an
// event to an endpoint per scheme, each of them a webhook_verify route of
// the same Caddy in front of the recording upstream.
func TestDispatchVerifyRoundTrip(t *testing.T) {
	up := newUpstream(t)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var global, routes strings.Builder
	for _, scheme := range outboundSchemes {
		secret := scheme + "-secret-" + randomHex(t, 12)
		if scheme == "standard" || scheme == "svix" || scheme == "stripe" || scheme == "foil" {
			secret = newSecret(t)
		}
		fmt.Fprintf(&global, "\t\tendpoint %s http://%s/rt/%s {\n\t\t\tscheme %s\n\t\t\tsecret %s\n\t\t}\n", scheme, listen, scheme, scheme, secret)
		verify := "secret " + secret
		if scheme == "hmac" {
			// The generic scheme, set up as the README says for
			// Hookguard's outbound hmac.
			verify += "\n\t\t\tsignature_header X-Webhook-Signature\n\t\t\ttimestamp_header X-Webhook-Timestamp" +
				"\n\t\t\tid_header X-Webhook-Id\n\t\t\tsigned_payload \"{id}.{timestamp}.{body}\"\n\t\t\tprefix sha256="
		}
		fmt.Fprintf(&routes, "\thandle /rt/%s {\n\t\twebhook_verify %s {\n\t\t\t%s\n\t\t}\n\t\treverse_proxy %s\n\t}\n", scheme, scheme, verify, up.addr)
	}
	cfg := fmt.Sprintf("{\n\twebhooks {\n\t\tstorage badger %s\n\t\tdispatch {\n\t\t\tallow_networks 127.0.0.0/8\n\t\t\tallow_http\n\t\t}\n%s\t}\n}\nhttp://%s {\n\thandle /events {\n\t\twebhook_dispatch\n\t}\n%s}\n",
		filepath.Join(t.TempDir(), "badger"), global.String(), listen, routes.String())
	path := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startCaddy(t, path, nil, listen)

	a := send(t, "http://"+listen+"/events", nil, []byte(`{"type":"invoice.paid","data":{"invoice":"in_1"}}`))
	if a.Status != 202 || strings.Count(a.Body, "wdlv_") != len(outboundSchemes) {
		t.Fatalf("intake: %d %s", a.Status, a.Body)
	}
	// A delivery refused by webhook_verify would be retried, never
	// forwarded: reaching the upstream means it verified.
	waitFor(t, func() bool {
		for _, scheme := range outboundSchemes {
			if up.count("/rt/"+scheme) == 0 {
				return false
			}
		}
		return true
	})
	for _, scheme := range outboundSchemes {
		got := up.last(t, "/rt/"+scheme)
		if !strings.Contains(string(got.Body), `"invoice":"in_1"`) {
			t.Errorf("%s: upstream got %q", scheme, got.Body)
		}
	}
}
