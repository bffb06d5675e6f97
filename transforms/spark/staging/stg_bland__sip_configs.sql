-- grain: one row per Bland phone number and direction configured at the last sync
-- Spark's copy of transforms/staging/stg_bland__sip_configs.sql.
with source as (
    select * from {{ raw_bland.sip_configs }}
),

renamed as (
    select
        phone_number,
        lower(direction) as direction,
        sip_endpoint,
        get_json_object(options, '$.transport') as transport,
        try_cast(get_json_object(options, '$.port') as int) as port,
        get_json_object(options, '$.auth_mode') as auth_mode,
        staging_bool(get_json_object(options, '$.secure_media')) as secure_media,
        staging_ts(cast(created_at as string)) as created_at,
        staging_ts(cast(updated_at as string)) as updated_at
    from source
)

select * from renamed
