-- grain: one row per raw Unpod call-log record, every load kept (dedup in calls); key: call_key
-- Spark's copy of transforms/staging/stg_unpod__call_logs.sql.
with source as (
    select * from {{ raw_unpod.call_logs }}
),

fields as (
    select
        *,
        -- the record's fields staging reads, by name, each as text
        from_json(record, 'call_type string, call_status string, source_number string,
            destination_number string, start_time string, end_time string,
            call_duration string, end_reason string') as f
    from source
),

renamed as (
    select
        'unpod' as provider,
        -- `id`, else `creation_time|source_number|destination_number` (client.call_id)
        call_id,
        account_id,
        -- `creation_time`, parsed to UTC in the client (`start_time` is the answer time)
        started_at,
        fetched_at,
        record,
        f.call_type as direction_raw,
        f.call_status as provider_status,
        f.source_number as from_raw,
        f.destination_number as to_raw,
        staging_ts(f.start_time) as answered_at,
        staging_ts(f.end_time) as ended_at,
        staging_duration(f.call_duration) as reported_duration_seconds,
        f.end_reason as end_reason
    from fields
),

normalized as (
    select
        *,
        'unpod:' || call_id as call_key,
        case staging_token(direction_raw)
            when 'inbound' then 'inbound'
            when 'outbound' then 'outbound'
            else 'unknown'
        end as direction,
        case staging_token(provider_status)
            when 'completed' then 'completed'
            when 'missed' then 'no_answer'
            when 'failed' then
                case when lower(end_reason) like '%busy%' then 'busy' else 'failed' end
            else 'unknown'
        end as status
    from renamed
),

answered as (
    select
        *,
        status = 'completed' or answered_at is not null as answered
    from normalized
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
    staging_call_duration(reported_duration_seconds, answered, started_at, answered_at,
                          ended_at) as duration_seconds,
    staging_seconds_between(started_at, answered_at) as wait_seconds,
    staging_e164(from_raw) as from_number,
    staging_e164(to_raw) as to_number,
    cast(null as int) as sip_code,
    provider_status,
    end_reason,
    cast(null as string) as recording_url,
    fetched_at as synced_at,
    case
        when call_id is null then 'missing call_id'
        when started_at is null then 'missing or unreadable started_at'
    end as reject_reason,
    coalesce(call_id, md5(record)) as record_key,
    'raw_unpod.call_logs' as raw_table,
    record
from answered
