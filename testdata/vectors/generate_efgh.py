#!/usr/bin/env python3
# Builds the vectors of families E to H (mandrill, square, trello, telnyx,
# sendgrid, qstash, netlify, vonage, messagebird and the shared-token
# presets) with Python's standard library and pyca/cryptography only,
# independently of the Go package under test. Run from anywhere:
#   python3 testdata/vectors/generate_efgh.py
import base64, hashlib, hmac, json, os, urllib.parse
from cryptography.hazmat.primitives.asymmetric import ed25519

NOW = 1700000000
OUT = os.path.dirname(os.path.abspath(__file__)) + "/"

def write(name, v):
    v.setdefault("method", "POST")
    v.setdefault("now", NOW)
    v.setdefault("id", "")
    with open(OUT + name + ".json", "w") as f:
        json.dump(v, f, indent=2, ensure_ascii=False)
        f.write("\n")

def b64(b): return base64.b64encode(b).decode()
def b64url(b): return base64.urlsafe_b64encode(b).decode().rstrip("=")
def mac(alg, key, msg): return hmac.new(key.encode(), msg.encode() if isinstance(msg, str) else msg, alg).digest()

def jwt(key, claims):
    h = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    s = b64url(hmac.new(key.encode(), (h + "." + p).encode(), hashlib.sha256).digest())
    return h + "." + p + "." + s

# Mandrill: base64 HMAC-SHA1(url + sorted name+value).
url = "https://hooks.example.com/mandrill/events"
events = json.dumps([{"event": "send", "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa", "ts": NOW, "msg": {"email": "example.webhook@mandrillapp.com", "subject": "This an example webhook message"}}], separators=(",", ":"))
body = urllib.parse.urlencode({"mandrill_events": events})
key = "mdr-webhook-key-Zk3pQ8vL2n"
write("mandrill", {"scheme": "mandrill", "source": "No published vector: built (generate_efgh.py) from Mailchimp Transactional's 'Authenticating webhook requests' steps (URL as configured + POST fields sorted by key, name+value, HMAC-SHA1, base64) with Python hmac/hashlib",
    "secret": key, "url": url, "headers": {"X-Mandrill-Signature": b64(mac(hashlib.sha1, key, url + "mandrill_events" + events)), "Content-Type": "application/x-www-form-urlencoded"}, "body": body})

# Square: base64 HMAC-SHA256(notification URL + body); ID event_id.
url = "https://hooks.example.com/square"
body = json.dumps({"merchant_id": "6SSW7HV8K2ST5", "type": "payment.created", "event_id": "13b867cf-db3d-4b1c-90b6-2f32a9d78124", "created_at": "2023-11-14T22:13:20Z", "data": {"type": "payment", "id": "KkAkhdMsgzn59SM8A89WgKwekxLZY", "object": {"payment": {"amount_money": {"amount": 100, "currency": "USD"}, "status": "APPROVED"}}}}, separators=(",", ":"))
key = "sq-signature-key-4f8Qm1xT"
write("square", {"scheme": "square", "source": "No published vector: built (generate_efgh.py) from developer.squareup.com/docs/webhooks/step3validate (HMAC-SHA256 of notification URL + raw body, base64) with Python hmac/hashlib; body shaped after the docs' payment.created example",
    "secret": key, "url": url, "headers": {"x-square-hmacsha256-signature": b64(mac(hashlib.sha256, key, url + body)), "Content-Type": "application/json"}, "body": body, "id": "13b867cf-db3d-4b1c-90b6-2f32a9d78124"})

# Trello: base64 HMAC-SHA1(body + callbackURL); ID action.id.
url = "https://hooks.example.com/trello?board=5f3a"
body = json.dumps({"model": {"id": "4d5ea62fd76aa1136000000c", "name": "Roadmap"}, "action": {"id": "5f3b6a2c8e1d4a0012345678", "type": "updateCard", "date": "2023-11-14T22:13:20.000Z", "data": {"card": {"id": "5f3b6a2c8e1d4a0087654321", "name": "Café ☕"}}}}, separators=(",", ":"), ensure_ascii=False)
key = "trello-app-secret-9d2c7e41b0"
write("trello", {"scheme": "trello", "source": "No published vector: built (generate_efgh.py) from developer.atlassian.com Trello webhooks ('Webhook Signatures': base64 HMAC-SHA1 of body + callbackURL, app secret as key) with Python hmac/hashlib",
    "secret": key, "url": url, "headers": {"X-Trello-Webhook": b64(mac(hashlib.sha1, key, (body + url).encode())), "Content-Type": "application/json"}, "body": body, "id": "5f3b6a2c8e1d4a0012345678"})

# Telnyx: base64 Ed25519 over "{ts}|{body}", base64 public key; ID data.id.
priv = ed25519.Ed25519PrivateKey.from_private_bytes(bytes([0x24]) * 32)
pub = priv.public_key().public_bytes_raw()
body = json.dumps({"data": {"event_type": "message.received", "id": "b301ed3f-1490-491f-995f-6e64e69674d4", "occurred_at": "2023-11-14T22:13:20.000+00:00", "payload": {"text": "Hello ☕", "to": [{"phone_number": "+13125550100"}]}, "record_type": "event"}, "meta": {"attempt": 1, "delivered_to": "https://hooks.example.com/telnyx"}}, separators=(",", ":"), ensure_ascii=False)
ts = str(NOW)
write("telnyx", {"scheme": "telnyx", "source": "No published vector (generate_efgh.py): Ed25519 key from the seed 32*0x24 with pyca/cryptography, signature over '{timestamp}|{body}' as Telnyx's SDK helpers verify it (developers.telnyx.com, webhooks)",
    "secret": b64(pub), "url": "https://hooks.example.com/telnyx", "headers": {"telnyx-signature-ed25519": b64(priv.sign((ts + "|" + body).encode())), "telnyx-timestamp": ts, "Content-Type": "application/json"}, "body": body, "id": "b301ed3f-1490-491f-995f-6e64e69674d4"})

# SendGrid: the sendgrid-go eventwebhook test vector, unchanged.
write("sendgrid", {"scheme": "sendgrid", "source": "sendgrid-go helpers/eventwebhook/eventwebhook_test.go: testPublicKey, signature and timestamp 1588788367 over the JSON of {category, event, message_id} (also in @sendgrid/eventwebhook's tests)",
    "secret": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==",
    "url": "https://hooks.example.com/sendgrid", "headers": {"X-Twilio-Email-Event-Webhook-Signature": "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=",
    "X-Twilio-Email-Event-Webhook-Timestamp": "1588788367", "Content-Type": "application/json"},
    "body": '{"category":"example_payload","event":"test_event","message_id":"message_id"}', "now": 1588788367})

# QStash: HS256 JWT, iss Upstash, sub URL, body b64url(sha256) with padding as in the docs' example.
url = "https://hooks.example.com/qstash"
body = '{"hello":"world","note":"café ☕"}'
key = "sig_7kYjw48mBfvZHMzLsRQ8x3Ak"
claims = {"iss": "Upstash", "sub": url, "exp": NOW + 290, "nbf": NOW - 10, "iat": NOW - 10, "jti": "jwt_67kxXD6UBAk7DqU6hzuHMDdXFXfP", "body": base64.urlsafe_b64encode(hashlib.sha256(body.encode()).digest()).decode()}
write("qstash", {"scheme": "qstash", "source": "No published vector (generate_efgh.py): HS256 JWT with the claims of upstash.com/docs/qstash/features/security (iss, sub, exp, nbf, iat, jti, body = base64url SHA-256 with padding, as in its example) built with Python hmac/hashlib/base64",
    "secret": key, "url": url, "headers": {"Upstash-Signature": jwt(key, claims), "Upstash-Message-Id": "msg_unsigned_header", "Content-Type": "application/json"}, "body": body, "id": "jwt_67kxXD6UBAk7DqU6hzuHMDdXFXfP"})

# Netlify: HS256 JWS, iss netlify, sha256 hex of body.
body = json.dumps({"id": "5ebc34bf4fea0b01f02efa3a", "site_id": "fa4dd95a-994e-4f89-8a7a-2d9e9fc36a32", "state": "ready", "name": "www-example", "branch": "main", "context": "production"}, separators=(",", ":"))
key = "netlify-jws-secret-b81f02"
write("netlify", {"scheme": "netlify", "source": "No published vector (generate_efgh.py): HS256 JWS with the claims of docs.netlify.com deploy notifications 'Payload signature' (iss netlify, sha256 = hex SHA-256 of the body) built with Python hmac/hashlib/base64",
    "secret": key, "url": "https://hooks.example.com/netlify", "headers": {"X-Webhook-Signature": jwt(key, {"iss": "netlify", "sha256": hashlib.sha256(body.encode()).hexdigest()}), "Content-Type": "application/json"}, "body": body})

# Vonage: Authorization: Bearer JWT with iat, jti, payload_hash hex, api_key.
body = json.dumps({"message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab", "to": "447700900000", "from": "447700900001", "timestamp": "2023-11-14T22:13:20Z", "status": "delivered", "channel": "sms"}, separators=(",", ":"))
key = "vonage-signature-secret-XS8f2"
claims = {"iat": NOW - 5, "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5", "iss": "Vonage", "payload_hash": hashlib.sha256(body.encode()).hexdigest(), "api_key": "a1b2c3d4", "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"}
write("vonage", {"scheme": "vonage", "source": "No published vector (generate_efgh.py): HS256 JWT with the claims of developer.vonage.com 'Decoding signed webhooks' (iat, jti, payload_hash = hex SHA-256 of the body, api_key) built with Python hmac/hashlib/base64",
    "secret": key, "url": "https://hooks.example.com/vonage/status", "headers": {"Authorization": "Bearer " + jwt(key, claims), "Content-Type": "application/json"}, "body": body, "id": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5"})

# MessageBird: iss, nbf, exp, jti, url_hash, payload_hash (hex SHA-256).
url = "https://hooks.example.com/messagebird?reference=order-42"
body = json.dumps({"id": "e8077d803532c0b5937c639b60216938", "status": "delivered", "statusDatetime": "2023-11-14T22:13:20+00:00", "recipient": 31612345678}, separators=(",", ":"))
key = "mb-signing-key-PlKqW8eR2y"
claims = {"iss": "MessageBird", "nbf": NOW - 5, "exp": NOW + 295, "jti": "e7a7b2b4-6f2a-4bb9-8d4f-5a2b9c1d0e3f", "url_hash": hashlib.sha256(url.encode()).hexdigest(), "payload_hash": hashlib.sha256(body.encode()).hexdigest()}
write("messagebird", {"scheme": "messagebird", "source": "No published vector (generate_efgh.py): HS256 JWT with the claims listed by messagebird-ruby RequestValidator and go-rest-api signature_jwt (iss, nbf, exp, jti, url_hash, payload_hash = hex SHA-256) built with Python hmac/hashlib/base64",
    "secret": key, "url": url, "headers": {"MessageBird-Signature-JWT": jwt(key, claims), "Content-Type": "application/json"}, "body": body, "id": "e7a7b2b4-6f2a-4bb9-8d4f-5a2b9c1d0e3f"})

# Static header tokens.
for name, header, value, src, body in [
    ("telegram", "X-Telegram-Bot-Api-Secret-Token", "tg_Secret-Token_0123456789", "core.telegram.org/bots/api#setwebhook: setWebhook's secret_token is sent verbatim as X-Telegram-Bot-Api-Secret-Token; body a minimal Update", '{"update_id":10000,"message":{"message_id":1365,"date":1700000000,"chat":{"id":1111111,"type":"private"},"text":"/start café"}}'),
    ("cloudflare", "cf-webhook-auth", "cf-notify-secret-51a9e0", "developers.cloudflare.com notifications webhooks: the destination's secret is sent verbatim as cf-webhook-auth", '{"name":"Origin monitor","text":"Origin 203.0.113.10 is unreachable","data":{"unreachable":true},"ts":1700000000,"account_id":"023e105f4ecef8ad9ca31a8372d0c353"}'),
    ("vapi", "X-Vapi-Secret", "vapi-server-secret-c19b", "docs.vapi.ai server authentication: the X-Vapi-Secret credential is sent verbatim as X-Vapi-Secret", '{"message":{"type":"status-update","status":"ended","call":{"id":"4e3f8a2c-1b2d-4c5e-9f00-abcdef012345"}}}'),
    ("auth0", "Authorization", "Bearer auth0-stream-token-77e1", "auth0.com custom webhook log streams: the Authorization Token is sent verbatim as the Authorization header", '[{"log_id":"90020231114221320000000000000000000000000000000000000000","data":{"type":"s","description":"Success Login","date":"2023-11-14T22:13:20.000Z"}}]'),
    ("okta", "Authorization", "okta-hook-secret-3c0f21", "help.okta.com event hooks: the Authentication secret is sent in the Authentication field's header (Authorization here)", '{"eventType":"com.okta.event_hook","eventId":"b5a188b9-5ece-4636-b041-482ffda96311","data":{"events":[{"uuid":"a1b2c3d4-0000-11ee-8c99-0242ac120002","eventType":"user.session.start"}]}}'),
]:
    write(name, {"scheme": name, "source": src, "secret": value, "url": "https://hooks.example.com/" + name, "headers": {header: value, "Content-Type": "application/json"}, "body": body})

# Basic auth: Authorization: Basic base64(user:password).
for name, pair, src, body in [
    ("chargebee", "cb-hooks:Pw-1f8e3a9c", "chargebee.com/docs/2.0/webhook_settings.html: basic authentication configured on the webhook", '{"id":"ev_16BHbhF4s42tO2lK","occurred_at":1700000000,"event_type":"subscription_created","content":{"subscription":{"id":"16BHbhF4s42tO2lJ","status":"active"}}}'),
    ("pipedrive", "pd-hooks:Pw-7a2b4c6d", "pipedrive.readme.io/docs/guide-for-webhooks: http_auth_user/http_auth_password sent as basic auth", '{"meta":{"id":"0d2c3f5a-9e8b-4a7c-b6d5-e4f3a2b1c0d9","action":"create","entity":"deal","timestamp":1700000000},"data":{"id":42,"title":"Café deal"}}'),
    ("postmark", "pm-hooks:Pw-0e9d8c7b", "postmarkapp.com webhooks overview: https://<username>:<password>@host/path, sent as basic auth", '{"RecordType":"Delivery","MessageID":"883953f4-6105-42a2-a16a-77a8eac79483","Recipient":"john@example.com","DeliveredAt":"2023-11-14T22:13:20Z","ServerID":23}'),
]:
    write(name, {"scheme": name, "source": src, "secret": pair, "url": "https://hooks.example.com/" + name, "headers": {"Authorization": "Basic " + b64(pair.encode()), "Content-Type": "application/json"}, "body": body})

# Mailchimp: secret in the URL's query; form body.
secret = "mc-list-secret-a1b2c3d4"
write("mailchimp", {"scheme": "mailchimp", "source": "mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks: webhooks are unsigned; a secret in the webhook URL's query string authenticates them; form-encoded body as in the guide's subscribe example",
    "secret": secret, "url": "https://hooks.example.com/mailchimp?secret=" + secret, "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    "body": "type=subscribe&fired_at=2023-11-14+22%3A13%3A20&data%5Bid%5D=8a25ff1d98&data%5Blist_id%5D=a6b5da1054&data%5Bemail%5D=api%40mailchimp.com&data%5Bemail_type%5D=html&data%5Bmerges%5D%5BFNAME%5D=Caf%C3%A9&data%5Bip_opt%5D=10.20.10.30"})

# Figma: passcode in the JSON body (at the start, so the middle byte the tampered twin flips is not in it).
passcode = "figma-passcode-5e6f7a8b"
write("figma", {"scheme": "figma", "source": "developers.figma.com/docs/rest-api/webhooks-security: the passcode given at creation comes back in every event's passcode field",
    "secret": passcode, "url": "https://hooks.example.com/figma", "headers": {"Content-Type": "application/json"},
    "body": json.dumps({"passcode": passcode, "event_type": "FILE_VERSION_UPDATE", "file_key": "abcDEF123ghiJKL", "file_name": "Café designs", "timestamp": "2023-11-14T22:13:20Z", "webhook_id": "22", "version_id": "1234567890", "triggered_by": {"id": "1", "handle": "Jane"}}, separators=(",", ":"), ensure_ascii=False)})
