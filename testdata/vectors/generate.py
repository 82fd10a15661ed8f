#!/usr/bin/env python3
"""Writes the vectors of the presets whose providers publish no example.

Each vector is computed here with Python's hmac and hashlib from the
provider's documented rules, independently of Hookguard's Go signer, so the
Go tests compare two implementations. Run it from the repository root:

    python3 testdata/vectors/generate.py

It writes only the files listed below; vectors taken from a provider's docs
or SDK are never touched.
"""
import base64
import hashlib
import hmac
import json
import os
import re

NOW = 1700000000
TS = str(NOW)
TS_MS = str(NOW * 1000)
TS_ISO = "2023-11-14T22:13:20Z"
URL = "https://hooks.example.com/"
SECRET = "hookguard-vector-secret-0123456789"
WHSEC = "whsec_aG9va2d1YXJkLXZlY3Rvci1rZXktMDEyMzQ1Njc4OQ=="


def mac(key, msg, alg=hashlib.sha256):
    if isinstance(key, str):
        key = key.encode()
    return hmac.new(key, msg.encode(), alg).digest()


def hx(b):
    return b.hex()


def b64(b):
    return base64.b64encode(b).decode()


def body(**fields):
    return json.dumps(fields, separators=(",", ":"))


def write(name, source, secret, headers, data, id="", tamper="", url=""):
    v = {
        "scheme": name,
        "source": source,
        "secret": secret,
        "url": url or URL + name,
        "method": "POST",
        "headers": headers,
        "body": data,
        "now": NOW,
        "id": id,
    }
    if tamper:
        v["tamper"] = tamper
    path = os.path.join("testdata", "vectors", name + ".json")
    with open(path, "w") as f:
        json.dump(v, f, indent=2, ensure_ascii=False)
        f.write("\n")


def built(doc):
    return "No published example: built with Python hmac/hashlib (testdata/vectors/generate.py) from " + doc


# Family A: Standard Webhooks aliases, "{id}.{ts}.{body}", base64.
def standard(name, prefix, secret, key, doc):
    data = body(type="event.created", data={"id": "obj_" + name, "note": "café ☕"})
    mid = "msg_" + name + "_2Q3fLmVx"
    sig = b64(mac(key, mid + "." + TS + "." + data))
    write(name, built(doc), secret, {
        prefix + "id": mid, prefix + "timestamp": TS, prefix + "signature": "v1," + sig,
        "content-type": "application/json"}, data, id=mid)


WHKEY = base64.b64decode(WHSEC[len("whsec_"):])
for name, prefix, doc in [
    ("clerk", "svix-", "clerk.com/docs/webhooks/sync-data (Svix)"),
    ("resend", "svix-", "resend.com/docs/webhooks/verify-webhooks-requests (Svix)"),
    ("openai", "webhook-", "platform.openai.com/docs/guides/webhooks"),
    ("replicate", "webhook-", "replicate.com/docs/topics/webhooks/verify-webhook"),
    ("anthropic", "webhook-", "platform.claude.com/docs/en/managed-agents/webhooks"),
    ("brex", "Webhook-", "developer.brex.com/docs/webhooks"),
    ("loops", "webhook-", "loops.so/docs/webhooks"),
]:
    standard(name, prefix, WHSEC, WHKEY, doc)
standard("supabase", "webhook-", "v1," + WHSEC, WHKEY, "supabase.com/docs/guides/auth/auth-hooks (v1,whsec_ secret)")
standard("polar", "webhook-", "polar_whs_" + SECRET, "polar_whs_" + SECRET, "docs.polar.sh/integrate/webhooks/delivery (raw key)")

# Family B: the timestamp inside the signature header.
d = body(event="invitee.created", created_at="2023-11-14T22:13:20Z", payload={"uri": "https://api.calendly.com/x/1"})
write("calendly", built("developer.calendly.com webhook signatures"), SECRET,
      {"Calendly-Webhook-Signature": "t=" + TS + ",v1=" + hx(mac(SECRET, TS + "." + d))}, d)
d = body(id="event_01HGW2", event="dsync.user.created", data={"email": "ana@example.com"})
write("workos", built("workos.com/docs/events/data-syncing/webhooks"), SECRET,
      {"WorkOS-Signature": "t=" + TS_MS + ", v1=" + hx(mac(SECRET, TS_MS + "." + d))}, d, id="event_01HGW2")
d = body(type="video.asset.ready", id="3a56ac3d-33da-4366-855b-f592d898409d", data={"status": "ready"})
write("mux", built("docs.mux.com/core/verify-webhook-signatures"), SECRET,
      {"Mux-Signature": "t=" + TS + ",v1=" + hx(mac(SECRET, TS + "." + d))}, d, id="3a56ac3d-33da-4366-855b-f592d898409d")
key = "signkey-prod-8f3e0a9b1c2d4e5f60718293a4b5c6d7e8f9"
d = body(event={"name": "app/user.signup"}, ctx={"run_id": "01HGW3"})
write("inngest", built("inngestgo signature.go (key after signkey-<env>-, as ASCII; {body}{t})"), key,
      {"X-Inngest-Signature": "t=" + TS + "&s=" + hx(mac(re.sub(r"^signkey-\w+-", "", key), d + TS))}, d)
d = body(id="9f2c1b7e", type="message.sent", data={"channel": "email"})
write("knock", built("docs.knock.app/developer-tools/outbound-webhooks (t in ms, s base64)"), SECRET,
      {"x-knock-signature": "t=" + TS_MS + ",s=" + b64(mac(SECRET, TS_MS + "." + d))}, d, id="9f2c1b7e")
d = body(id="rec_evt_5", object_type="subscription", event_type="created")
write("recurly", built("docs.recurly.com/recurly-subscriptions/docs/signature-verification"), SECRET,
      {"recurly-signature": TS_MS + "," + hx(mac("another-endpoint-key", TS_MS + "." + d)) + "," + hx(mac(SECRET, TS_MS + "." + d))},
      d, id="rec_evt_5")

d = body(data={"id": "evt_persona_3", "type": "event"}, attributes={"name": "inquiry.completed"})
write("persona", built("docs.withpersona.com/docs/best-practices"), "wbhsec_" + SECRET,
      {"Persona-Signature": "t=" + TS + ",v1=" + hx(mac("wbhsec_" + SECRET, TS + "." + d))}, d, id="evt_persona_3")
d = body(type="post_call_transcription", data={"conversation_id": "conv_1"}, event_timestamp=NOW)
write("elevenlabs", built("elevenlabs.io post-call-webhooks"), "wsec_" + SECRET,
      {"ElevenLabs-Signature": "t=" + TS + ",v0=" + hx(mac("wsec_" + SECRET, TS + "." + d))}, d)
d = body(event="call_ended", call={"call_id": "call_9f"})
write("retell", built("docs.retellai.com/features/secure-webhook (v=<ms>, d over body+ts)"), "key_" + SECRET,
      {"x-retell-signature": "v=" + TS_MS + ",d=" + hx(mac("key_" + SECRET, d + TS_MS))}, d)

d = body(_id="drafts.post-1", _type="post", title="café")
sig = base64.urlsafe_b64encode(mac(SECRET, TS_MS + "." + d)).rstrip(b"=").decode()
write("sanity", built("github.com/sanity-io/webhook-toolkit (t in ms, v1 unpadded base64url)"), SECRET,
      {"sanity-webhook-signature": "t=" + TS_MS + ",v1=" + sig}, d)

# Family C: a separate timestamp.
d = body(event="meeting.started", event_ts=1700000000000, payload={"object": {"id": "8571"}})
write("zoom", built("developers.zoom.us/docs/api/webhooks/#verify-webhook-events"), SECRET,
      {"x-zm-request-timestamp": TS, "x-zm-signature": "v0=" + hx(mac(SECRET, "v0:" + TS + ":" + d))}, d)
d = body(event_id="01HGW5CIO", object_type="email", metric="delivered")
write("customerio", built("docs.customer.io/api/webhooks"), SECRET,
      {"X-CIO-Timestamp": TS, "X-CIO-Signature": hx(mac(SECRET, "v0:" + TS + ":" + d))}, d, id="01HGW5CIO")
d = body(triggerType="form_submission", payload={"id": "65a1", "name": "Contact"})
write("webflow", built("developers.webflow.com working-with-webhooks#validating-request-signatures"), SECRET,
      {"x-webflow-timestamp": TS_MS, "x-webflow-signature": hx(mac(SECRET, TS_MS + ":" + d))}, d)
zkey = "dGhpc19zZWNyZXRfaXNfdXNlZF92ZXJiYXRpbQ=="
d = body(type="zen:event-type:ticket.created", detail={"id": "35436"})
write("zendesk", built("developer.zendesk.com/documentation/webhooks/verifying (secret verbatim)"), zkey,
      {"X-Zendesk-Webhook-Signature-Timestamp": TS_ISO, "X-Zendesk-Webhook-Signature": b64(mac(zkey, TS_ISO + d))}, d)
d = body(type="webhook_event", id="7e1d0c9a-box", trigger="FILE.UPLOADED", source={"id": "1234", "type": "file"})
write("box", built("developer.box.com/guides/webhooks/v2/signatures-v2 (secondary key unknown here)"), SECRET,
      {"BOX-DELIVERY-TIMESTAMP": TS_ISO, "BOX-DELIVERY-ID": "f96bb54b-ee16-4fc5-aa65-8c2d9e5b546f",
       "BOX-SIGNATURE-PRIMARY": b64(mac(SECRET, d + TS_ISO)),
       "BOX-SIGNATURE-SECONDARY": b64(mac("box-secondary-key-0000", d + TS_ISO))}, d, id="7e1d0c9a-box")
mid = "befa7b53-d79d-478f-86b9-120f112b044e"
d = body(subscription={"type": "channel.follow"}, event={"user_name": "ana"})
write("twitch", built("dev.twitch.tv/docs/eventsub/handling-webhook-events"), SECRET,
      {"Twitch-Eventsub-Message-Id": mid, "Twitch-Eventsub-Message-Timestamp": TS_ISO,
       "Twitch-Eventsub-Message-Signature": "sha256=" + hx(mac(SECRET, mid + TS_ISO + d))}, d, id=mid)
token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
d = json.dumps({"signature": {"timestamp": TS, "token": token, "signature": hx(mac(SECRET, TS + token))},
                "event-data": {"event": "delivered", "id": "CPgfbmQMTCKtHW6uIWtuVe"}}, separators=(",", ":"))
write("mailgun", built("documentation.mailgun.com securing-webhooks; only {timestamp}{token} is signed"), SECRET,
      {"Content-Type": "application/json"}, d, id=token, tamper=token)
d = body(notification_type="upload", public_id="sample", version=1700000000)
write("cloudinary", built("cloudinary.com/documentation/notification_signatures (SHA-1 of body+ts+secret)"), SECRET,
      {"X-Cld-Timestamp": TS, "X-Cld-Signature": hashlib.sha1((d + TS + SECRET).encode()).hexdigest()}, d)

d = json.dumps([{"eventId": 1700000001, "subscriptionType": "contact.creation", "objectId": 123}], separators=(",", ":"))
hs_url = "https://hooks.example.com/hubspot?portal=62515&name=caf%C3%A9%3A%2Fa%28b%29"
hs_uri = hs_url
for c in ":/?@!$'()*,;":
    hs_uri = hs_uri.replace("%%%02X" % ord(c), c).replace(("%%%02X" % ord(c)).lower(), c)
write("hubspot", built("developers.hubspot.com/docs/api/webhooks/validating-requests (v3; listed escapes decoded)"), SECRET,
      {"X-HubSpot-Request-Timestamp": TS_MS,
       "X-HubSpot-Signature-v3": b64(mac(SECRET, "POST" + hs_uri + d + TS_MS))}, d, url=hs_url)

# Family D: the body alone.
def body_only(name, header, prefix, alg, enc, doc, secret=SECRET, key=None, id_field=None, extra=None):
    fields = {"id": "evt_" + name + "_7", "type": "thing.updated", "note": "café ☕"}
    fields.update(extra or {})
    d = body(**fields)
    raw = mac(key if key is not None else secret, d, alg)
    sig = prefix + (b64(raw) if enc == "b64" else hx(raw))
    write(name, built(doc), secret, {header: sig, "Content-Type": "application/json"}, d,
          id=(fields["id"] if id_field == "id" else ""))


S1 = hashlib.sha1
S2 = hashlib.sha256
body_only("gitea", "X-Gitea-Signature", "", S2, "hex", "docs.gitea.com/usage/webhooks")
body_only("bitbucket", "X-Hub-Signature", "sha256=", S2, "hex", "bitbucket.org/blog/enhanced-webhook-security")
body_only("meta", "X-Hub-Signature-256", "sha256=", S2, "hex", "developers.facebook.com webhooks getting-started#validate-payloads")
body_only("intercom", "X-Hub-Signature", "sha1=", S1, "hex", "developers.intercom.com/docs/webhooks", id_field="id")
body_only("notion", "X-Notion-Signature", "sha256=", S2, "hex", "developers.notion.com/reference/webhooks", id_field="id")
body_only("mollie", "X-Mollie-Signature", "sha256=", S2, "hex", "docs.mollie.com/reference/webhooks-new", id_field="id")
body_only("twitter", "x-twitter-webhooks-signature", "sha256=", S2, "b64", "developer.x.com account-activity-api securing-webhooks")
body_only("circleci", "circleci-signature", "v1=", S2, "hex", "circleci.com/docs/outbound-webhooks", id_field="id")
body_only("woocommerce", "X-WC-Webhook-Signature", "", S2, "b64", "woocommerce.github.io/woocommerce-rest-api-docs/#webhooks")
body_only("line", "x-line-signature", "", S2, "b64", "developers.line.biz messaging-api#signature-validation")
body_only("sentry", "Sentry-Hook-Signature", "", S2, "hex", "docs.sentry.io integration-platform/webhooks")
body_only("vercel", "x-vercel-signature", "", S1, "hex", "vercel.com/docs/webhooks/webhooks-api#securing-webhooks", id_field="id")
body_only("razorpay", "X-Razorpay-Signature", "", S2, "hex", "razorpay.com/docs/webhooks/validate-test")
body_only("lemonsqueezy", "X-Signature", "", S2, "hex", "docs.lemonsqueezy.com/help/webhooks/signing-requests")
body_only("alchemy", "X-Alchemy-Signature", "", S2, "hex", "docs.alchemy.com notify-api-quickstart#webhook-signature--security", id_field="id")
body_only("calcom", "X-Cal-Signature-256", "", S2, "hex", "cal.com/docs webhooks#verifying-the-authenticity")
adyen_hex = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
body_only("adyen", "HmacSignature", "", S2, "b64", "docs.adyen.com verify-hmac-signatures (hex key)",
          secret=adyen_hex, key=bytes.fromhex(adyen_hex))
body_only("dropbox", "X-Dropbox-Signature", "", S2, "hex", "dropbox.com/developers/reference/webhooks")
body_only("nylas", "X-Nylas-Signature", "", S2, "hex", "developer.nylas.com/docs/v3/notifications/webhooks", id_field="id")
body_only("gocardless", "Webhook-Signature", "", S2, "hex", "developer.gocardless.com staying-up-to-date-with-webhooks")
body_only("xero", "x-xero-signature", "", S2, "b64", "developer.xero.com webhooks configuring-your-server")
body_only("coinbase-commerce", "X-CC-Webhook-Signature", "", S2, "hex", "docs.cdp.coinbase.com commerce webhooks-security")
body_only("dub", "Dub-Signature", "", S2, "hex", "dub.co/docs/concepts/webhooks/verify-webhook-requests", id_field="id")
body_only("asana", "X-Hook-Signature", "", S2, "hex", "developers.asana.com/docs/webhooks-guide")
mac_secret = base64.b64encode(b"airtable-mac-secret-0123456789ab").decode()
body_only("airtable", "X-Airtable-Content-MAC", "hmac-sha256=", S2, "hex", "airtable.com webhooks-overview (macSecretBase64 decoded)",
          secret=mac_secret, key=base64.b64decode(mac_secret))
body_only("onfido", "X-SHA2-Signature", "", S2, "hex", "Onfido manual-webhook-signature-verification")
body_only("jira", "X-Hub-Signature", "sha256=", S2, "hex", "developer.atlassian.com jira webhooks#secure-admin-webhooks")
body_only("checkout", "Cko-Signature", "", S2, "hex", "checkout.com set-up-your-webhook-receiver", id_field="id")
body_only("docusign", "X-DocuSign-Signature-1", "", S2, "b64", "developers.docusign.com/platform/webhooks/connect/hmac")

d = body(eventId="tally_evt_4", eventType="FORM_RESPONSE", data={"formId": "w4Xz"})
write("tally", built("tally.so/help/webhooks"), SECRET, {"Tally-Signature": b64(mac(SECRET, d))}, d, id="tally_evt_4")
d = body(messageId="ajs-next-1700000000", type="track", event="Signed Up")
write("segment", built("Segment Webhooks (Actions) destination (hex HMAC-SHA1)"), SECRET,
      {"X-Signature": hx(mac(SECRET, d, hashlib.sha1))}, d, id="ajs-next-1700000000")
d = body(call_id="c9d8e7f6", status="completed", summary="café")
write("bland", built("docs.bland.ai/tutorials/webhook-signing"), SECRET,
      {"X-Webhook-Signature": hx(mac(SECRET, d))}, d, id="c9d8e7f6")
d = body(event_id="01HGW4TYPE", event_type="form_response", form_response={"form_id": "lT4Z3j"})
write("typeform", built("typeform.com/developers/webhooks/secure-your-webhooks"), SECRET,
      {"Typeform-Signature": "sha256=" + b64(mac(SECRET, d))}, d, id="01HGW4TYPE")
d = body(event={"id": "01DEN4HPBQAJQCNHDXM7B7Y5EW", "event_type": "incident.triggered"})
write("pagerduty", built("developer.pagerduty.com/docs/webhooks/webhook-signatures (two v1, the second ours)"), SECRET,
      {"X-PagerDuty-Signature": "v1=" + hx(mac("rotated-out-secret", d)) + ",v1=" + hx(mac(SECRET, d))}, d,
      id="01DEN4HPBQAJQCNHDXM7B7Y5EW")
d = json.dumps({"action": "create", "type": "Issue", "data": {"id": "lin_1"}, "webhookTimestamp": NOW * 1000}, separators=(",", ":"))
write("linear", built("linear.app/developers/webhooks (webhookTimestamp in ms)"), SECRET,
      {"Linear-Signature": hx(mac(SECRET, d)), "Linear-Delivery": "234d1a4e-b617-4388-90fe-adc3633d6b72"}, d)

# Frame.io: "v0=<hex>" over "v0:{ts}:{body}", seconds.
d = body(type="file.ready", resource={"id": "d3075547-4e64-45f0-ad12-d075660eddd2", "type": "file"},
         account={"id": "6f70f1bd-7e89-4a7e-b4d3-7e576585a181"})
write("frameio", built("AdobeDocs/frameio-api guides/Webhooks (Verifying Webhook Signatures)"), SECRET,
      {"X-Frameio-Request-Timestamp": TS, "X-Frameio-Signature": "v0=" + hx(mac(SECRET, "v0:" + TS + ":" + d)),
       "Content-Type": "application/json"}, d)
# Gusto: hex HMAC-SHA256 of the body keyed with the verification_token; ID "uuid".
gtoken = "6590f590-3dba-495e-9bea-c361e1e2efc0"
d = body(uuid="f7397a24-57ad-4fae-b011-d258e8232900", event_type="company.provisioned",
         entity_type="Company", timestamp=1671058841)
write("gusto", built("docs.gusto.com/app-integrations/docs/webhooks (Verifying event integrity)"), gtoken,
      {"X-Gusto-Signature": hx(mac(gtoken, d)), "Content-Type": "application/json"}, d,
      id="f7397a24-57ad-4fae-b011-d258e8232900")
# Doppler: "sha256=<hex>" of the body; no ID.
d = body(type="config.secrets.update", config={"name": "dev_2", "environment": "dev"},
         project={"id": "714faaa5958", "name": "Backend"})
write("doppler", built("docs.doppler.com/docs/webhooks (request signing)"), SECRET,
      {"X-Doppler-Signature": "sha256=" + hx(mac(SECRET, d)), "Content-Type": "application/json"}, d)
