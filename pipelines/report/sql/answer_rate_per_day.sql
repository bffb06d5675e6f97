-- grain: one row per UTC day and provider; key: (day, provider)
with daily as (
    select * from calls_daily
),

per_day as (
    select
        day,
        provider,
        sum(calls) as calls,
        sum(answered_calls) as answered_calls,
    from daily
    group by day, provider
)

select
    day,
    provider,
    cast(calls as bigint) as calls,
    cast(answered_calls as bigint) as answered_calls,
    cast(answered_calls as double) / calls as answer_rate,
from per_day
order by day, provider
