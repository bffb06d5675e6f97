-- grain: one row per Bland phone number and direction; key: (phone_number, direction)
with configs as (
    select * from staging.stg_bland__sip_configs
)

select
    phone_number,
    direction,
    sip_endpoint,
    transport,
    port,
    auth_mode,
    secure_media,
    created_at,
    updated_at,
from configs
where direction in ('inbound', 'outbound')
