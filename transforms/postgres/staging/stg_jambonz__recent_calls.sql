-- grain: one row per raw jambonz CDR (RecentCalls record), every load kept (dedup in calls); key: call_key
with source as (
    select * from {{ raw_jambonz.recent_calls }}
),

fields as (
    select
        source.*,
        f.*
    from source
    -- the record's fields staging reads, by name, each as text (a record
    -- that is not a JSON object reads as {}: every field null)
    cross join lateral json_to_record(staging.json_object(source.record)) as f(
            account_sid text,
            direction text,
            "from" text,
            "to" text,
            answered text,
            sip_status text,
            duration text,
            answered_at text,
            terminated_at text,
            termination_reason text,
            recording_url text
        )
),

renamed as (
    select
        'jambonz' as provider,
        call_id,
        coalesce(nullif(account_sid, ''), account_id) as account_id,
        started_at,
        fetched_at,
        record,
        base_url,
        direction as direction_raw,
        "from" as from_raw,
        "to" as to_raw,
        answered as answered_raw,
        sip_status as sip_status_raw,
        staging.try_boolean(answered) as answered_flag,
        staging.try_integer(sip_status) as sip_code,
        staging.duration(duration) as reported_duration_seconds,
        -- an unanswered call's answered_at is the epoch: staging.ts reads it as null
        staging.ts(answered_at) as answered_at,
        staging.ts(terminated_at) as ended_at,
        nullif(trim(termination_reason), '') as end_reason,
        nullif(trim(recording_url), '') as recording_path
    from fields
),

normalized as (
    select
        *,
        'jambonz:' || call_id as call_key,
        case staging.token(direction_raw)
            when 'inbound' then 'inbound'
            when 'outbound' then 'outbound'
            else 'unknown'
        end as direction,
        case
            when answered_flag then 'completed'
            else staging.sip_status(sip_code)
        end as status,
        -- the two fields the status rule read, as given
        case
            when answered_raw is not null or sip_status_raw is not null
                then coalesce(answered_raw, '') || '/' || coalesce(sip_status_raw, '')
        end as provider_status,
        -- a relative recording path is resolved against the API root it was read from
        staging.resolve_url(recording_path, base_url) as recording_url
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
    sip_code,
    provider_status,
    end_reason,
    recording_url,
    fetched_at as synced_at,
    case
        when call_id is null then 'missing call_sid and sip_callid'
        when started_at is null then 'missing or unreadable attempted_at'
    end as reject_reason,
    coalesce(call_id, md5(record)) as record_key,
    'raw_jambonz.recent_calls' as raw_table,
    record
from answered
