package store

// The Lua scripts of the Redis store. Redis runs each script atomically,
// which is what makes a claim, a token check and its write one step.
// Times are 16-digit hex strings (hexTime), compared as strings: Lua's
// numbers are doubles and could not hold nanoseconds exactly.
//
// Key layout under the prefix P (IDs never contain '/'):
//
//	P d:<key>            dedupe claim (encodeRedisClaim)
//	P ep:<id>            endpoint (JSON); P eps is the set of endpoint IDs
//	P ev:<id>            event (encodeEvent); P evs orders event IDs (sorted set, by ID)
//	P evexp              every event ID again, behind hex(expiry), so that
//	                     evs drops events past retention in order
//	P evdl:<id>          an event's delivery IDs (sorted set, by ID)
//	P dl:<id>            delivery (hash, below)
//	P idem:<key>         idempotency key: hex expiry + event ID
//	P q:due              pending deliveries, member hex(NextAttemptAt)+ID
//	P q:lease            delivering ones, member hex(LeaseUntil)+ID
//	P q:exp              every queued delivery's member again, behind
//	                     hex(expiry) and its set's tag ('d' or 'l'), so
//	                     entries past retention can be dropped in order
//
// The sorted sets give every member score 0, so they order by the member's
// bytes: by due time, then ID. A delivery's hash holds:
//
//	rec   the Delivery as the caller last stored it (JSON)
//	ev ep its event and endpoint IDs
//	exp   hex logical expiry (the event's retention)
//	st tok lu   status, lease token and hex LeaseUntil, as the scripts judge them
//	lut ua      LeaseUntil and UpdatedAt set by the last claim (RFC 3339),
//	            which override rec's until the next UpdateDelivery
//	q     where it is queued: tag + member, or empty
//
// Every key of an event carries a Redis expiry of its retention plus a
// margin; the sorted sets have none, and their stale members are dropped
// when met.

// reserveScript takes over a dedupe key whose claim has lapsed by the
// caller's clock (Redis may still hold it until its own expiry).
// KEYS: the claim. ARGV: now, the new claim, its Redis expiry in ms.
// Returns {1, ""} when claimed, or {0, the current claim}.
var reserveScript = newLuaScript(`
local cur = redis.call('GET', KEYS[1])
if cur and string.sub(cur, 2, 17) > ARGV[1] then
	return {0, cur}
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return {1, ''}
`)

// ownerScript replaces (or, given an empty value, deletes) an in-flight
// claim if the token holds it under a live lease.
// KEYS: the claim. ARGV: now, token, new value or "", its expiry in ms.
// Returns 1 when done, 0 when the token does not own the claim.
var ownerScript = newLuaScript(`
local cur = redis.call('GET', KEYS[1])
if not cur or string.sub(cur, 1, 1) ~= 'I' or string.sub(cur, 2, 17) <= ARGV[1]
	or string.sub(cur, 18) ~= ARGV[2] then
	return 0
end
if ARGV[3] == '' then
	redis.call('DEL', KEYS[1])
else
	redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
end
return 1
`)

// queueLib is the queue bookkeeping the outbound scripts share. P is the
// prefix.
const queueLib = `
local P = ARGV[1]
local function qset(tag)
	if tag == 'd' then return P .. 'q:due' end
	return P .. 'q:lease'
end
-- dequeue removes the delivery's queue entry q (tag + member), if any.
local function dequeue(key, q, exp)
	if q and q ~= '' then
		redis.call('ZREM', qset(string.sub(q, 1, 1)), string.sub(q, 2))
		redis.call('ZREM', P .. 'q:exp', exp .. q)
		redis.call('HSET', key, 'q', '')
	end
end
-- enqueue queues delivery id at hex time at in the tag's set.
local function enqueue(key, id, tag, at, exp)
	local m = at .. id
	redis.call('ZADD', qset(tag), 0, m)
	redis.call('ZADD', P .. 'q:exp', 0, exp .. tag .. m)
	redis.call('HSET', key, 'q', tag .. m)
end
`

// createScript stores an event and its deliveries, unless its
// idempotency key names an event still kept.
// ARGV: prefix, now, expiry, Redis TTL in ms, event ID, event record,
// idempotency key ("" for none), delivery count, then per delivery: ID,
// rec, endpoint ID, status, token, hex LeaseUntil, queue tag ("" for
// none), hex queue time.
// Returns {1} when created, {0, event ID} for the key's event, or
// {-1, message} when an ID is in use.
var createScript = newLuaScript(queueLib + `
local now, exp, ttl, id, rec, idem = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local evKey = P .. 'ev:' .. id
if idem ~= '' then
	local cur = redis.call('GET', P .. 'idem:' .. idem)
	if cur and string.sub(cur, 1, 16) > now then
		local first = string.sub(cur, 17)
		if redis.call('EXISTS', P .. 'ev:' .. first) == 1 then
			return {0, first}
		end
	end
end
local have = redis.call('GET', evKey)
if have then
	if have == rec then
		return {1} -- this very write, retried after a lost reply
	end
	return {-1, 'event ID ' .. id .. ' already exists'}
end
local n = tonumber(ARGV[8])
for i = 0, n - 1 do
	local did = ARGV[9 + i * 8]
	if redis.call('EXISTS', P .. 'dl:' .. did) == 1 then
		return {-1, 'delivery ID ' .. did .. ' already exists'}
	end
end
redis.call('SET', evKey, rec, 'PX', ttl)
redis.call('ZADD', P .. 'evs', 0, id)
redis.call('ZADD', P .. 'evexp', 0, exp .. id)
local index = P .. 'evdl:' .. id
for i = 0, n - 1 do
	local b = 9 + i * 8
	local did = ARGV[b]
	local key = P .. 'dl:' .. did
	redis.call('HSET', key, 'rec', ARGV[b + 1], 'ev', id, 'ep', ARGV[b + 2], 'exp', exp,
		'st', ARGV[b + 3], 'tok', ARGV[b + 4], 'lu', ARGV[b + 5], 'q', '')
	if ARGV[b + 6] ~= '' then
		enqueue(key, did, ARGV[b + 6], ARGV[b + 7], exp)
	end
	redis.call('PEXPIRE', key, ttl)
	redis.call('ZADD', index, 0, did)
end
if n > 0 then
	redis.call('PEXPIRE', index, ttl)
end
if idem ~= '' then
	redis.call('SET', P .. 'idem:' .. idem, exp .. id, 'PX', ttl)
end
return {1}
`)

// claimScript leases up to limit due deliveries, earliest due first:
// pending ones due by now and delivering ones whose lease lapsed by now
// (their worker died). Entries whose delivery is gone, past retention or
// queued elsewhere are dropped on the way, at most 1000 per call.
// ARGV: prefix, "(" + hex(now+1ns), store clock, limit, token, hex
// LeaseUntil, LeaseUntil and UpdatedAt (RFC 3339).
// Returns the claimed deliveries' rec fields, in order.
var claimScript = newLuaScript(queueLib + `
local bound, clock, limit, token, lu, lut, ua = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local out, drops = {}, 0
while #out < limit and drops < 1000 do
	local a = redis.call('ZRANGEBYLEX', P .. 'q:due', '-', bound, 'LIMIT', 0, 1)[1]
	local b = redis.call('ZRANGEBYLEX', P .. 'q:lease', '-', bound, 'LIMIT', 0, 1)[1]
	local m, tag
	if a and (not b or a <= b) then
		m, tag = a, 'd'
	elseif b then
		m, tag = b, 'l'
	else
		break
	end
	local id = string.sub(m, 17)
	local key = P .. 'dl:' .. id
	local f = redis.call('HMGET', key, 'q', 'exp', 'rec')
	if f[1] ~= tag .. m or not f[2] or f[2] <= clock then
		redis.call('ZREM', qset(tag), m)
		if f[2] then
			redis.call('ZREM', P .. 'q:exp', f[2] .. tag .. m)
		end
		if f[1] == tag .. m then
			redis.call('HSET', key, 'q', '')
		end
		drops = drops + 1
	else
		dequeue(key, f[1], f[2])
		redis.call('HSET', key, 'st', 'delivering', 'tok', token, 'lu', lu, 'lut', lut, 'ua', ua)
		enqueue(key, id, 'l', lu, f[2])
		out[#out + 1] = f[3]
	end
end
return out
`)

// updateScript stores a delivery if the caller may: with a token, the
// token must hold it under a live lease; without, nobody may.
// ARGV: prefix, ID, store clock, token, event ID, endpoint ID, rec,
// status, new token, hex LeaseUntil, queue tag ("" for none), hex queue
// time.
// Returns "ok", "not_found", "not_owner", or "moved:<event>:<endpoint>".
var updateScript = newLuaScript(queueLib + `
local id, clock, token = ARGV[2], ARGV[3], ARGV[4]
local key = P .. 'dl:' .. id
local f = redis.call('HMGET', key, 'exp', 'st', 'tok', 'lu', 'ev', 'ep', 'q')
if not f[1] or f[1] <= clock then
	return 'not_found'
end
local held = f[2] == 'delivering' and clock < f[4]
local allowed = not held
if token ~= '' then
	allowed = held and f[3] == token
end
if not allowed then
	return 'not_owner'
end
if f[5] ~= ARGV[5] or f[6] ~= ARGV[6] then
	return 'moved:' .. f[5] .. ':' .. f[6]
end
dequeue(key, f[7], f[1])
redis.call('HSET', key, 'rec', ARGV[7], 'st', ARGV[8], 'tok', ARGV[9], 'lu', ARGV[10])
redis.call('HDEL', key, 'lut', 'ua')
if ARGV[11] ~= '' then
	enqueue(key, id, ARGV[11], ARGV[12], f[1])
end
return 'ok'
`)

// depthScript drops the queue entries of deliveries past retention and
// the listing entries of events past it (at most 10,000 of each per call),
// then counts the queue. The webhooks app calls it every few seconds, which
// keeps the sorted sets from growing with events long gone.
// ARGV: prefix, "(" + hex(clock+1ns), "(" + hex(now+1ns), "[" + hex(now+1ns).
// Returns {due, scheduled}.
var depthScript = newLuaScript(queueLib + `
local expired = redis.call('ZRANGEBYLEX', P .. 'q:exp', '-', ARGV[2], 'LIMIT', 0, 10000)
for _, e in ipairs(expired) do
	local tag, m = string.sub(e, 17, 17), string.sub(e, 18)
	redis.call('ZREM', qset(tag), m)
	redis.call('ZREM', P .. 'q:exp', e)
	local key = P .. 'dl:' .. string.sub(m, 17)
	if redis.call('HGET', key, 'q') == tag .. m then
		redis.call('HSET', key, 'q', '')
	end
end
for _, e in ipairs(redis.call('ZRANGEBYLEX', P .. 'evexp', '-', ARGV[2], 'LIMIT', 0, 10000)) do
	redis.call('ZREM', P .. 'evs', string.sub(e, 17))
	redis.call('ZREM', P .. 'evexp', e)
end
local due = redis.call('ZLEXCOUNT', P .. 'q:due', '-', ARGV[3]) + redis.call('ZLEXCOUNT', P .. 'q:lease', '-', ARGV[3])
return {due, redis.call('ZLEXCOUNT', P .. 'q:due', ARGV[4], '+')}
`)

// loadEventScript reads an event and its deliveries at one instant.
// ARGV: prefix, event ID.
// Returns {event record or false, then per delivery: its hash as
// HMGET rec exp st tok lut ua}.
var loadEventScript = newLuaScript(`
local P = ARGV[1]
local out = {redis.call('GET', P .. 'ev:' .. ARGV[2])}
if not out[1] then
	return out
end
for _, did in ipairs(redis.call('ZRANGE', P .. 'evdl:' .. ARGV[2], 0, -1)) do
	local f = redis.call('HMGET', P .. 'dl:' .. did, 'rec', 'exp', 'st', 'tok', 'lut', 'ua')
	if f[1] then
		for _, v in ipairs(f) do
			out[#out + 1] = v
		end
	end
end
return out
`)
