-- grain: one row per failing call; key: call_key
-- severity: error
-- rule: started_at is not later than now plus 5 minutes (clock skew allowed).
-- why error: a call cannot start in the future; the usual cause is a local time read as
-- UTC. started_at is also the incremental cursor: a future value moves the cursor past
-- calls not yet read, so later syncs can miss them.
with source as (
    select provider, call_key, started_at from calls
),

failing as (
    select provider, call_key from source
    where started_at > now() + interval '5 minutes'
)

select * from failing
