-- grain: one row per raw SIPSIM call record, every load kept (dedup in calls); key: call_key
-- Spark's copy of transforms/staging/stg_sipsim__calls.sql.
with source as (
    select * from {{ raw_sipsim.calls }}
),

fields as (
    select
        *,
        -- the record's fields staging reads, by name, each as text
        from_json(record, 'call_type string, direction string, sip_status string,
            caller_number string, target_number string, receiver_number string,
            answered string, answered_time string, end_time string,
            wait_duration_sec string, duration_sec string, play_record_link string') as f
    from source
),

renamed as (
    select
        'sipsim' as provider,
        call_id,
        cast(null as string) as account_id,
        started_at,
        fetched_at,
        record,
        -- the field table's names, else the code example's (the seed disagrees with itself)
        coalesce(nullif(trim(f.call_type), ''), f.direction) as call_type,
        f.sip_status as sip_status,
        f.caller_number as from_raw,
        coalesce(nullif(trim(f.target_number), ''), f.receiver_number) as to_raw,
        staging_bool(f.answered) as answered_flag,
        staging_ts(f.answered_time) as answered_at,
        staging_ts(f.end_time) as ended_at,
        staging_duration(f.wait_duration_sec) as reported_wait_seconds,
        staging_duration(f.duration_sec) as reported_duration_seconds,
        -- a relative link is resolved against the configured API root
        staging_resolve_url(nullif(trim(f.play_record_link), ''), {{ base_url.sipsim }})
            as recording_url
    from fields
),

normalized as (
    select
        *,
        'sipsim:' || call_id as call_key,
        staging_token(call_type) as type_token,
        staging_token(sip_status) as status_token,
        case staging_token(call_type)
            when 'inbound' then 'inbound'
            when 'outbound' then 'outbound'
            when 'outgoing' then 'outbound'
            -- missed and voicemail are call types of calls that came in
            when 'missed' then 'inbound'
            when 'voicemail' then 'inbound'
            else 'unknown'
        end as direction,
        case staging_token(sip_status)
            when 'answer' then 'completed'
            when 'cancel' then 'canceled'
            when 'noanswer' then 'no_answer'
            when 'unavailable' then 'no_answer'
            when 'busy' then 'busy'
            when 'other' then 'failed'
            else 'unknown'
        end as sip_outcome
    from renamed
),

classified as (
    select
        *,
        case
            when type_token = 'voicemail' then 'voicemail'
            when type_token = 'missed' and sip_outcome in ('busy', 'canceled') then sip_outcome
            when type_token = 'missed' then 'no_answer'
            else sip_outcome
        end as status
    from normalized
),

flagged as (
    select
        *,
        case
            when status = 'voicemail' or type_token = 'missed' then false
            else status = 'completed' or coalesce(answered_flag, false)
                or answered_at is not null
        end as answered
    from classified
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
    coalesce(reported_wait_seconds, staging_seconds_between(started_at, answered_at))
        as wait_seconds,
    staging_e164(from_raw) as from_number,
    staging_e164(to_raw) as to_number,
    cast(null as int) as sip_code,
    -- the status rule reads both fields: both, as given, joined by '/'
    case
        when call_type is not null or sip_status is not null
            then coalesce(call_type, '') || '/' || coalesce(sip_status, '')
    end as provider_status,
    cast(null as string) as end_reason,
    recording_url,
    fetched_at as synced_at,
    case
        when call_id is null then 'missing call_id'
        when started_at is null then 'missing or unreadable started_at'
    end as reject_reason,
    coalesce(call_id, md5(record)) as record_key,
    'raw_sipsim.calls' as raw_table,
    record
from flagged
