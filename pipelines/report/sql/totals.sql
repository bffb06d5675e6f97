-- grain: one row per provider, plus one for all of them (provider null); key: provider
with daily as (
    select * from calls_daily
),

totals as (
    select
        provider,
        grouping(provider) = 1 as all_providers,
        sum(calls) as calls,
        sum(answered_calls) as answered_calls,
        sum(total_duration_seconds) as total_duration_seconds,
    from daily
    group by rollup (provider)
)

select
    provider,
    all_providers,
    cast(calls as bigint) as calls,
    cast(answered_calls as bigint) as answered_calls,
    cast(answered_calls as double) / calls as answer_rate,
    cast(total_duration_seconds as double) / 60 as total_minutes,
from totals
order by all_providers, provider
