package e2e

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// admin sends a request to the running Caddy's admin endpoint and reads
// the whole answer.
func (ds *dispatchSite) admin(t testing.TB, method, path, body string) answer {
	t.Helper()
	h := http.Header{}
	if body != "" {
		h.Set("Content-Type", "application/json")
	}
	return do(t, method, "http://"+ds.caddy.admin+path, h, []byte(body))
}

// adminJSON is admin for an answer with status want, decoded into a map.
func (ds *dispatchSite) adminJSON(t testing.TB, method, path, body string, want int) map[string]any {
	t.Helper()
	a := ds.admin(t, method, path, body)
	if a.Status != want {
		t.Fatalf("%s %s: got %d %s, want %d", method, path, a.Status, a.Body, want)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(a.Body), &out); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, a.Body)
	}
	return out
}

// setSinkSecret registers the secret the sink verifies deliveries to path
// with.
func (ds *dispatchSite) setSinkSecret(path, secret string) {
	ds.sink.mu.Lock()
	ds.sink.secrets[path] = secret
	ds.sink.mu.Unlock()
}

// webhookDeliveries returns the webhook_deliveries of an event's detail.
func webhookDeliveries(ev map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := ev["webhook_deliveries"].([]any)
	for _, d := range list {
		out = append(out, d.(map[string]any))
	}
	return out
}

func TestAdminListModules(t *testing.T) {
	out, err := exec.Command(caddyBin, "list-modules").CombinedOutput()
	if err != nil {
		t.Fatalf("list-modules: %v\n%s", err, out)
	}
	for _, m := range []string{"admin.api.webhooks", "webhooks", "http.handlers.webhook_dispatch"} {
		if !strings.Contains("\n"+string(out)+"\n", "\n"+m+"\n") {
			t.Errorf("list-modules lacks %s", m)
		}
	}
}

func TestAdminAPI(t *testing.T) {
	ds := startDispatch(t)
	const path = "/api-endpoint"

	// Create, then send a test event that the sink verifies with the
	// secret the create returned.
	created := ds.adminJSON(t, "POST", "/webhooks/endpoints",
		`{"name":"api","url":"http://`+ds.sink.addr+path+`","headers":{"X-Tenant":"acme","Authorization":"Bearer abcdefghijklmnopqrstuvwxyz"}}`, 201)
	id, _ := created["id"].(string)
	secret, _ := created["signing_secret"].(string)
	if !strings.HasPrefix(id, "we_") || !strings.HasPrefix(secret, "whsec_") || created["scheme"] != "standard" ||
		created["status"] != "active" || created["secret_hint"] != "whsec_…"+secret[len(secret)-4:] {
		t.Fatalf("create: %v", created)
	}
	if h, _ := created["headers"].(map[string]any); h["X-Tenant"] != "acme" || strings.Contains(h["Authorization"].(string), "abcdef") {
		t.Fatalf("headers shown as %v", created["headers"])
	}
	ds.setSinkSecret(path, secret)

	test := ds.adminJSON(t, "POST", "/webhooks/endpoints/"+id+"/test", "", 202)
	testID, _ := test["id"].(string)
	if test["type"] != "webhook.test" || len(test["deliveries"].([]any)) != 1 {
		t.Fatalf("test: %v", test)
	}
	waitFor(t, func() bool { return len(ds.sink.deliveries(path, testID)) == 1 })
	if d := ds.sink.deliveries(path, testID)[0]; !d.Verified || d.Type != "webhook.test" || d.Tenant != "acme" {
		t.Fatalf("test delivery %+v", d)
	}
	// The test event went to this endpoint alone, not to the static ones.
	if n := len(ds.sink.deliveries("/audit", testID)); n != 0 {
		t.Fatalf("the test event reached /audit (%d)", n)
	}

	t.Run("event detail shows the attempts", func(t *testing.T) {
		var ev map[string]any
		waitFor(t, func() bool {
			ev = ds.adminJSON(t, "GET", "/webhooks/events/"+testID, "", 200)
			ds := webhookDeliveries(ev)
			return len(ds) == 1 && ds[0]["status"] == "succeeded"
		})
		d := webhookDeliveries(ev)[0]
		if d["endpoint_id"] != id || d["attempts"] != 1.0 || d["response_status"] != 200.0 ||
			d["response_body"] != "answered 200" || d["error"] != nil || d["created_at"] == nil || d["updated_at"] == nil {
			t.Fatalf("delivery %v", d)
		}
		if data, _ := ev["data"].(map[string]any); data["endpoint_id"] != id {
			t.Fatalf("event data %v", ev["data"])
		}
		// Health follows the attempt.
		ep := ds.adminJSON(t, "GET", "/webhooks/endpoints/"+id, "", 200)
		if h, _ := ep["health"].(map[string]any); h["last_status"] != "succeeded" || h["last_response_status"] != 200.0 {
			t.Fatalf("health %v", ep["health"])
		}
	})

	t.Run("delivery retry", func(t *testing.T) {
		ev := ds.adminJSON(t, "GET", "/webhooks/events/"+testID, "", 200)
		dlv := webhookDeliveries(ev)[0]["id"].(string)
		r := ds.adminJSON(t, "POST", "/webhooks/deliveries/"+dlv+"/retry", "", 202)
		if r["status"] != "pending" || r["id"] != dlv {
			t.Fatalf("retry: %v", r)
		}
		waitFor(t, func() bool { return len(ds.sink.deliveries(path, testID)) == 2 })
		waitFor(t, func() bool {
			d := webhookDeliveries(ds.adminJSON(t, "GET", "/webhooks/events/"+testID, "", 200))[0]
			return d["status"] == "succeeded" && d["attempts"] == 2.0
		})
		if d := ds.sink.deliveries(path, testID)[1]; !d.Verified {
			t.Fatalf("retried delivery %+v", d)
		}
	})

	t.Run("rotation signs with both secrets", func(t *testing.T) {
		rot := ds.adminJSON(t, "POST", "/webhooks/endpoints/"+id+"/rotations", "", 201)
		newSecret, _ := rot["signing_secret"].(string)
		if !strings.HasPrefix(newSecret, "whsec_") || newSecret == secret || rot["previous_expires_at"] == nil {
			t.Fatalf("rotation: %v", rot)
		}
		ep := ds.adminJSON(t, "GET", "/webhooks/endpoints/"+id, "", 200)
		if ep["secret_hint"] != "whsec_…"+newSecret[len(newSecret)-4:] {
			t.Fatalf("hint after rotation %v", ep["secret_hint"])
		}
		// Each delivery carries two signatures; the new secret verifies one
		// delivery, the old secret another.
		for _, s := range []string{newSecret, secret} {
			ds.setSinkSecret(path, s)
			ev := ds.adminJSON(t, "POST", "/webhooks/endpoints/"+id+"/test", "", 202)
			evID := ev["id"].(string)
			waitFor(t, func() bool { return len(ds.sink.deliveries(path, evID)) == 1 })
			d := ds.sink.deliveries(path, evID)[0]
			if !d.Verified || len(strings.Fields(d.Signature)) != 2 || strings.Count(d.Signature, "v1,") != 2 {
				t.Fatalf("delivery after rotation: verified %v, signature %q", d.Verified, d.Signature)
			}
		}
		ds.setSinkSecret(path, newSecret)
	})

	t.Run("no secrets in GET", func(t *testing.T) {
		for _, p := range []string{"/webhooks/endpoints", "/webhooks/endpoints/" + id, "/webhooks/endpoints?include_deleted=true"} {
			a := ds.admin(t, "GET", p, "")
			if a.Status != 200 {
				t.Fatalf("GET %s: %d %s", p, a.Status, a.Body)
			}
			if strings.Contains(a.Body, secret[6:]) || strings.Contains(a.Body, `"secrets"`) {
				t.Fatalf("GET %s shows a secret: %s", p, a.Body)
			}
			if n, hints := strings.Count(a.Body, "whsec_"), strings.Count(a.Body, "whsec_…"); n != hints {
				t.Fatalf("GET %s: %d whsec_ strings, only %d of them hints: %s", p, n, hints, a.Body)
			}
		}
		list := ds.adminJSON(t, "GET", "/webhooks/endpoints", "", 200)
		names := map[string]bool{}
		for _, e := range list["data"].([]any) {
			names[e.(map[string]any)["name"].(string)] = true
		}
		if !names["api"] || !names["orders"] || !names["audit"] {
			t.Fatalf("endpoints listed: %v", names)
		}
	})

	t.Run("list filter, limit and cursor", func(t *testing.T) {
		var ids []string
		for range 3 {
			ev := ds.adminJSON(t, "POST", "/webhooks/events", `{"type":"admin.listed","data":{}}`, 202)
			ids = append(ids, ev["id"].(string))
		}
		page := ds.adminJSON(t, "GET", "/webhooks/events?type=admin.listed&limit=2", "", 200)
		data := page["data"].([]any)
		if len(data) != 2 || data[0].(map[string]any)["id"] != ids[2] || data[1].(map[string]any)["id"] != ids[1] ||
			page["has_more"] != true || page["next_after"] != ids[1] {
			t.Fatalf("first page %v", page)
		}
		page = ds.adminJSON(t, "GET", "/webhooks/events?type=admin.listed&limit=2&after="+ids[1], "", 200)
		data = page["data"].([]any)
		if len(data) != 1 || data[0].(map[string]any)["id"] != ids[0] || page["has_more"] != false {
			t.Fatalf("second page %v", page)
		}
		// By endpoint: the test events went to the API endpoint alone.
		page = ds.adminJSON(t, "GET", "/webhooks/events?type=webhook.test&endpoint_id="+id, "", 200)
		if n := len(page["data"].([]any)); n != 3 {
			t.Fatalf("endpoint filter listed %d test events, want 3: %v", n, page)
		}
		page = ds.adminJSON(t, "GET", "/webhooks/events?type=webhook.test&endpoint_id=we_unknown", "", 200)
		if n := len(page["data"].([]any)); n != 0 {
			t.Fatalf("endpoint filter on an unknown endpoint listed %d events", n)
		}
		page = ds.adminJSON(t, "GET", "/webhooks/events?type=webhook.test&status=succeeded&limit=200", "", 200)
		if n := len(page["data"].([]any)); n != 3 || page["has_more"] != false {
			t.Fatalf("status filter: %v", page)
		}
		for _, bad := range []string{"limit=0", "limit=201", "limit=ten"} {
			a := ds.admin(t, "GET", "/webhooks/events?"+bad, "")
			if a.Status != 400 || errorCode(t, a) != "invalid_limit" {
				t.Errorf("%s: %d %s", bad, a.Status, a.Body)
			}
		}
		if a := ds.admin(t, "GET", "/webhooks/events?status=lost", ""); a.Status != 400 {
			t.Errorf("bad status filter: %d %s", a.Status, a.Body)
		}
	})

	t.Run("intake on the admin API", func(t *testing.T) {
		a := ds.admin(t, "POST", "/webhooks/events", `{"data":{}}`)
		if a.Status != 400 || errorCode(t, a) != "missing_type" {
			t.Fatalf("bad event: %d %s", a.Status, a.Body)
		}
	})

	t.Run("disable stops new deliveries", func(t *testing.T) {
		ep := ds.adminJSON(t, "PATCH", "/webhooks/endpoints/"+id, `{"status":"disabled","event_types":["order.created"]}`, 200)
		if ep["status"] != "disabled" || ep["disabled_reason"] == "" || len(ep["event_types"].([]any)) != 1 {
			t.Fatalf("patch: %v", ep)
		}
		ev := ds.adminJSON(t, "POST", "/webhooks/events", `{"type":"order.created","data":{"order":"o_9"}}`, 202)
		evID := ev["id"].(string)
		waitFor(t, func() bool { return len(ds.sink.deliveries("/orders", evID)) == 1 })
		for _, d := range webhookDeliveries(ds.adminJSON(t, "GET", "/webhooks/events/"+evID, "", 200)) {
			if d["endpoint_id"] == id {
				t.Fatalf("a delivery to the disabled endpoint: %v", d)
			}
		}
		if n := len(ds.sink.deliveries(path, evID)); n != 0 {
			t.Fatalf("the disabled endpoint got the event (%d)", n)
		}
		if a := ds.admin(t, "POST", "/webhooks/endpoints/"+id+"/test", ""); a.Status != 409 || errorCode(t, a) != "endpoint_not_active" {
			t.Fatalf("test on a disabled endpoint: %d %s", a.Status, a.Body)
		}
		if ep := ds.adminJSON(t, "PATCH", "/webhooks/endpoints/"+id, `{"status":"active"}`, 200); ep["status"] != "active" || ep["disabled_reason"] != "" {
			t.Fatalf("re-enable: %v", ep)
		}
	})

	// A delivery that failed before a disable is not replayed by the
	// re-enable, but an operator's retry after it delivers it.
	t.Run("retry after a disable", func(t *testing.T) {
		ds.sink.mu.Lock()
		ds.sink.statuses[path+" order.created"] = []int{503, 503, 503, 503}
		ds.sink.mu.Unlock()
		ev := ds.adminJSON(t, "POST", "/webhooks/events", `{"type":"order.created","data":{"order":"o_10"}}`, 202)
		evID := ev["id"].(string)
		var dlv map[string]any
		waitFor(t, func() bool {
			for _, d := range webhookDeliveries(ds.adminJSON(t, "GET", "/webhooks/events/"+evID, "", 200)) {
				if d["endpoint_id"] == id && d["status"] == "failed" {
					dlv = d
				}
			}
			return dlv != nil
		})
		ds.adminJSON(t, "PATCH", "/webhooks/endpoints/"+id, `{"status":"disabled"}`, 200)
		ds.adminJSON(t, "PATCH", "/webhooks/endpoints/"+id, `{"status":"active"}`, 200)
		r := ds.adminJSON(t, "POST", "/webhooks/deliveries/"+dlv["id"].(string)+"/retry", "", 202)
		if r["status"] != "pending" || r["retried_at"] == nil {
			t.Fatalf("retry: %v", r)
		}
		waitFor(t, func() bool {
			d := ds.adminJSON(t, "GET", "/webhooks/deliveries/"+dlv["id"].(string), "", 200)
			return d["status"] != "pending" && d["status"] != "delivering"
		})
		d := ds.adminJSON(t, "GET", "/webhooks/deliveries/"+dlv["id"].(string), "", 200)
		got := ds.sink.deliveries(path, evID)
		if d["status"] != "succeeded" || len(got) != 5 || !got[4].Verified {
			t.Fatalf("after the retry: delivery %v, %d requests at the endpoint", d, len(got))
		}
	})

	t.Run("soft delete", func(t *testing.T) {
		ep := ds.adminJSON(t, "DELETE", "/webhooks/endpoints/"+id, "", 200)
		if ep["status"] != "deleted" || ep["id"] != id {
			t.Fatalf("delete: %v", ep)
		}
		if ep := ds.adminJSON(t, "GET", "/webhooks/endpoints/"+id, "", 200); ep["status"] != "deleted" {
			t.Fatalf("after delete: %v", ep)
		}
		if a := ds.admin(t, "GET", "/webhooks/endpoints", ""); strings.Contains(a.Body, id) {
			t.Fatalf("deleted endpoint listed: %s", a.Body)
		}
		if a := ds.admin(t, "GET", "/webhooks/endpoints?include_deleted=true", ""); !strings.Contains(a.Body, id) {
			t.Fatalf("deleted endpoint missing with include_deleted: %s", a.Body)
		}
		if a := ds.admin(t, "PATCH", "/webhooks/endpoints/"+id, `{"status":"active"}`); a.Status != 409 {
			t.Fatalf("patch of a deleted endpoint: %d %s", a.Status, a.Body)
		}
	})

	t.Run("static endpoints are changed in the config", func(t *testing.T) {
		list := ds.adminJSON(t, "GET", "/webhooks/endpoints", "", 200)
		for _, e := range list["data"].([]any) {
			e := e.(map[string]any)
			if e["name"] != "orders" {
				continue
			}
			if e["static"] != true {
				t.Fatalf("orders not static: %v", e)
			}
			a := ds.admin(t, "PATCH", "/webhooks/endpoints/"+e["id"].(string), `{"event_types":["order.paid"]}`)
			if a.Status != 409 || errorCode(t, a) != "static_endpoint" {
				t.Fatalf("patch of a static endpoint: %d %s", a.Status, a.Body)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct {
			method, path, body string
			status             int
			code               string
		}{
			{"GET", "/webhooks/endpoints/we_unknown", "", 404, "not_found"},
			{"PATCH", "/webhooks/endpoints/we_unknown", `{"status":"disabled"}`, 404, "not_found"},
			{"DELETE", "/webhooks/endpoints/we_unknown", "", 404, "not_found"},
			{"POST", "/webhooks/endpoints/we_unknown/test", "", 404, "not_found"},
			{"POST", "/webhooks/endpoints/we_unknown/rotations", "", 404, "not_found"},
			{"GET", "/webhooks/events/wevt_unknown", "", 404, "not_found"},
			{"POST", "/webhooks/deliveries/wdlv_unknown/retry", "", 404, "not_found"},
			{"GET", "/webhooks/nothing", "", 404, "not_found"},
			{"PUT", "/webhooks/endpoints", "", 405, "method_not_allowed"},
			{"POST", "/webhooks/endpoints", `{"name":"x","url":"http://user:pw@` + ds.sink.addr + `/x"}`, 400, "invalid_url"},
			{"POST", "/webhooks/endpoints", `{"name":"x","url":"ftp://` + ds.sink.addr + `/x"}`, 400, "invalid_url"},
			{"POST", "/webhooks/endpoints", `{"name":"x","url":"http://` + ds.sink.addr + `/x","scheme":"rot13"}`, 400, "invalid_scheme"},
			{"POST", "/webhooks/endpoints", `{"url":"http://` + ds.sink.addr + `/x"}`, 400, "missing_name"},
			{"POST", "/webhooks/endpoints", `{"name":"x","url":"http://` + ds.sink.addr + `/x","colour":"blue"}`, 400, "unknown_field"},
			{"POST", "/webhooks/endpoints", `not json`, 400, "invalid_json"},
			{"POST", "/webhooks/endpoints", `{"name":"orders","url":"http://` + ds.sink.addr + `/x"}`, 409, "endpoint_name_taken"},
		} {
			a := ds.admin(t, c.method, c.path, c.body)
			if a.Status != c.status || errorCode(t, a) != c.code {
				t.Errorf("%s %s %s: got %d %s, want %d %s", c.method, c.path, c.body, a.Status, a.Body, c.status, c.code)
			}
		}
	})
}

// A static endpoint's status can be changed through the API (to bring back
// one a failing receiver got disabled), and one the config stops declaring
// is deleted, so it stops receiving events until the config declares it
// again.
func TestStaticEndpointsFollowTheConfig(t *testing.T) {
	ds := startDispatch(t)
	auditID := func() string {
		for _, e := range ds.adminJSON(t, "GET", "/webhooks/endpoints?include_deleted=true", "", 200)["data"].([]any) {
			if e := e.(map[string]any); e["name"] == "audit" {
				return e["id"].(string)
			}
		}
		t.Fatal("no audit endpoint")
		return ""
	}
	id := auditID()

	// 410 Gone disables it; the operator enables it again.
	ds.sink.mu.Lock()
	ds.sink.statuses["/audit audit.gone"] = []int{410}
	ds.sink.mu.Unlock()
	ds.adminJSON(t, "POST", "/webhooks/events", `{"type":"audit.gone","data":{}}`, 202)
	waitFor(t, func() bool { return ds.adminJSON(t, "GET", "/webhooks/endpoints/"+id, "", 200)["status"] == "disabled" })
	if ep := ds.adminJSON(t, "PATCH", "/webhooks/endpoints/"+id, `{"status":"active"}`, 200); ep["status"] != "active" || ep["static"] != true {
		t.Fatalf("re-enable: %v", ep)
	}
	ev := ds.adminJSON(t, "POST", "/webhooks/events", `{"type":"audit.back","data":{}}`, 202)["id"].(string)
	waitFor(t, func() bool { return len(ds.sink.deliveries("/audit", ev)) == 1 })

	// Taken out of the config: deleted, and no longer sent events.
	ds.caddy.reloadWithout("dispatch.Caddyfile",
		"\t\tendpoint audit http://{$HG_SINK}/audit {\n\t\t\tsecret {$HG_AUDIT_SECRET}\n\t\t\theader X-Tenant acme\n\t\t}\n")
	if ep := ds.adminJSON(t, "GET", "/webhooks/endpoints/"+id, "", 200); ep["status"] != "deleted" || ep["static"] != false {
		t.Fatalf("after the reload without it: %v", ep)
	}
	ev = ds.adminJSON(t, "POST", "/webhooks/events", `{"type":"order.created","data":{}}`, 202)["id"].(string)
	waitFor(t, func() bool { return len(ds.sink.deliveries("/orders", ev)) == 1 })
	if n := len(ds.sink.deliveries("/audit", ev)); n != 0 {
		t.Fatalf("the removed endpoint got %d deliveries", n)
	}

	// Declared again: active and static.
	if err := ds.caddy.reload(repoFile("caddyfile", "dispatch.Caddyfile")); err != nil {
		t.Fatal(err)
	}
	if ep := ds.adminJSON(t, "GET", "/webhooks/endpoints/"+id, "", 200); ep["status"] != "active" || ep["static"] != true {
		t.Fatalf("after the reload with it: %v", ep)
	}
}
