-- grain: one row per failing call; key: call_key
-- severity: warn
-- rule: an answered call that has ended has duration_seconds > 0.
-- why warn: a call answered and hung up within a second is real (durations are rounded
-- down), so this is a signal, not an impossibility. Calls still going on (no ended_at)
-- are not checked: SIPSIM reports a live call as answered with no duration yet
-- (duration_seconds is 0 until it ends), which is not a fault.
with source as (
    select provider, call_key, answered, ended_at, duration_seconds from calls
    where answered and ended_at is not null
),

failing as (
    select provider, call_key from source
    where duration_seconds <= 0
)

select * from failing
