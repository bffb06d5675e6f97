-- grain: one row per raw Bland SIP call record, every load kept (dedup in calls); key: call_key
-- Spark's copy of transforms/staging/stg_bland__sip_calls.sql: the same columns, rules and
-- order; JSON read by name with from_json, the macros as staging_<name> functions.
with source as (
    select * from {{ raw_bland.sip_calls }}
),

fields as (
    select
        *,
        -- the record's fields staging reads, by name, each as text
        from_json(record, 'direction string, `from` string, `to` string, status string,
            sip_code string, duration_seconds string, ended_at string') as f
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
        f.`from` as from_raw,
        f.`to` as to_raw,
        f.status as provider_status,
        coalesce(
            staging_int(f.sip_code),
            try_cast(regexp_extract(f.status, '^\\s*([1-6][0-9]{2})([^0-9]|$)', 1) as int)
        ) as sip_code,
        staging_duration(f.duration_seconds) as reported_duration_seconds,
        staging_ts(f.ended_at) as ended_at
    from fields
),

normalized as (
    select
        *,
        'bland:' || call_id as call_key,
        case staging_token(direction_raw)
            when 'inbound' then 'inbound'
            when 'outbound' then 'outbound'
            else 'unknown'
        end as direction,
        staging_sip_status(sip_code) as status
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
    cast(null as timestamp) as answered_at,
    ended_at,
    staging_call_duration(reported_duration_seconds, status = 'completed', started_at,
                          null, ended_at) as duration_seconds,
    cast(null as int) as wait_seconds,
    staging_e164(from_raw) as from_number,
    staging_e164(to_raw) as to_number,
    sip_code,
    provider_status,
    cast(null as string) as end_reason,
    cast(null as string) as recording_url,
    fetched_at as synced_at,
    case
        when call_id is null then 'missing call_id'
        when started_at is null then 'missing or unreadable started_at'
    end as reject_reason,
    coalesce(call_id, md5(record)) as record_key,
    'raw_bland.sip_calls' as raw_table,
    record
from normalized
