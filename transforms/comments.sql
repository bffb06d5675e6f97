-- What every contract table and column holds (warehouse contract, section 3), so that BI
-- tools and `duckdb_columns()` show it. The runner executes this file after the marts are
-- built (a rebuilt table loses its comments). One statement per object; append yours.

comment on table calls is 'One row per provider call, every provider in one shape. Key: call_key.';
comment on column calls.call_key is 'Unique key: <provider>:<call_id>.';
comment on column calls.provider is 'The provider the call came from: bland, sipsim, unpod or jambonz.';
comment on column calls.call_id is 'The provider''s own id of the call, as text.';
comment on column calls.account_id is 'The partition it was read from: bland phone number, unpod org handle, jambonz account sid; null for sipsim.';
comment on column calls.direction is 'inbound or outbound; unknown where the record cannot tell.';
comment on column calls.status is 'completed, no_answer, busy, canceled, failed, voicemail or in_progress; unknown for a provider value no rule covers.';
comment on column calls.answered is 'True when a person or agent picked up (a voicemail call is not answered).';
comment on column calls.started_at is 'When the call attempt began, UTC. The incremental cursor.';
comment on column calls.answered_at is 'When the call was answered, UTC, where known.';
comment on column calls.ended_at is 'When the call ended, UTC; null while in progress.';
comment on column calls.duration_seconds is 'The provider''s reported duration in whole seconds; 0 when unanswered and unreported.';
comment on column calls.wait_seconds is 'Ring time before answer in seconds: as reported, else answered_at - started_at.';
comment on column calls.from_number is 'Calling number, E.164 where it can be read as one, else as given.';
comment on column calls.to_number is 'Called number, E.164 where it can be read as one, else as given.';
comment on column calls.sip_code is 'Final SIP response code, where known.';
comment on column calls.provider_status is 'The provider''s own status value, unchanged (two fields joined by /).';
comment on column calls.end_reason is 'Why the call ended, as the provider gives it.';
comment on column calls.recording_url is 'URL of the recording, where given (a relative path resolved against base_url).';
comment on column calls.synced_at is 'When this row was last loaded, UTC.';

comment on table calls_daily is 'The dashboard mart: calls per UTC day, provider and direction. Key: (day, provider, direction).';
comment on column calls_daily.day is 'UTC date of started_at.';
comment on column calls_daily.provider is 'bland, sipsim, unpod or jambonz.';
comment on column calls_daily.direction is 'inbound, outbound or unknown.';
comment on column calls_daily.calls is 'Every call of the day, in-progress ones included.';
comment on column calls_daily.answered_calls is 'Calls answered.';
comment on column calls_daily.missed_calls is 'Inbound calls not answered; 0 on outbound rows.';
comment on column calls_daily.answer_rate is 'answered_calls / calls.';
comment on column calls_daily.total_duration_seconds is 'Sum of duration_seconds over all calls.';
comment on column calls_daily.avg_duration_seconds is 'Mean duration_seconds of answered calls; null where none.';

comment on table sip_configs is 'Bland SIP trunk configuration: one row per phone number and direction. No credential is ever stored.';
comment on column sip_configs.phone_number is 'The Bland phone number, E.164.';
comment on column sip_configs.direction is 'inbound or outbound.';
comment on column sip_configs.sip_endpoint is 'The SIP endpoint calls are sent to or come from.';
comment on column sip_configs.transport is 'SIP transport (udp, tcp, tls).';
comment on column sip_configs.port is 'SIP port.';
comment on column sip_configs.auth_mode is 'How the trunk authenticates (the credentials themselves are dropped).';
comment on column sip_configs.secure_media is 'Whether media is encrypted (SRTP).';
comment on column sip_configs.created_at is 'When the configuration was created, UTC.';
comment on column sip_configs.updated_at is 'When the configuration was last changed, UTC.';

comment on table active_calls is 'jambonz calls live at the last sync of jambonz (replaced on every sync; kept when it fails).';
comment on column active_calls.call_key is 'Unique key: jambonz:<call_id>.';
comment on column active_calls.provider is 'Always jambonz.';
comment on column active_calls.call_id is 'The call sid, else the SIP Call-ID.';
comment on column active_calls.account_id is 'The jambonz account sid.';
comment on column active_calls.direction is 'inbound or outbound; unknown where the record cannot tell.';
comment on column active_calls.status is 'The normalized status (mostly in_progress); unknown for a value no rule covers.';
comment on column active_calls.answered is 'True when the call has been answered.';
comment on column active_calls.duration_seconds is 'Seconds so far, as reported; 0 when unreported.';
comment on column active_calls.from_number is 'Calling number, E.164 where it can be read as one.';
comment on column active_calls.to_number is 'Called number, E.164 where it can be read as one.';
comment on column active_calls.sip_code is 'Last SIP response code, where known.';
comment on column active_calls.provider_status is 'jambonz''s own call_status, unchanged.';
comment on column active_calls.observed_at is 'When the sync saw the call live, UTC.';

comment on view calls_rejected is 'Raw records that could not become a calls row, with the reason. Nothing is dropped silently.';
comment on column calls_rejected.provider is 'bland, sipsim, unpod or jambonz.';
comment on column calls_rejected.record_key is 'The raw record''s id, or its raw-table row key.';
comment on column calls_rejected.reason is 'Why it was rejected (e.g. no readable start time, no id).';
comment on column calls_rejected.raw_table is 'The raw table holding the record (raw_<provider>.<table>).';
comment on column calls_rejected.loaded_at is 'When the record was last loaded, UTC.';

comment on view calls_unfinished is 'Calls left unfinished by their last load (in_progress, or answered with no end yet): fetched again on every sync until final or started more than max_follow_seconds ago, then still listed.';
comment on column calls_unfinished.call_key is '<provider>:<call_id>, as in calls.';
comment on column calls_unfinished.provider is 'bland, sipsim, unpod or jambonz.';
comment on column calls_unfinished.status is 'The call''s status in calls (in_progress; completed or unknown for a live call whose provider has no in-progress status).';
comment on column calls_unfinished.started_at is 'When the call attempt began, UTC.';
comment on column calls_unfinished.following_since is 'When callsync first fetched the call (its earliest raw record), UTC.';
