-- grain: one row per Bland phone number and direction configured at the last sync
with source as (
    select * from {{ raw_bland.sip_configs }}
),

renamed as (
    select
        phone_number,
        lower(direction) as direction,
        sip_endpoint,
        json_extract_string(options, '$.transport') as transport,
        try_cast(json_extract_string(options, '$.port') as integer) as port,
        json_extract_string(options, '$.auth_mode') as auth_mode,
        try_cast(json_extract_string(options, '$.secure_media') as boolean) as secure_media,
        staging.ts(cast(created_at as varchar)) as created_at,
        staging.ts(cast(updated_at as varchar)) as updated_at,
    from source
)

select * from renamed
