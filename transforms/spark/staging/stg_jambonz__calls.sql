-- grain: one row per jambonz live call in the last successful sync's list; key: call_key
-- Spark's copy of transforms/staging/stg_jambonz__calls.sql.
with source as (
    select * from {{ raw_jambonz.calls }}
),

fields as (
    select
        *,
        -- the record's fields staging reads, by name, each as text
        from_json(record, 'account_sid string, direction string, `from` string, `to` string,
            call_status string, sip_status string, duration string') as f
    from source
),

renamed as (
    select
        'jambonz' as provider,
        call_id,
        coalesce(nullif(f.account_sid, ''), account_id) as account_id,
        fetched_at,
        record,
        f.direction as direction_raw,
        f.`from` as from_raw,
        f.`to` as to_raw,
        f.call_status as provider_status,
        staging_int(f.sip_status) as sip_code,
        staging_duration(f.duration) as reported_duration_seconds
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
            when staging_token(provider_status) = 'completed' then 'completed'
            when staging_token(provider_status) = 'busy' then 'busy'
            when staging_token(provider_status) = 'noanswer' then 'no_answer'
            when staging_token(provider_status) = 'failed' then 'failed'
            when staging_token(provider_status) in (
                'trying', 'ringing', 'alerting', 'earlymedia', 'inprogress', 'queued'
            ) then 'in_progress'
            else 'unknown'
        end as status
    from renamed
)

select
    provider,
    call_key,
    call_id,
    account_id,
    direction,
    status,
    -- in-progress is jambonz's "answered and talking"; a 200 while live says so too
    status = 'completed'
    or (
        status = 'in_progress'
        and (staging_token(provider_status) = 'inprogress' or sip_code = 200)
    ) as answered,
    coalesce(reported_duration_seconds, 0) as duration_seconds,
    staging_e164(from_raw) as from_number,
    staging_e164(to_raw) as to_number,
    sip_code,
    provider_status,
    fetched_at as observed_at,
    record
from normalized
