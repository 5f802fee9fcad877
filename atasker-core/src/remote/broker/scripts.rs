//! The Lua scripts the Redis engine runs: each one step that must be atomic on the server.

/// Removes an entry no consumer holds (atomically: a node cannot take it in between).
pub(super) const CANCEL: &str = r"
local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[2], ARGV[1], ARGV[1], 1)
if ok and #p > 0 then return 0 end
return redis.call('XDEL', KEYS[1], ARGV[1])
";

/// Acknowledges and deletes a taken entry, and sends its reply (ARGV[4..] are field-value
/// pairs; ARGV[3] the reply stream's TTL in ms; KEYS[2] the reply stream, if any).
/// A reply stream that is not one (a key of another type, named by a malformed entry) is
/// skipped: `redis.pcall`, so that the acknowledgement stands either way.
pub(super) const FINISH: &str = r"
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if KEYS[2] then
  local r = redis.pcall('XADD', KEYS[2], '*', unpack(ARGV, 4))
  if type(r) == 'table' and r.err then return r.err end
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 'OK'
";

/// For each queue (KEYS): every consumer whose heartbeat key (ARGV[2] .. name) is gone has
/// its pending entries put back at the end of the queue with `d` + 1, or failed with a
/// reply once `d` + 1 reaches ARGV[3]; then the consumer is deleted. ARGV[1]: the group;
/// ARGV[4]: the reply streams' TTL in ms. Replies go through `redis.pcall`: a reply key
/// that is not a stream (a malformed entry's) must not stop the reclaim. Returns
/// {requeued, failed}.
pub(super) const RECLAIM: &str = r"
local requeued, failed = 0, 0
for _, q in ipairs(KEYS) do
  local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', q, ARGV[1])
  if ok then
    for _, c in ipairs(consumers) do
      local name, pending = nil, 0
      for i = 1, #c, 2 do
        if c[i] == 'name' then name = c[i + 1] elseif c[i] == 'pending' then pending = c[i + 1] end
      end
      if name and redis.call('EXISTS', ARGV[2] .. name) == 0 then
        if pending > 0 then
          local held = redis.call('XPENDING', q, ARGV[1], '-', '+', pending, name)
          for _, e in ipairs(held) do
            local id = e[1]
            local r = redis.call('XRANGE', q, id, id)
            if #r > 0 then
              local f = r[1][2]
              local d, reply, tid, out = 0, nil, nil, {}
              for i = 1, #f, 2 do
                if f[i] == 'd' then
                  d = tonumber(f[i + 1]) or 0
                else
                  if f[i] == 'r' then reply = f[i + 1] elseif f[i] == 't' then tid = f[i + 1] end
                  out[#out + 1] = f[i]
                  out[#out + 1] = f[i + 1]
                end
              end
              d = d + 1
              if d >= tonumber(ARGV[3]) then
                if reply and tid then
                  redis.pcall('XADD', reply, '*', 't', tid, 'k', 'e', 'c', 'cluster', 'm',
                    'delivered ' .. d .. ' times; each node that took it stopped or went silent before answering')
                  redis.pcall('PEXPIRE', reply, ARGV[4])
                end
                failed = failed + 1
              else
                out[#out + 1] = 'd'
                out[#out + 1] = tostring(d)
                local moved = redis.call('XADD', q, '*', unpack(out))
                if reply and tid then
                  redis.pcall('XADD', reply, '*', 't', tid, 'k', 'm', 'i', moved)
                  redis.pcall('PEXPIRE', reply, ARGV[4])
                end
                requeued = requeued + 1
              end
            end
            redis.call('XACK', q, ARGV[1], id)
            redis.call('XDEL', q, id)
          end
        end
        redis.call('XGROUP', 'DELCONSUMER', q, ARGV[1], name)
      end
    end
  end
end
return {requeued, failed}
";

/// Takes new entries for consumer ARGV[2] of group ARGV[1] from the queues (KEYS, highest
/// priority first): ARGV[2 + i] is the room for queue i, and the rooms are nested (what a
/// higher queue gives uses the room of every lower one), as the ladder's caps are. Sends
/// each taken entry's start notice in the same call. Returns `{{queue index, id, fields}, …}`.
pub(super) const TAKE: &str = r"
local out, taken = {}, 0
for i, q in ipairs(KEYS) do
  local n = tonumber(ARGV[2 + i]) - taken
  if n > 0 then
    local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', n, 'STREAMS', q, '>')
    if r then
      for _, e in ipairs(r[1][2]) do
        out[#out + 1] = {i, e[1], e[2]}
        taken = taken + 1
        local f, reply, tid = e[2], nil, nil
        for j = 1, #f, 2 do
          if f[j] == 'r' then reply = f[j + 1] elseif f[j] == 't' then tid = f[j + 1] end
        end
        if reply and tid then redis.pcall('XADD', reply, '*', 't', tid, 'k', 's') end
      end
    end
  end
end
return out
";

/// The entries a consumer (ARGV[2]) holds in each queue (KEYS) that were delivered at
/// least ARGV[3] ms ago, with their fields: `{{queue index, id, fields}, …}`. ARGV[1]: the
/// group. An entry whose field values exceed ARGV[4] bytes in all comes without its
/// arguments (`a`) and with `z`, its size: Redis may not be able to send it whole.
pub(super) const OWN_IDLE: &str = r"
local out = {}
local most = tonumber(ARGV[4])
for i, q in ipairs(KEYS) do
  local ok, held = pcall(redis.call, 'XPENDING', q, ARGV[1], 'IDLE', ARGV[3], '-', '+', 256, ARGV[2])
  if ok then
    for _, e in ipairs(held) do
      local r = redis.call('XRANGE', q, e[1], e[1])
      if #r > 0 then
        local f = r[1][2]
        local size = 0
        for j = 2, #f, 2 do size = size + #f[j] end
        if size > most then
          local small = {}
          for j = 1, #f, 2 do
            if f[j] ~= 'a' then small[#small + 1] = f[j]; small[#small + 1] = f[j + 1] end
          end
          small[#small + 1] = 'z'; small[#small + 1] = tostring(size)
          f = small
        end
        out[#out + 1] = {i, r[1][1], f}
      end
    end
  end
end
return out
";

/// The reply after ARGV[1] in the reply stream KEYS[1], without its value: `{id, task id,
/// size of its fields in bytes}`, or nothing. For a reply Redis cannot send whole.
pub(super) const PEEK_REPLY: &str = r"
local r = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', 1)
if #r == 0 then return false end
local f = r[1][2]
local t, size = '', 0
for j = 1, #f, 2 do
  size = size + #f[j + 1]
  if f[j] == 't' then t = f[j + 1] end
end
return {r[1][1], t, size}
";

/// Puts a task off until ARGV[1] ms from the server's clock: its entry (ARGV[3], the index
/// of its queue in `PRIORITIES` from 1, then ARGV[4..], its field-value pairs) is kept,
/// packed, in the hash KEYS[2] under the member ARGV[2] (`<reply stream>|<task id>`), and
/// the member in the sorted set KEYS[1] with its due time (ms since the epoch) as its
/// score. Returns the id the producer tracks it by: `z:` and the member.
pub(super) const DELAY: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[2], ARGV[2], cmsgpack.pack({tonumber(ARGV[3]), unpack(ARGV, 4)}))
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
return 'z:' .. ARGV[2]
";

/// Moves up to ARGV[1] tasks whose time has come (by the server's clock) from the delayed
/// set KEYS[1] (and their entries from the hash KEYS[2]) to their queues (KEYS[3..6], in
/// `PRIORITIES` order), each with a move notice (`k` = `m`, `i` = its new entry id) to its
/// producer's reply stream. One script: two nodes never move one task twice. Returns
/// `{moved, ms until the next one is due (-1: none; at most a day)}`.
pub(super) const PROMOTE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local moved = 0
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[1], m)
  local blob = redis.call('HGET', KEYS[2], m)
  redis.call('HDEL', KEYS[2], m)
  if blob then
    local e = cmsgpack.unpack(blob)
    local f = {}
    for i = 2, #e do f[#f + 1] = e[i] end
    local id = redis.call('XADD', KEYS[2 + e[1]], '*', unpack(f))
    local reply, tid, rt = nil, nil, nil
    for i = 1, #f, 2 do
      if f[i] == 'r' then reply = f[i + 1] elseif f[i] == 't' then tid = f[i + 1]
      elseif f[i] == 'rt' then rt = f[i + 1] end
    end
    if reply and tid then
      redis.pcall('XADD', reply, '*', 't', tid, 'k', 'm', 'i', id)
      if rt then redis.pcall('PEXPIRE', reply, rt, 'NX') end
    end
    moved = moved + 1
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if #nxt > 0 then wait = math.min(math.max(0, tonumber(nxt[2]) - now), 86400000) end
return {moved, wait}
";

/// Removes the delayed task ARGV[1] from the set KEYS[1] and its entry from the hash
/// KEYS[2]; returns 1 if it was there (not moved to its queue yet).
pub(super) const CANCEL_DELAYED: &str = r"
local n = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return n
";

/// A run of the taken entry ARGV[2] (in queue KEYS[1], group ARGV[1]) failed and its task
/// runs again (ARGV[5] = 1), or it found no permit of its fleet-wide limit (ARGV[5] = 0):
/// the entry is acknowledged and deleted, and a copy (for a retry: with one retry less,
/// `rn` - 1, and one run more, `ra` + 1) without deliveries (`d`) waits in the delayed set
/// KEYS[2] (its entry in the hash KEYS[3]) until ARGV[3] ms from now, for its queue
/// (ARGV[4], its index in `PRIORITIES` from 1); its producer gets a move notice with the
/// new id (`z:` and the member). One script: the task is never both queued and delayed,
/// nor lost. Returns 1, or 0 if the entry was gone.
pub(super) const RETRY: &str = r"
local r = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if #r == 0 then return 0 end
local f = r[1][2]
local out, reply, tid = {}, nil, nil
for i = 1, #f, 2 do
  local k, v = f[i], f[i + 1]
  if k == 'rn' and ARGV[5] == '1' then v = tostring(math.max(0, tonumber(v) - 1))
  elseif k == 'ra' and ARGV[5] == '1' then v = tostring(tonumber(v) + 1)
  elseif k == 'r' then reply = v elseif k == 't' then tid = v end
  if k ~= 'd' then out[#out + 1] = k; out[#out + 1] = v end
end
local member = (reply or '') .. '|' .. (tid or ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[3], member, cmsgpack.pack({tonumber(ARGV[4]), unpack(out)}))
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), member)
if reply and tid then redis.pcall('XADD', reply, '*', 't', tid, 'k', 'm', 'i', 'z:' .. member) end
return 1
";

/// Takes a permit of a fleet-wide limit (`limit = N` on a remote task) for the run ARGV[1]
/// (`<node>|<entry id>`): the hash KEYS[1] holds one field per permit held; the fields of
/// nodes without a heartbeat (key ARGV[3] .. node) are dropped first (a silent node's
/// permits are free). Idempotent: a run that holds its permit gets it again (a reply lost
/// with a connection is asked again). Returns 1 if the run holds a permit now, else 0.
pub(super) const ACQUIRE: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
local h = redis.call('HKEYS', KEYS[1])
local held = 0
for _, f in ipairs(h) do
  local node = string.match(f, '^(.*)|[^|]*$') or f
  if redis.call('EXISTS', ARGV[3] .. node) == 1 then held = held + 1
  else redis.call('HDEL', KEYS[1], f) end
end
if held >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], 1)
return 1
";

/// Gives back the permit of the run ARGV[1] in the hash KEYS[1] (see `ACQUIRE`);
/// idempotent.
pub(super) const RELEASE: &str = r"
return redis.call('HDEL', KEYS[1], ARGV[1])
";
