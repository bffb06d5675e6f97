-- grain: one row per jambonz live call in the last successful sync's list; key: call_key
with source as (
    select * from {{ raw_jambonz.calls }}
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
            call_status text,
            sip_status text,
            duration text
        )
),

renamed as (
    select
        'jambonz' as provider,
        call_id,
        coalesce(nullif(account_sid, ''), account_id) as account_id,
        fetched_at,
        record,
        direction as direction_raw,
        "from" as from_raw,
        "to" as to_raw,
        call_status as provider_status,
        staging.try_integer(sip_status) as sip_code,
        staging.duration(duration) as reported_duration_seconds
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
            when staging.token(provider_status) = 'completed' then 'completed'
            when staging.token(provider_status) = 'busy' then 'busy'
            when staging.token(provider_status) = 'noanswer' then 'no_answer'
            when staging.token(provider_status) = 'failed' then 'failed'
            when staging.token(provider_status) in (
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
        and (staging.token(provider_status) = 'inprogress' or sip_code = 200)
    ) as answered,
    coalesce(reported_duration_seconds, 0) as duration_seconds,
    staging.e164(from_raw) as from_number,
    staging.e164(to_raw) as to_number,
    sip_code,
    provider_status,
    fetched_at as observed_at,
    record
from normalized
