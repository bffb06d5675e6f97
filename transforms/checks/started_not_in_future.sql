-- condition: true for a row of `calls` that breaks the rule
-- severity: error
-- rule: started_at is not later than now plus 5 minutes (clock skew allowed).
-- why error: a call cannot start in the future; the usual cause is a local time read as
-- UTC. started_at is also the incremental cursor: a future value moves the cursor past
-- calls not yet read, so later syncs can miss them.
started_at > now() + interval '5 minutes'
