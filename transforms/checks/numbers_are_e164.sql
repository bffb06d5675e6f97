-- grain: one row per failing call; key: call_key
-- severity: warn
-- rule: from_number and to_number that look like phone numbers (only digits, '+' and the
-- separators ' .()-', with at least 7 digits) are E.164 ('+', then 7 to 15 digits, the
-- first not 0). Extensions and short codes (fewer digits), 'anonymous' and SIP URIs are
-- not phone numbers and are not checked.
-- why warn: the models write E.164 wherever the input can be read as one and keep the
-- rest as given, since no default country is assumed (contract section 3): a national
-- number ('4155550100') is the provider's data, kept, but it will not match the same
-- number written in E.164 by another provider.
with source as (
    select provider, call_key, from_number as number from calls
    union all
    select provider, call_key, to_number as number from calls
),

phone_like as (
    -- no regular expression: translate() strips the allowed characters (as the macros do)
    select provider, call_key, number from source
    where translate(number, '0123456789+ .()-', '') = ''
        and length(translate(number, '+ .()-', '')) >= 7
),

failing as (
    select distinct provider, call_key from phone_like
    where not staging.e164_digits(number)
)

select * from failing
