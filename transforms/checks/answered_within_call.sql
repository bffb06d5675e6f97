-- grain: one row per failing call; key: call_key
-- severity: error
-- rule: answered_at lies between started_at and ended_at (or after started_at while the
-- call is still in progress).
-- why error: the answer is an instant of the call itself; outside it, wait_seconds and
-- the durations computed from it are wrong, whichever side (provider or parsing) erred.
with source as (
    select provider, call_key, started_at, answered_at, ended_at from calls
    where answered_at is not null
),

failing as (
    select provider, call_key from source
    where answered_at < started_at or answered_at > ended_at
)

select * from failing
