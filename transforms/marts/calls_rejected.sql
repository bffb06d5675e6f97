-- grain: one row per raw record that could not become a calls row; key: (provider, record_key)
-- materialized: view
with staged as (
    select provider, record_key, reject_reason, raw_table, synced_at
    from staging.stg_calls
)

select
    provider,
    record_key,
    reject_reason as reason,
    raw_table,
    max(synced_at) as loaded_at,
from staged
where reject_reason is not null
group by provider, record_key, reject_reason, raw_table
