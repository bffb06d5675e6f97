-- condition: true for a row of `calls` that breaks the rule
-- severity: warn
-- rule: an answered call that has ended has duration_seconds > 0.
-- why warn: a call answered and hung up within a second is real (durations are rounded
-- down), so this is a signal, not an impossibility. Calls still going on (no ended_at)
-- are not checked: SIPSIM reports a live call as answered with no duration yet
-- (duration_seconds is 0 until it ends), which is not a fault.
answered and ended_at is not null and duration_seconds <= 0
