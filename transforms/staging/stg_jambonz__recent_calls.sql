-- grain: one row per raw jambonz CDR (RecentCalls record), every load kept (dedup in calls); key: call_key
with source as (
    select * from {{ raw_jambonz.recent_calls }}
),

fields as (
    select
        *,
        json_extract_string(record, [
            'account_sid', 'direction', 'from', 'to', 'answered', 'sip_status', 'duration',
            'answered_at', 'terminated_at', 'termination_reason', 'recording_url'
        ]) as f,
    from source
),

renamed as (
    select
        'jambonz' as provider,
        call_id,
        coalesce(nullif(f[1], ''), account_id) as account_id,
        started_at,
        fetched_at,
        record,
        base_url,
        f[2] as direction_raw,
        f[3] as from_raw,
        f[4] as to_raw,
        f[5] as answered_raw,
        f[6] as sip_status_raw,
        try_cast(f[5] as boolean) as answered_flag,
        try_cast(try_cast(f[6] as double) as integer) as sip_code,
        staging.duration(f[7]) as reported_duration_seconds,
        -- an unanswered call's answered_at is the epoch: staging.ts reads it as null
        staging.ts(f[8]) as answered_at,
        staging.ts(f[9]) as ended_at,
        nullif(trim(f[10]), '') as end_reason,
        nullif(trim(f[11]), '') as recording_path,
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
        case
            when recording_path is null then null
            when regexp_matches(recording_path, '^[A-Za-z][A-Za-z0-9+.-]*://')
                then recording_path
            when base_url is null then recording_path
            when starts_with(recording_path, '/') then base_url || recording_path
            else base_url || '/' || recording_path
        end as recording_url,
    from renamed
),

answered as (
    select
        *,
        status = 'completed' or answered_at is not null as answered,
    from normalized
)

select
    provider,
    call_key,
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
    record,
from answered
