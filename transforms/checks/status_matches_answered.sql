-- grain: one row per failing call; key: call_key
-- severity: error
-- rule: status and answered agree as the contract defines them (section 3): a completed
-- call is answered, a voicemail is not.
-- why error: the models set both columns from the same record by that rule, so a row
-- that breaks it is a bug in the models, whatever the provider sent.
with source as (
    select provider, call_key, status, answered from calls
),

failing as (
    select provider, call_key from source
    where (status = 'completed' and not answered)
        or (status = 'voicemail' and answered)
)

select * from failing
