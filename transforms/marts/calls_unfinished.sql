-- grain: one row per call left unfinished by its last load; key: call_key
-- materialized: view
-- Unfinished: `in_progress`, or answered with no end yet (SIPSIM's `answer` and Unpod's
-- `in-progress` carry no in-progress status in `calls`, only the missing end time).
-- following_since: the first fetch of the call's raw records, when callsync first saw it
-- (unfinished then too: a call does not go back to unfinished once final).
with unfinished as (
    select call_key, provider, call_id, status, started_at
    from main.calls
    where status = 'in_progress' or (answered and ended_at is null)
),

first_fetches as (
    -- the earliest fetch of each such call's raw records: when callsync first saw it
    select 'bland' as provider, call_id, min(fetched_at) as following_since
    from {{ raw_bland.sip_calls }}
    where call_id in (select call_id from unfinished where provider = 'bland')
    group by call_id
    union all
    select 'sipsim' as provider, call_id, min(fetched_at) as following_since
    from {{ raw_sipsim.calls }}
    where call_id in (select call_id from unfinished where provider = 'sipsim')
    group by call_id
    union all
    select 'unpod' as provider, call_id, min(fetched_at) as following_since
    from {{ raw_unpod.call_logs }}
    where call_id in (select call_id from unfinished where provider = 'unpod')
    group by call_id
    union all
    select 'jambonz' as provider, call_id, min(fetched_at) as following_since
    from {{ raw_jambonz.recent_calls }}
    where call_id in (select call_id from unfinished where provider = 'jambonz')
    group by call_id
)

select
    unfinished.call_key,
    unfinished.provider,
    unfinished.status,
    unfinished.started_at,
    first_fetches.following_since,
from unfinished
left join first_fetches
    on first_fetches.provider = unfinished.provider
    and first_fetches.call_id = unfinished.call_id
