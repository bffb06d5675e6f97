-- grain: one row per raw Unpod call-log record, every load kept (dedup in calls); key: call_key
with source as (
    select * from {{ raw_unpod.call_logs }}
),

fields as (
    select
        source.*,
        f.*
    from source
    -- the record's fields staging reads, by name, each as text (a record
    -- that is not a JSON object reads as {}: every field null)
    cross join lateral json_to_record(staging.json_object(source.record)) as f(
            call_type text,
            call_status text,
            source_number text,
            destination_number text,
            start_time text,
            end_time text,
            call_duration text,
            end_reason text
        )
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
        call_type as direction_raw,
        call_status as provider_status,
        source_number as from_raw,
        destination_number as to_raw,
        staging.ts(start_time) as answered_at,
        staging.ts(end_time) as ended_at,
        staging.duration(call_duration) as reported_duration_seconds,
        end_reason as end_reason
    from fields
),

normalized as (
    select
        *,
        'unpod:' || call_id as call_key,
        case staging.token(direction_raw)
            when 'inbound' then 'inbound'
            when 'outbound' then 'outbound'
            else 'unknown'
        end as direction,
        case staging.token(provider_status)
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
    staging.call_duration(reported_duration_seconds, answered, started_at, answered_at,
                          ended_at) as duration_seconds,
    staging.seconds_between(started_at, answered_at) as wait_seconds,
    staging.e164(from_raw) as from_number,
    staging.e164(to_raw) as to_number,
    cast(null as integer) as sip_code,
    provider_status,
    end_reason,
    cast(null as text) as recording_url,
    fetched_at as synced_at,
    case
        when call_id is null then 'missing call_id'
        when started_at is null then 'missing or unreadable started_at'
    end as reject_reason,
    coalesce(call_id, md5(record)) as record_key,
    'raw_unpod.call_logs' as raw_table,
    record
from answered
