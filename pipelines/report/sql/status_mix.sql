-- grain: one row per provider and status; key: (provider, status)
with calls as (
    select * from calls
)

select
    provider,
    status,
    cast(count(*) as bigint) as calls,
from calls
group by provider, status
order by provider, status
