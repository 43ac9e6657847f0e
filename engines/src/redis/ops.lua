-- socialbench: every op of the social API as one server-side script, run
-- atomically on one key group (see engines/src/redis.rs for the key layout).
--
-- KEYS[1]: the group's base, "<prefix>{u<id>}" (a user, with their profile
-- community) or "<prefix>{c<id>}" (an ordinary community). ARGV[1]: the op.
-- Keys under the base all share the base's hash tag, so one cluster slot.
--
-- Replies: {0, calls, ...} on success, {code, calls} on refusal (codes in
-- redis/session.rs), where `calls` counts the script's own redis.call()s, so
-- the engine can report the server calls each op kind makes.
-- Value checks (limits, body and term lengths) are done by the client
-- before it sends anything, as the partition does them first.

local K = KEYS[1]
local op = ARGV[1]

local ALREADY_EXISTS, UNKNOWN_USER, UNKNOWN_COMMUNITY = 1, 2, 3
local UNKNOWN_POST, UNKNOWN_COMMENT, ALREADY_MEMBER = 4, 5, 6
local NOT_MEMBER, FORBIDDEN = 7, 8

local TWO32 = 4294967296

-- Every server call goes through here, to be counted.
local calls = 0
local function call(...)
  calls = calls + 1
  return redis.call(...)
end

-- Reddit's hot key as ranking.rs computes it: (created << 32) / 45000 in
-- exact split arithmetic, plus round(log10(max(|score|, 1)) * 2^32), signed.
-- Every value stays below 2^53, so doubles (and ZSET scores) hold it exactly.
local function hot(score, created)
  local q = math.floor(created / 45000)
  local r = created - q * 45000
  local t = q * TWO32 + math.floor(r * TWO32 / 45000)
  local a = math.abs(score)
  if a < 1 then a = 1 end
  local o = math.floor(math.log10(a) * TWO32 + 0.5)
  if score > 0 then return t + o elseif score < 0 then return t - o end
  return t
end

-- ZSET member of post `seq`: its stamp then its seq, both fixed width, so
-- equal scores order by stamp (newer first under ZREVRANGE), as the
-- partition's (key, created) order does, and the member is unique (not by
-- seq: with several clients a post's clock tick and its apply are two round
-- trips, so within a community seq order and stamp order can disagree);
-- then its summary ":author:score:comments", so that a feed reads whole
-- summaries from the index alone. A change of score or comment count
-- replaces the member in the three indexes (`reindex`).
local function member(seq, created, author, score, comments)
  return string.format('%016d%010d:%d:%d:%d', created, seq, author, score, comments)
end

-- Adds post member `m` to community C's indexes: hot, top, new.
local function index(C, m, score, created)
  call('ZADD', C .. ':h', hot(score, created), m)
  call('ZADD', C .. ':t', score, m)
  call('ZADD', C .. ':n', created, m)
end

-- Replaces post member `old` by `new` in C's indexes (`new` has `score`).
local function reindex(C, old, new, score, created)
  call('ZREM', C .. ':h', old)
  call('ZREM', C .. ':t', old)
  call('ZREM', C .. ':n', old)
  index(C, new, score, created)
end

local function registered()
  return call('HGET', K .. ':u', 'reg') == '1'
end

-- The community `cid` in this group: its key base and whether it is stored,
-- or nil when it does not exist. `owner` is '' for an ordinary community, the
-- owner's id for a profile (which exists implicitly while its owner is
-- registered, with no posts and the owner as its only member).
local function community(cid, owner)
  local C = K .. ':c' .. cid
  if call('EXISTS', C .. ':m') == 1 then return C, true end
  if owner ~= '' and registered() then return C, false end
  return nil, false
end

local function store_profile(C, owner)
  call('HSET', C .. ':m', 'cr', owner, 'np', 0)
end

-- Moves the user's subscription count for `cid` by `by` (a count, not a
-- flag: see the partition's docs); 'ns' counts pairs with a positive count.
local function subscribe(cid, by)
  local S = K .. ':s'
  local was = tonumber(call('HGET', S, cid) or '0')
  local now = was + by
  if now == 0 then call('HDEL', S, cid) else call('HSET', S, cid, now) end
  if was <= 0 and now > 0 then call('HINCRBY', K .. ':u', 'ns', 1) end
  if was > 0 and now <= 0 then call('HINCRBY', K .. ':u', 'ns', -1) end
end


local function run()
  -- ---- users ---------------------------------------------------------------

  if op == 'register' then
    -- ARGV: profile cid
    if registered() then return {ALREADY_EXISTS} end
    call('HSET', K .. ':u', 'reg', 1)
    subscribe(ARGV[2], 1)
    return {0}

  elseif op == 'sub' then
    -- follow-up; ARGV: cid, +1 or -1
    subscribe(ARGV[2], tonumber(ARGV[3]))
    return {0}

  elseif op == 'karma' then
    -- follow-up; ARGV: post delta, comment delta
    if ARGV[2] ~= '0' then call('HINCRBY', K .. ':u', 'pk', ARGV[2]) end
    if ARGV[3] ~= '0' then call('HINCRBY', K .. ':u', 'ck', ARGV[3]) end
    return {0}

  elseif op == 'dm' then
    -- ARGV: from, body
    if not registered() then return {UNKNOWN_USER} end
    local n = call('RPUSH', K .. ':i', ARGV[2] .. ':' .. ARGV[3])
    return {0, n - 1}

  elseif op == 'inbox' then
    -- ARGV: limit; replies (seq, from, len) newest first
    if not registered() then return {UNKNOWN_USER} end
    local I = K .. ':i'
    local n = call('LLEN', I)
    local limit = tonumber(ARGV[2])
    local first = n - limit
    if first < 0 then first = 0 end
    local items = call('LRANGE', I, first, n - 1)
    local out = {0}
    for i = #items, 1, -1 do
      local e = items[i]
      local at = string.find(e, ':', 1, true)
      out[#out + 1] = first + i - 1
      out[#out + 1] = tonumber(string.sub(e, 1, at - 1))
      out[#out + 1] = #e - at
    end
    return out

  elseif op == 'profile' then
    -- ARGV: profile cid
    if not registered() then return {UNKNOWN_USER} end
    local u = call('HMGET', K .. ':u', 'pk', 'ck', 'ns')
    local C = K .. ':c' .. ARGV[2]
    local followers, posts = 1, 0
    local np = call('HGET', C .. ':m', 'np')
    if np then
      followers = call('SCARD', C .. ':M') + 1
      posts = tonumber(np)
    end
    return {0, tonumber(u[1] or '0'), tonumber(u[2] or '0'), tonumber(u[3] or '0'),
      followers, posts, call('LLEN', K .. ':i')}


  -- ---- communities -----------------------------------------------------------

  elseif op == 'create' then
    -- ARGV: cid, creator
    local C = K .. ':c' .. ARGV[2]
    if call('EXISTS', C .. ':m') == 1 then return {ALREADY_EXISTS} end
    call('HSET', C .. ':m', 'cr', ARGV[3], 'np', 0)
    call('SADD', C .. ':M', ARGV[3])
    return {0}

  elseif op == 'join' then
    -- ARGV: cid, owner, user
    local owner, user = ARGV[3], ARGV[4]
    local C, stored = community(ARGV[2], owner)
    if not C then return {UNKNOWN_COMMUNITY} end
    if owner ~= '' then
      if owner == user then return {ALREADY_MEMBER} end
      if not stored then store_profile(C, owner) end
    end
    if call('SADD', C .. ':M', user) == 0 then return {ALREADY_MEMBER} end
    return {0}

  elseif op == 'leave' then
    -- ARGV: cid, owner, user
    local owner, user = ARGV[3], ARGV[4]
    local C, stored = community(ARGV[2], owner)
    if not C then return {UNKNOWN_COMMUNITY} end
    if owner ~= '' and owner == user then return {FORBIDDEN} end
    if not stored or call('SREM', C .. ':M', user) == 0 then return {NOT_MEMBER} end
    return {0}

  elseif op == 'post_check' or op == 'post' then
    -- ARGV: cid, owner, author[, created, body]
    local owner, author = ARGV[3], ARGV[4]
    local C, stored = community(ARGV[2], owner)
    if not C then return {UNKNOWN_COMMUNITY} end
    if owner ~= '' then
      if owner ~= author then return {FORBIDDEN} end
    elseif call('SISMEMBER', C .. ':M', author) == 0 then
      return {NOT_MEMBER}
    end
    if op == 'post_check' then return {0} end
    if not stored then store_profile(C, owner) end
    local created = tonumber(ARGV[5])
    local seq = call('HINCRBY', C .. ':m', 'np', 1) - 1
    call('HSET', C .. ':p' .. seq, 'a', author, 's', 0, 'n', 0, 't', created, 'b', ARGV[6])
    index(C, member(seq, created, author, 0, 0), 0, created)
    return {0, seq}

  elseif op == 'comment' then
    -- ARGV: cid, post seq, parent seq (-1: none, -2: a comment of another post), author, body
    local C = K .. ':c' .. ARGV[2]
    local seq = tonumber(ARGV[3])
    local P = C .. ':p' .. seq
    local p = call('HMGET', P, 'n', 'a', 's', 't')
    if not p[1] then return {UNKNOWN_POST} end
    local nc = tonumber(p[1])
    local parent = tonumber(ARGV[4])
    if parent == -2 or parent >= nc then return {UNKNOWN_COMMENT} end
    call('HSET', P, 'n', nc + 1)
    call('HSET', P .. ':c' .. nc, 'a', ARGV[5], 'p', parent, 's', 0, 'b', ARGV[6])
    local author, score, created = tonumber(p[2]), tonumber(p[3]), tonumber(p[4])
    reindex(C, member(seq, created, author, score, nc),
      member(seq, created, author, score, nc + 1), score, created)
    return {0, nc}

  elseif op == 'vote' then
    -- ARGV: cid, post seq, comment seq (-1: the post), voter, value
    -- replies (delta, score, author, old value). One read of the post hash
    -- (and of the comment's); a vote that changes nothing writes nothing.
    local C = K .. ':c' .. ARGV[2]
    local seq = ARGV[3]
    local P = C .. ':p' .. seq
    local cs = tonumber(ARGV[4])
    local p = call('HMGET', P, 'n', 's', 'a', 't')
    local old_score = tonumber(p[2])
    if not p[1] then return {UNKNOWN_POST} end
    local T, score, author = P, tonumber(p[2]), tonumber(p[3])
    if cs >= 0 then
      if cs >= tonumber(p[1]) then return {UNKNOWN_COMMENT} end
      T = P .. ':c' .. cs
      local c = call('HMGET', T, 's', 'a')
      score, author = tonumber(c[1]), tonumber(c[2])
    end
    local field = ARGV[5] .. ':' .. seq .. ':' .. (cs < 0 and 'p' or cs)
    local new = tonumber(ARGV[6])
    local old = tonumber(call('HGET', C .. ':v', field) or '0')
    local delta = new - old
    if delta ~= 0 then
      if new == 0 then
        call('HDEL', C .. ':v', field)
      else
        call('HSET', C .. ':v', field, new)
      end
      score = call('HINCRBY', T, 's', delta)
      if cs < 0 then
        local created, nc = tonumber(p[4]), tonumber(p[1])
        reindex(C, member(tonumber(seq), created, author, old_score, nc),
          member(tonumber(seq), created, author, score, nc), score, created)
      end
    end
    return {0, delta, score, author, old}

  elseif op == 'get_post' then
    -- ARGV: cid, post seq, comments wanted; replies the post's summary, its
    -- body, then (seq, author, parent, score) of the best comments
    local P = K .. ':c' .. ARGV[2] .. ':p' .. ARGV[3]
    local p = call('HMGET', P, 'a', 's', 'n', 't', 'b')
    if not p[1] then return {UNKNOWN_POST} end
    local out = {0, tonumber(p[1]), tonumber(p[2]), tonumber(p[3]), tonumber(p[4]), p[5]}
    local k = tonumber(ARGV[4])
    local nc = tonumber(p[3])
    if k > 0 and nc > 0 then
      local all = {}
      for cs = 0, nc - 1 do
        local c = call('HMGET', P .. ':c' .. cs, 'a', 'p', 's')
        all[#all + 1] = {cs, tonumber(c[1]), tonumber(c[2]), tonumber(c[3])}
      end
      -- score descending, older (smaller seq) first on ties
      table.sort(all, function(a, b)
        if a[4] ~= b[4] then return a[4] > b[4] end
        return a[1] < b[1]
      end)
      for i = 1, math.min(k, #all) do
        local c = all[i]
        out[#out + 1] = c[1]
        out[#out + 1] = c[2]
        out[#out + 1] = c[3]
        out[#out + 1] = c[4]
      end
    end
    return out

  elseif op == 'feed' then
    -- ARGV: cid, owner, sort, limit; replies the index members (summaries,
    -- see `member`) of the best `limit` posts, best first
    local C, stored = community(ARGV[2], ARGV[3])
    if not C then return {UNKNOWN_COMMUNITY} end
    local out = {0}
    if stored then
      for _, m in ipairs(call('ZREVRANGE', C .. ':' .. ARGV[4], 0, tonumber(ARGV[5]) - 1)) do
        out[#out + 1] = m
      end
    end
    return out

  elseif op == 'search' then
    -- ARGV: cid, owner, term; replies the match count, then the newest 10 seqs
    local C, stored = community(ARGV[2], ARGV[3])
    if not C then return {UNKNOWN_COMMUNITY} end
    local out = {0, 0}
    if not stored then return out end
    local term = ARGV[4]
    local np = tonumber(call('HGET', C .. ':m', 'np'))
    local matches = 0
    for seq = np - 1, 0, -1 do
      local b = call('HGET', C .. ':p' .. seq, 'b')
      if string.find(b, term, 1, true) then
        matches = matches + 1
        if matches <= 10 then out[#out + 1] = seq end
      end
    end
    out[2] = matches
    return out
  end
  return nil
end

local r = run()
if not r then
  return redis.error_reply('socialbench: unknown op ' .. tostring(op))
end
table.insert(r, 2, calls)
return r

