package webhooks

import (
	"strings"
	"testing"
)

// A static endpoint's secret may be a placeholder, resolved at provision;
// one that does not resolve, or resolves to a bad secret, fails it.
func TestStaticEndpointSecretPlaceholder(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	t.Setenv("HG_TEST_ORDERS_SECRET", secret)
	t.Setenv("HG_TEST_BAD_SECRET", "whsec_not base64!")
	policy, _, err := (&Dispatch{}).provision()
	if err != nil {
		t.Fatal(err)
	}
	se := StaticEndpoint{Name: "orders", URL: "https://orders.example.com/hooks", Secret: "{env.HG_TEST_ORDERS_SECRET}"}
	if err := se.provision(policy); err != nil {
		t.Fatal(err)
	}
	if se.secret != secret || se.Secret != "{env.HG_TEST_ORDERS_SECRET}" {
		t.Fatalf("resolved %q from %q", se.secret, se.Secret)
	}
	for placeholder, want := range map[string]string{
		"{env.HG_TEST_UNSET_SECRET}": "endpoint orders: secret: resolving placeholder",
		"{env.HG_TEST_BAD_SECRET}":   "endpoint orders: secret is not valid base64",
	} {
		se := StaticEndpoint{Name: "orders", URL: "https://orders.example.com/hooks", Secret: placeholder}
		if err := se.provision(policy); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", placeholder, err, want)
		}
	}
}
