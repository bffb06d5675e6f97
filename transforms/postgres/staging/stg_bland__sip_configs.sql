-- grain: one row per Bland phone number and direction configured at the last sync
with source as (
    select * from {{ raw_bland.sip_configs }}
),

renamed as (
    select
        phone_number,
        lower(direction) as direction,
        sip_endpoint,
        options ->> 'transport' as transport,
        staging.try_integer(options ->> 'port') as port,
        options ->> 'auth_mode' as auth_mode,
        staging.try_boolean(options ->> 'secure_media') as secure_media,
        nullif(created_at, timestamptz '1970-01-01 00:00:00+00') as created_at,
        nullif(updated_at, timestamptz '1970-01-01 00:00:00+00') as updated_at
    from source
)

select * from renamed
