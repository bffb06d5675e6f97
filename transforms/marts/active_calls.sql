-- grain: one row per jambonz call live at the last successful sync; key: call_key
-- (raw_jambonz.calls is replaced by every successful sync and kept when one fails)
with live as (
    select * from staging.stg_jambonz__calls
),

identified as (
    -- a live call without call_sid or call_id stays in the raw table only
    select * from live where call_id is not null
),

ranked as (
    select
        *,
        row_number() over (
            partition by call_key order by observed_at desc nulls last, record desc nulls last
        ) as load_rank
    from identified
)

select
    call_key,
    provider,
    call_id,
    account_id,
    direction,
    status,
    answered,
    duration_seconds,
    from_number,
    to_number,
    sip_code,
    provider_status,
    observed_at,
from ranked
where load_rank = 1
