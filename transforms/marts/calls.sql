-- grain: one row per provider call; key: call_key (the latest load of a call wins)
-- materialized: incremental (the runner rebuilds only call_keys touched by new raw rows)
with staged as (
    -- one branch per provider; every staging view of calls has the same columns
    select * from staging.stg_bland__sip_calls
    union all by name select * from staging.stg_sipsim__calls
),

valid as (
    select * from staged where reject_reason is null
),

deduplicated as (
    select
        * exclude (account_id),
        -- a Bland call in two numbers' logs keeps one row, with the smaller number
        min(account_id) over (partition by call_key) as account_id,
    from valid
    qualify row_number() over (
        partition by call_key order by synced_at desc, record desc
    ) = 1
)

select
    call_key,
    provider,
    call_id,
    account_id,
    direction,
    status,
    answered,
    started_at,
    answered_at,
    ended_at,
    duration_seconds,
    wait_seconds,
    from_number,
    to_number,
    sip_code,
    provider_status,
    end_reason,
    recording_url,
    synced_at,
from deduplicated
