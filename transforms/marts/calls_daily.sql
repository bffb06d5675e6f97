-- grain: one row per UTC day, provider and direction; key: (day, provider, direction)
-- materialized: daily (after a sync, only the days holding a changed call are rebuilt)
with calls as (
    -- `main.calls`; after an incremental build, the rows of the days it changed
    select * from {{ calls }}
),

daily as (
    select
        cast(timezone('UTC', started_at) as date) as day,
        provider,
        direction,
        count(*) as calls,
        count(*) filter (where answered) as answered_calls,
        count(*) filter (where direction = 'inbound' and not answered) as missed_calls,
        sum(duration_seconds) as total_duration_seconds,
        avg(duration_seconds) filter (where answered) as avg_duration_seconds,
    from calls
    group by 1, 2, 3
)

select
    day,
    provider,
    direction,
    cast(calls as bigint) as calls,
    cast(answered_calls as bigint) as answered_calls,
    cast(missed_calls as bigint) as missed_calls,
    cast(answered_calls as double) / calls as answer_rate,
    cast(total_duration_seconds as bigint) as total_duration_seconds,
    cast(avg_duration_seconds as double) as avg_duration_seconds,
from daily
