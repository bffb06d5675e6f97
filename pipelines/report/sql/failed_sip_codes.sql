-- grain: one row per SIP code and provider, for the ten codes most frequent among calls
-- whose status is `failed` (a failed call without a code counts as `none`); key: (sip_code,
-- provider)
with failed as (
    select
        provider,
        coalesce(cast(sip_code as varchar), 'none') as sip_code,
    from calls
    where status = 'failed'
),

by_code as (
    select sip_code, provider, count(*) as calls,
    from failed
    group by sip_code, provider
),

ranked as (
    select
        sip_code,
        row_number() over (order by sum(calls) desc, sip_code) as rank,
    from by_code
    group by sip_code
)

select
    by_code.sip_code,
    by_code.provider,
    cast(by_code.calls as bigint) as calls,
    ranked.rank,
from by_code
join ranked on ranked.sip_code = by_code.sip_code
where ranked.rank <= 10
order by ranked.rank, by_code.provider
