-- grain: one row per raw Bland SIP call record, every load kept (dedup in calls); key: call_key
with source as (
    select * from {{ raw_bland.sip_calls }}
),

fields as (
    select
        *,
        -- the record's fields staging reads, by name, each as text
        json_transform(record, '{
            "direction": "VARCHAR",
            "from": "VARCHAR",
            "to": "VARCHAR",
            "status": "VARCHAR",
            "sip_code": "VARCHAR",
            "duration_seconds": "VARCHAR",
            "ended_at": "VARCHAR"
        }') as f,
    from source
),

renamed as (
    select
        'bland' as provider,
        call_id,
        account_id,
        started_at,
        fetched_at,
        record,
        f.direction as direction_raw,
        f."from" as from_raw,
        f."to" as to_raw,
        f.status as provider_status,
        coalesce(
            try_cast(try_cast(f.sip_code as double) as integer),
            try_cast(regexp_extract(f.status, '^\s*([1-6][0-9]{2})([^0-9]|$)', 1) as integer)
        ) as sip_code,
        staging.duration(f.duration_seconds) as reported_duration_seconds,
        staging.ts(f.ended_at) as ended_at,
    from fields
),

normalized as (
    select
        *,
        'bland:' || call_id as call_key,
        case staging.token(direction_raw)
            when 'inbound' then 'inbound'
            when 'outbound' then 'outbound'
            else 'unknown'
        end as direction,
        staging.sip_status(sip_code) as status,
    from renamed
)

select
    call_key,
    provider,
    call_id,
    account_id,
    direction,
    status,
    status = 'completed' as answered,
    started_at,
    cast(null as timestamptz) as answered_at,
    ended_at,
    staging.call_duration(reported_duration_seconds, status = 'completed', started_at,
                          null, ended_at) as duration_seconds,
    cast(null as integer) as wait_seconds,
    staging.e164(from_raw) as from_number,
    staging.e164(to_raw) as to_number,
    sip_code,
    provider_status,
    cast(null as varchar) as end_reason,
    cast(null as varchar) as recording_url,
    fetched_at as synced_at,
    case
        when call_id is null then 'missing call_id'
        when started_at is null then 'missing or unreadable started_at'
    end as reject_reason,
    coalesce(call_id, md5(record)) as record_key,
    'raw_bland.sip_calls' as raw_table,
    record,
from normalized
