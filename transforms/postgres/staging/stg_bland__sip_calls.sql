-- grain: one row per raw Bland SIP call record, every load kept (dedup in calls); key: call_key
with source as (
    select * from {{ raw_bland.sip_calls }}
),

fields as (
    select
        source.*,
        f.*
    from source
    -- the record's fields staging reads, by name, each as text (a record
    -- that is not a JSON object reads as {}: every field null)
    cross join lateral json_to_record(staging.json_object(source.record)) as f(
            direction text,
            "from" text,
            "to" text,
            status text,
            sip_code text,
            duration_seconds text,
            ended_at text
        )
),

renamed as (
    select
        'bland' as provider,
        call_id,
        account_id,
        started_at,
        fetched_at,
        record,
        direction as direction_raw,
        "from" as from_raw,
        "to" as to_raw,
        status as provider_status,
        coalesce(
            staging.try_integer(sip_code),
            substring(status from '^\s*([1-6][0-9]{2})(?:[^0-9]|$)')::integer
        ) as sip_code,
        staging.duration(duration_seconds) as reported_duration_seconds,
        staging.ts(ended_at) as ended_at
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
        staging.sip_status(sip_code) as status
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
    cast(null as text) as end_reason,
    cast(null as text) as recording_url,
    fetched_at as synced_at,
    case
        when call_id is null then 'missing call_id'
        when started_at is null then 'missing or unreadable started_at'
    end as reject_reason,
    coalesce(call_id, md5(record)) as record_key,
    'raw_bland.sip_calls' as raw_table,
    record
from normalized
