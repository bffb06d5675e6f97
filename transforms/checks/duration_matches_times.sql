-- condition: true for a row of `calls` that breaks the rule
-- severity: warn
-- rule: duration_seconds is within 2 s of ended_at - answered_at, where both are known.
-- why warn: duration_seconds is the provider's own figure (contract section 3), which a
-- provider may count differently from its timestamps (billing rounding, talk time after
-- a transfer); a gross disagreement on many rows points at a parsing bug instead.
answered_at is not null
and ended_at is not null
and abs(duration_seconds - staging.seconds_between(answered_at, ended_at)) > 2
