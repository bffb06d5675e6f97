-- grain: one row per provider and UTC hour with no call where calls were expected; key: (provider, hour)
-- materialized: view
-- An hour is expected to have calls when the mean count at that hour of the week over the
-- previous four weeks is at least 1 (weeks before the provider's first call count as 0).
-- Only hours that had a call one to four weeks earlier can qualify, so the candidates come
-- from the hourly counts shifted by 1..4 weeks: no series of every hour is generated, and
-- the one scan of `calls` is an aggregate per provider and hour. Hours are computed on
-- naive UTC timestamps so that the reader's session time zone does not move them.
with source as (
    select provider, timezone('UTC', started_at) as started_utc from calls
),

hourly as (
    select
        provider,
        date_trunc('hour', started_utc) as hour_utc,
        count(*) as calls,
    from source
    group by provider, date_trunc('hour', started_utc)
),

bounds as (
    select
        provider,
        min(hour_utc) as first_hour_utc,
        -- the last full hour: the one before the hour now running
        date_trunc('hour', timezone('UTC', now())) - interval '1 hour' as last_hour_utc,
    from hourly
    group by provider
),

shifted as (
    -- each hour's count, seen from the same hour of the week one to four weeks later
    select provider, hour_utc + interval '7 days' as hour_utc, calls from hourly
    union all
    select provider, hour_utc + interval '14 days' as hour_utc, calls from hourly
    union all
    select provider, hour_utc + interval '21 days' as hour_utc, calls from hourly
    union all
    select provider, hour_utc + interval '28 days' as hour_utc, calls from hourly
),

expected as (
    select
        provider,
        hour_utc,
        cast(sum(calls) as double) / 4 as expected_calls,
    from shifted
    group by provider, hour_utc
),

quiet as (
    -- within the provider's bounds, with no call at all in that hour
    select
        expected.provider,
        expected.hour_utc,
        expected.expected_calls,
    from expected
    inner join bounds
        on bounds.provider = expected.provider
        and expected.hour_utc >= bounds.first_hour_utc
        and expected.hour_utc <= bounds.last_hour_utc
    left join hourly
        on hourly.provider = expected.provider
        and hourly.hour_utc = expected.hour_utc
    where hourly.hour_utc is null
        and expected.expected_calls >= 1
),

gaps as (
    select
        provider,
        timezone('UTC', hour_utc) as hour,
        expected_calls,
    from quiet
)

select * from gaps
