-- condition: true for a row of `calls` that breaks the rule
-- severity: error
-- rule: status and answered agree as the contract defines them (section 3): a completed
-- call is answered, a voicemail is not.
-- why error: the models set both columns from the same record by that rule, so a row
-- that breaks it is a bug in the models, whatever the provider sent.
(status = 'completed' and not answered)
or (status = 'voicemail' and answered)
