-- grain: one row per provider call; key: call_key (the latest load of a call wins)
-- materialized: incremental (the runner rebuilds only call_keys touched by new raw rows)
with staged as (
    -- every provider's staged call records (an incremental build: only the new ones)
    select * from {{ staging.stg_calls }}
),

valid as (
    -- the record itself is not carried on: only its digest, the last tie-breaker
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
        md5(record) as record_md5
    from staged
    where reject_reason is null
    -- an incremental build reads only the new raw rows; the calls they touch compete
    -- with their current row in `calls` (the winner of every older raw row; it never ties
    -- with a new row, whose fetch is newer). A full build has no previous rows.
    union all
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
        cast(null as varchar) as record_md5
    from {{ previous_calls }}
),

ranked as (
    -- a call in two partitions' logs (Bland: two configured numbers) keeps the record of
    -- the smaller account_id, so its direction is seen from one side; then the newest fetch
    select
        *,
        row_number() over (
            partition by call_key
            order by account_id nulls last, synced_at desc nulls last, record_md5 desc nulls last
        ) as load_rank
    from valid
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
from ranked
where load_rank = 1
