-- What call_checks and calls_gaps hold (contract section 7), for BI tools and
-- duckdb_columns(). Run after every build: replacing a table or view drops its comments.
comment on table call_checks is 'Data-quality rules over calls (transforms/checks/): one row per rule per provider that has calls, passing rules included; replaced after every build and by callsync check';
comment on column call_checks.rule is 'The rule''s name: its file in transforms/checks/, whose header says what it checks and why its severity';
comment on column call_checks.provider is 'bland, sipsim, unpod or jambonz';
comment on column call_checks.severity is 'error (impossible data or a bug in the models: callsync check --fail-on error exits 1) or warn (suspicious, or a known provider quirk)';
comment on column call_checks.failing_rows is 'Calls of this provider that break the rule';
comment on column call_checks.total_rows is 'Calls of this provider in calls';
comment on column call_checks.sample_keys is 'Up to 5 call_keys of failing calls, smallest first; empty when the rule passes';
comment on column call_checks.checked_at is 'When the rules ran, UTC';
comment on view calls_gaps is 'Hours with no call where calls were expected: per provider and UTC hour from its first call to the last full hour, where the mean count at that hour of the week over the previous four weeks is at least 1 (an outage or a lost page)';
comment on column calls_gaps.provider is 'bland, sipsim, unpod or jambonz';
comment on column calls_gaps.hour is 'Start of the UTC hour with no call';
comment on column calls_gaps.expected_calls is 'Mean number of calls at this hour of the week over the previous four weeks (weeks before the provider''s first call count as 0)';
