-- grain: one row per failing call; key: call_key
-- severity: error
-- rule: ended_at is not before started_at.
-- why error: a call cannot end before it began; such a row gives negative times and
-- wrong durations in every dashboard, and our own timestamp parsing (zones, epochs in
-- ms) is the likeliest cause. Calls still in progress (no ended_at) are not checked.
with source as (
    select provider, call_key, started_at, ended_at from calls
),

failing as (
    select provider, call_key from source
    where ended_at < started_at
)

select * from failing
