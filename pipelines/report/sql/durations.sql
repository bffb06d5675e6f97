-- grain: one row per duration bucket and provider, answered calls only (an unanswered call
-- lasts 0 s and would hide the shape); key: (bucket, provider)
with answered as (
    select provider, duration_seconds from calls where answered
),

bucketed as (
    select
        provider,
        case
            when duration_seconds < 15 then 1
            when duration_seconds < 30 then 2
            when duration_seconds < 60 then 3
            when duration_seconds < 120 then 4
            when duration_seconds < 300 then 5
            when duration_seconds < 600 then 6
            when duration_seconds < 1800 then 7
            else 8
        end as bucket,
    from answered
),

labels (bucket, duration) as (
    values
        (1, '< 15 s'), (2, '15-30 s'), (3, '30-60 s'), (4, '1-2 min'),
        (5, '2-5 min'), (6, '5-10 min'), (7, '10-30 min'), (8, '30 min +')
),

counted as (
    select bucket, provider, count(*) as calls,
    from bucketed
    group by bucket, provider
)

select
    counted.bucket,
    labels.duration,
    counted.provider,
    cast(counted.calls as bigint) as calls,
from counted
join labels on labels.bucket = counted.bucket
order by counted.bucket, counted.provider
