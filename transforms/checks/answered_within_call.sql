-- condition: true for a row of `calls` that breaks the rule
-- severity: error
-- rule: answered_at lies between started_at and ended_at (or after started_at while the
-- call is still in progress).
-- why error: the answer is an instant of the call itself; outside it, wait_seconds and
-- the durations computed from it are wrong, whichever side (provider or parsing) erred.
answered_at < started_at or answered_at > ended_at
