-- condition: true for a row of `calls` that breaks the rule
-- severity: warn
-- rule: a completed call has an ended_at.
-- why warn: a real provider quirk, not a fault of the data: SIPSIM has no status for a
-- call in progress and reports a live call as `answer` (completed) with no end time or
-- duration yet. calls_unfinished lists it (answered, no end), so later syncs fetch it
-- again by id until it ends.
status = 'completed' and ended_at is null
