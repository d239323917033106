//! The Lua scripts that make a charge atomic on Redis. Redis runs a script without
//! interleaving any other command, so "sum the buckets, compare with the limit, add" is one
//! step for the whole fleet. Sent as EVALSHA; the `redis` crate loads the script and retries
//! when the server answers NOSCRIPT (after a restart or `SCRIPT FLUSH`).

/// KEYS: every counter's buckets, grouped by counter, the bucket to add to first in each group.
/// ARGV[1]: the number of counters; then per counter: bucket count, limit, amount, expire-at ms.
/// Returns `{0, used...}` with each counter's value after the charge, or `{index, used}` for
/// the first counter (1-based) that would go over its limit, having added nothing.
pub const RESERVE: &str = r#"
local n = tonumber(ARGV[1])
local used = {}
local first = {}
local k = 1
local a = 2
for c = 1, n do
  local nb = tonumber(ARGV[a])
  local limit = tonumber(ARGV[a + 1])
  local amount = tonumber(ARGV[a + 2])
  local sum = 0
  for b = 0, nb - 1 do
    sum = sum + (tonumber(redis.call('GET', KEYS[k + b])) or 0)
  end
  if sum >= limit or sum + amount > limit then
    return {c, sum}
  end
  used[c] = sum + amount
  first[c] = k
  k = k + nb
  a = a + 4
end
a = 2
for c = 1, n do
  local amount = tonumber(ARGV[a + 2])
  if amount ~= 0 then
    redis.call('INCRBY', KEYS[first[c]], amount)
    redis.call('PEXPIREAT', KEYS[first[c]], ARGV[a + 3])
  end
  a = a + 4
end
local reply = {0}
for c = 1, n do reply[c + 1] = used[c] end
return reply
"#;

/// KEYS: buckets. ARGV: per bucket: amount, expire-at ms, create (1/0).
/// A settlement (create = 0) only corrects a bucket that still exists; an amount counted
/// locally during an outage (create = 1) makes the bucket if needed. A bucket's expiry is a
/// function of the bucket, so setting it again is idempotent.
pub const APPLY: &str = r#"
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[3 * i - 2])
  local create = ARGV[3 * i] == '1'
  if amount ~= 0 and (create or redis.call('EXISTS', key) == 1) then
    redis.call('INCRBY', key, amount)
    if create then redis.call('PEXPIREAT', key, ARGV[3 * i - 1]) end
  end
end
return 0
"#;
