-- Shared expressions of the warehouse contract (DuckDB macros: this folder is the adapter
-- a Postgres port replaces with functions). Inputs are text as extracted from raw JSON.

-- status and direction vocabularies: case-insensitive, ignoring '-', '_' and spaces
create or replace macro staging.token(value) as
    lower(regexp_replace(trim(value), '[-_ ]', '', 'g'));

-- a plain decimal number ('45', '45.9'; no sign, exponent or separators), without a regex
create or replace macro staging.is_decimal(value) as
    translate(trim(value), '0123456789.', '') = ''
    and length(trim(value)) - length(replace(trim(value), '.', '')) <= 1
    and trim(value)[1] between '0' and '9' and trim(value)[-1] between '0' and '9';

-- timestamps: ISO 8601 with Z or an offset (fractions to ns), epoch s or ms (>= 10^11 is
-- ms), zone-less is UTC; the epoch itself and all-zero dates are null
create or replace macro staging.epoch_ts(number) as
    case
        when number is null or number = 0 then null
        when abs(number) >= 100000000000 then try(to_timestamp(number / 1000))
        else try(to_timestamp(number))
    end;

create or replace macro staging.ts(value) as
    nullif(
        coalesce(
            -- the usual case first: a readable, finite ISO timestamp
            case when isfinite(try_cast(value as timestamptz))
                then try_cast(value as timestamptz) end,
            case when staging.is_decimal(value)
                  or (trim(value)[1] = '-' and staging.is_decimal(trim(value)[2:]))
                then staging.epoch_ts(try_cast(value as double)) end
        ),
        timestamptz '1970-01-01 00:00:00+00'
    );

-- durations: integers and numeric strings are seconds (floats rounded down);
-- 'H:MM:SS', 'HH:MM:SS', 'MM:SS' and 'D day(s), H:MM:SS' are converted; else null
create or replace macro staging.duration(value) as
    case
        -- numbers first: the usual form, and no regular expression to run
        when staging.is_decimal(value)
            then try_cast(floor(try_cast(value as double)) as integer)
        when value is null or not contains(value, ':') then null
        when regexp_full_match(trim(value), '([0-9]+) days?, ([0-9]+):([0-9]{2}):([0-9]{2})(\.[0-9]+)?')
            then cast(regexp_extract(trim(value), '^([0-9]+)', 1) as integer) * 86400
                + cast(regexp_extract(trim(value), ', ([0-9]+):', 1) as integer) * 3600
                + cast(regexp_extract(trim(value), ':([0-9]{2}):', 1) as integer) * 60
                + cast(regexp_extract(trim(value), ':([0-9]{2})(\.[0-9]+)?$', 1) as integer)
        when regexp_full_match(trim(value), '[0-9]+:[0-9]{2}:[0-9]{2}(\.[0-9]+)?')
            then cast(split_part(trim(value), ':', 1) as integer) * 3600
                + cast(split_part(trim(value), ':', 2) as integer) * 60
                + cast(floor(cast(split_part(trim(value), ':', 3) as double)) as integer)
        when regexp_full_match(trim(value), '[0-9]+:[0-9]{2}(\.[0-9]+)?')
            then cast(split_part(trim(value), ':', 1) as integer) * 60
                + cast(floor(cast(split_part(trim(value), ':', 2) as double)) as integer)
    end;

-- E.164 where the input can be read as one: spaces, dots, dashes and brackets removed,
-- a leading 00 read as +, 11 to 15 bare digits given a +; anything else as given
create or replace macro staging.e164_clean(value) as
    regexp_replace(regexp_replace(trim(value), '[ .()\-]', '', 'g'), '^00', '+');

create or replace macro staging.e164_digits(value) as
    -- true when value is '+' then 7 to 15 digits, the first not 0 (no regex: the usual case)
    value[1] = '+' and length(value) between 8 and 16 and value[2] between '1' and '9'
    and translate(value[2:], '0123456789', '') = '';

create or replace macro staging.e164(value) as
    case
        when value is null then null
        when staging.e164_digits(value) then value
        when regexp_full_match(staging.e164_clean(value), '\+[1-9][0-9]{6,14}')
            then staging.e164_clean(value)
        when regexp_full_match(staging.e164_clean(value), '[1-9][0-9]{10,14}')
            then '+' || staging.e164_clean(value)
        else value
    end;

-- SIP final response code to the contract's status (Bland, jambonz recent calls)
create or replace macro staging.sip_status(code) as
    case
        when code is null then 'unknown'
        when code = 200 then 'completed'
        when code in (486, 600, 603) then 'busy'
        when code in (408, 480) then 'no_answer'
        when code = 487 then 'canceled'
        when code between 100 and 199 then 'in_progress'
        when code >= 300 then 'failed'
        else 'unknown'
    end;

-- whole seconds between two timestamps, rounded down, never negative
create or replace macro staging.seconds_between(a, b) as
    case when a is not null and b is not null and b >= a
        then cast(floor(epoch(b) - epoch(a)) as integer) end;

-- duration_seconds: the reported duration; else, for an answered call that ended,
-- ended_at - answered_at (else - started_at), rounded down; else 0
create or replace macro staging.call_duration(reported, answered, started_at, answered_at,
                                              ended_at) as
    coalesce(
        reported,
        case when answered
            then staging.seconds_between(coalesce(answered_at, started_at), ended_at) end,
        0
    );

-- recording_url: an absolute URL (with a scheme) as given; a relative path appended to
-- the API root it was read from (`base`); as given where that root is unknown
create or replace macro staging.resolve_url(path, base) as
    case
        when path is null then null
        when regexp_matches(path, '^[A-Za-z][A-Za-z0-9+.-]*://') then path
        when base is null then path
        when starts_with(path, '/') then rtrim(base, '/') || path
        else rtrim(base, '/') || '/' || path
    end;
