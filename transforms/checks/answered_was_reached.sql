-- condition: true for a row of `calls` that breaks the rule
-- severity: warn
-- rule: an answered call does not have a status saying it was never reached (no_answer,
-- busy, canceled).
-- why warn: answered is also true when the provider says so (an answered flag or an
-- answered_at: contract section 3), so a provider that contradicts itself (e.g. an Unpod
-- `missed` call with a start_time) yields such a row, kept as given.
answered and status in ('no_answer', 'busy', 'canceled')
