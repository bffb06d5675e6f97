-- condition: true for a row of `calls` that breaks the rule
-- severity: error
-- rule: ended_at is not before started_at.
-- why error: a call cannot end before it began; such a row gives negative times and
-- wrong durations in every dashboard, and our own timestamp parsing (zones, epochs in
-- ms) is the likeliest cause. Calls still in progress (no ended_at) are not checked.
ended_at < started_at
