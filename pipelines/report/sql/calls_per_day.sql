-- grain: one row per UTC day and provider; key: (day, provider)
with daily as (
    select * from calls_daily
)

select
    day,
    provider,
    cast(sum(calls) as bigint) as calls,
from daily
group by day, provider
order by day, provider
