-- grain: one row per raw jambonz CDR (RecentCalls record), every load kept (dedup in calls); key: call_key
-- Spark's copy of transforms/staging/stg_jambonz__recent_calls.sql.
with source as (
    select * from {{ raw_jambonz.recent_calls }}
),

fields as (
    select
        *,
        -- the record's fields staging reads, by name, each as text
        from_json(record, 'account_sid string, direction string, `from` string, `to` string,
            answered string, sip_status string, duration string, answered_at string,
            terminated_at string, termination_reason string, recording_url string') as f
    from source
),

renamed as (
    select
        'jambonz' as provider,
        call_id,
        coalesce(nullif(f.account_sid, ''), account_id) as account_id,
        started_at,
        fetched_at,
        record,
        base_url,
        f.direction as direction_raw,
        f.`from` as from_raw,
        f.`to` as to_raw,
        f.answered as answered_raw,
        f.sip_status as sip_status_raw,
        staging_bool(f.answered) as answered_flag,
        staging_int(f.sip_status) as sip_code,
        staging_duration(f.duration) as reported_duration_seconds,
        -- an unanswered call's answered_at is the epoch: staging_ts reads it as null
        staging_ts(f.answered_at) as answered_at,
        staging_ts(f.terminated_at) as ended_at,
        nullif(trim(f.termination_reason), '') as end_reason,
        nullif(trim(f.recording_url), '') as recording_path
    from fields
),

normalized as (
    select
        *,
        'jambonz:' || call_id as call_key,
        case staging_token(direction_raw)
            when 'inbound' then 'inbound'
            when 'outbound' then 'outbound'
            else 'unknown'
        end as direction,
        case
            when answered_flag then 'completed'
            else staging_sip_status(sip_code)
        end as status,
        -- the two fields the status rule read, as given
        case
            when answered_raw is not null or sip_status_raw is not null
                then coalesce(answered_raw, '') || '/' || coalesce(sip_status_raw, '')
        end as provider_status,
        -- a relative recording path is resolved against the API root it was read from
        staging_resolve_url(recording_path, base_url) as recording_url
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
