-- condition: true for a row of `calls` that breaks the rule
-- severity: warn
-- rule: from_number and to_number that look like phone numbers (only digits, '+' and the
-- separators ' .()-', with at least 7 digits) are E.164 ('+', then 7 to 15 digits, the
-- first not 0). Extensions and short codes (fewer digits), 'anonymous' and SIP URIs are
-- not phone numbers and are not checked.
-- why warn: the models write E.164 wherever the input can be read as one and keep the
-- rest as given, since no default country is assumed (contract section 3): a national
-- number ('4155550100') is the provider's data, kept, but it will not match the same
-- number written in E.164 by another provider.
-- cost: the cheap E.164 match first, so the looser phone-number
-- pattern runs only on the few numbers that fail it (translate() was 4x slower than
-- these regular expressions on 40M rows); regexp_full_match, not regexp_matches with
-- '^...$': 0.003 s against 0.034 s over 1M calls.
(
    not regexp_full_match(from_number, '\+[1-9][0-9]{6,14}')
    and regexp_full_match(from_number, '\+?[ .()\-]*([0-9][ .()\-]*){7,}')
) or (
    not regexp_full_match(to_number, '\+[1-9][0-9]{6,14}')
    and regexp_full_match(to_number, '\+?[ .()\-]*([0-9][ .()\-]*){7,}')
)
