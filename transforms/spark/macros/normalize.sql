-- Shared expressions of the warehouse contract for Spark: `transforms/macros/normalize.sql`
-- (DuckDB macros) as Spark SQL functions (`create temporary function ... return <expr>`,
-- Spark 4's SQL UDFs: plain SQL that Spark inlines, no Python and no JVM code). Spark does
-- not allow a schema on a temporary object, so DuckDB's `staging.<name>` is `staging_<name>`
-- here; the runner maps one to the other in the marts and checks it transpiles.
-- Each function must give exactly what its DuckDB macro gives: tests/engines/test_spark.py
-- compares them value by value.

-- status and direction vocabularies: case-insensitive, ignoring '-', '_' and spaces
create or replace temporary function staging_token(value string) returns string return
    lower(regexp_replace(trim(value), '[-_ ]', ''));

-- a plain decimal number ('45', '45.9'; no sign, exponent or separators)
create or replace temporary function staging_is_decimal(value string) returns boolean return
    trim(value) rlike '^[0-9]+(\\.[0-9]+)?$';

-- DuckDB's cast of text to boolean (true/t/1/yes/y, false/f/0/no; any case; no trimming)
create or replace temporary function staging_bool(value string) returns boolean return
    case
        when lower(value) in ('true', 't', '1', 'yes', 'y') then true
        when lower(value) in ('false', 'f', '0', 'no', 'n') then false
    end;

-- DuckDB's cast of text to integer through double: rounded half to even, null out of range
create or replace temporary function staging_int(value string) returns int return
    case
        when abs(try_cast(value as double)) < 2147483647.5
            then cast(bround(try_cast(value as double), 0) as int)
    end;

-- timestamps: epoch s or ms (>= 10^11 is ms); the epoch itself is null. Spark's timestamps
-- end in the year 9999: a later instant (which DuckDB can hold) is null here.
create or replace temporary function staging_epoch_ts(number double) returns timestamp return
    case
        when number is null or number = 0 then null
        when abs(number) >= 100000000000 and abs(number) < 253402300800000
            then timestamp_micros(cast(floor(number * 1000) as bigint))
        when abs(number) < 100000000000
            then timestamp_micros(cast(floor(number * 1000000) as bigint))
    end;

-- ISO 8601 with Z or an offset (fractions to ns), epoch s or ms, zone-less is UTC (the
-- session's zone); the epoch itself and all-zero dates are null. A plain number is an
-- epoch (DuckDB reads no plain number as an ISO date; Spark would read '2026' as a year).
create or replace temporary function staging_ts(value string) returns timestamp return
    nullif(
        case
            when staging_is_decimal(value)
                or (substr(trim(value), 1, 1) = '-' and staging_is_decimal(substr(trim(value), 2)))
                then staging_epoch_ts(try_cast(trim(value) as double))
            else try_cast(trim(value) as timestamp)
        end,
        timestamp '1970-01-01 00:00:00Z'
    );

-- durations: integers and numeric strings are seconds (floats rounded down);
-- 'H:MM:SS', 'HH:MM:SS', 'MM:SS' and 'D day(s), H:MM:SS' are converted; else null
create or replace temporary function staging_duration(value string) returns int return
    case
        when staging_is_decimal(value)
            then try_cast(floor(try_cast(trim(value) as double)) as int)
        when value is null or not contains(value, ':') then null
        when trim(value) rlike '^([0-9]+) days?, ([0-9]+):([0-9]{2}):([0-9]{2})(\\.[0-9]+)?$'
            then cast(regexp_extract(trim(value), '^([0-9]+)', 1) as int) * 86400
                + cast(regexp_extract(trim(value), ', ([0-9]+):', 1) as int) * 3600
                + cast(regexp_extract(trim(value), ':([0-9]{2}):', 1) as int) * 60
                + cast(regexp_extract(trim(value), ':([0-9]{2})(\\.[0-9]+)?$', 1) as int)
        when trim(value) rlike '^[0-9]+:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?$'
            then cast(split_part(trim(value), ':', 1) as int) * 3600
                + cast(split_part(trim(value), ':', 2) as int) * 60
                + cast(floor(cast(split_part(trim(value), ':', 3) as double)) as int)
        when trim(value) rlike '^[0-9]+:[0-9]{2}(\\.[0-9]+)?$'
            then cast(split_part(trim(value), ':', 1) as int) * 60
                + cast(floor(cast(split_part(trim(value), ':', 2) as double)) as int)
    end;

-- E.164 where the input can be read as one: spaces, dots, dashes and brackets removed,
-- a leading 00 read as +, 11 to 15 bare digits given a +; anything else as given
create or replace temporary function staging_e164_clean(value string) returns string return
    regexp_replace(regexp_replace(trim(value), '[ .()\\-]', ''), '^00', '+');

create or replace temporary function staging_e164(value string) returns string return
    case
        when value is null then null
        when value rlike '^\\+[1-9][0-9]{6,14}$' then value
        when staging_e164_clean(value) rlike '^\\+[1-9][0-9]{6,14}$'
            then staging_e164_clean(value)
        when staging_e164_clean(value) rlike '^[1-9][0-9]{10,14}$'
            then '+' || staging_e164_clean(value)
        else value
    end;

-- SIP final response code to the contract's status (Bland, jambonz recent calls)
create or replace temporary function staging_sip_status(code int) returns string return
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
create or replace temporary function staging_seconds_between(a timestamp, b timestamp)
returns int return
    case when a is not null and b is not null and b >= a
        then cast(floor((unix_micros(b) - unix_micros(a)) / 1000000) as int) end;

-- duration_seconds: the reported duration; else, for an answered call that ended,
-- ended_at - answered_at (else - started_at), rounded down; else 0
create or replace temporary function staging_call_duration(
    reported int, answered boolean, started_at timestamp, answered_at timestamp,
    ended_at timestamp
) returns int return
    coalesce(
        reported,
        case when answered
            then staging_seconds_between(coalesce(answered_at, started_at), ended_at) end,
        0
    );

-- recording_url: an absolute URL (with a scheme) as given; a relative path appended to
-- the API root it was read from (`base`); as given where that root is unknown
create or replace temporary function staging_resolve_url(path string, base string)
returns string return
    case
        when path is null then null
        when path rlike '^[A-Za-z][A-Za-z0-9+.-]*://' then path
        when base is null then path
        when startswith(path, '/') then trim(trailing '/' from base) || path
        else trim(trailing '/' from base) || '/' || path
    end;
