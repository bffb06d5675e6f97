-- Shared expressions of the warehouse contract for PostgreSQL: the functions replacing
-- `transforms/macros/normalize.sql`'s DuckDB macros, with the same names and results, in
-- schema `staging`. SQL functions are inlined by the planner; the few that must catch a
-- cast error (DuckDB's `try_cast`/`try`) are PL/pgSQL. Inputs are text read from raw JSON.

-- a record's JSON object, or an empty one when the text is not valid JSON or not an
-- object (a list, a string): its fields then read as null and the record is rejected or
-- kept exactly as DuckDB's `json_transform` treats it, never failing the build
create or replace function staging.json_object(value text) returns json
language plpgsql immutable as $$
declare
    parsed json;
begin
    parsed := value::json;
    if json_typeof(parsed) = 'object' then
        return parsed;
    end if;
    return '{}'::json;
exception when others then
    return '{}'::json;
end;
$$;

-- DuckDB's try_cast(value as double): null where the text is not a number
create or replace function staging.try_double(value text) returns double precision
language plpgsql immutable as $$
begin
    return trim(value)::double precision;
exception when others then
    return null;
end;
$$;

-- DuckDB's try_cast(... as integer): rounded half to even (as the cast rounds), null
-- out of range
create or replace function staging.try_integer(value double precision) returns integer
language sql immutable as $$
    select case when value >= -2147483648.5 and value < 2147483647.5 then value::integer end
$$;

create or replace function staging.try_integer(value text) returns integer
language sql immutable as $$
    select staging.try_integer(staging.try_double(value))
$$;

-- DuckDB's try_cast(value as boolean): the spellings it accepts, any case, no spaces
create or replace function staging.try_boolean(value text) returns boolean
language sql immutable as $$
    select case lower(value)
        when 'true' then true when 't' then true when '1' then true
        when 'yes' then true when 'y' then true
        when 'false' then false when 'f' then false when '0' then false
        when 'no' then false when 'n' then false
    end
$$;

-- status and direction vocabularies: case-insensitive, ignoring '-', '_' and spaces
create or replace function staging.token(value text) returns text
language sql immutable as $$
    select lower(regexp_replace(trim(value), '[-_ ]', '', 'g'))
$$;

-- a plain decimal number ('45', '45.9'; no sign, exponent or separators)
create or replace function staging.is_decimal(value text) returns boolean
language sql immutable as $$
    select trim(value) ~ '^[0-9]+(\.[0-9]+)?$'
$$;

-- epoch seconds, or milliseconds from 10^11 on; 0 and out-of-range values are null
create or replace function staging.epoch_ts(number double precision) returns timestamptz
language plpgsql immutable as $$
begin
    if number is null or number = 0 then
        return null;
    elsif abs(number) >= 100000000000 then
        return to_timestamp(number / 1000);
    end if;
    return to_timestamp(number);
exception when others then
    return null;
end;
$$;

-- timestamps: what DuckDB's timestamptz cast reads (ISO 8601 with Z, an offset or a zone
-- name, fractions truncated to microseconds as DuckDB does; zone-less is UTC), else epoch
-- s or ms (>= 10^11 is ms); the epoch itself and impossible dates (all zeros) are null
create or replace function staging.ts(value text) returns timestamptz
language plpgsql immutable as $$
declare
    text_value text := regexp_replace(trim(value), '^(.*\.[0-9]{6})[0-9]+', '\1');
    parsed timestamptz;
begin
    if text_value ~ ('^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}'
                     '([T ][0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?'
                     '(Z|[+-][0-9]{2}(:?[0-9]{2})?| [A-Za-z][A-Za-z0-9_/+-]*)?)?$') then
        begin
            if text_value ~ '(Z|[+-][0-9]{2}(:?[0-9]{2})?| [A-Za-z][A-Za-z0-9_/+-]*)$'
                    and text_value ~ ':' then
                parsed := text_value::timestamptz;
            else
                parsed := text_value::timestamp at time zone 'UTC';
            end if;
        exception when others then
            parsed := null;
        end;
        if not isfinite(parsed) then
            parsed := null;
        end if;
    elsif staging.is_decimal(text_value)
            or (left(text_value, 1) = '-' and staging.is_decimal(substr(text_value, 2))) then
        parsed := staging.epoch_ts(staging.try_double(text_value));
    end if;
    return nullif(parsed, timestamptz '1970-01-01 00:00:00+00');
end;
$$;

-- durations: integers and numeric strings are seconds (floats rounded down);
-- 'H:MM:SS', 'HH:MM:SS', 'MM:SS' and 'D day(s), H:MM:SS' are converted; else null
create or replace function staging.duration(value text) returns integer
language sql immutable as $$
    select case
        when staging.is_decimal(value)
            then staging.try_integer(floor(staging.try_double(value)))
        when value is null or strpos(value, ':') = 0 then null
        when trim(value) ~ '^([0-9]+) days?, ([0-9]+):([0-9]{2}):([0-9]{2})(\.[0-9]+)?$'
            then substring(trim(value) from '^([0-9]+)')::integer * 86400
                + substring(trim(value) from ', ([0-9]+):')::integer * 3600
                + substring(trim(value) from ':([0-9]{2}):')::integer * 60
                + substring(trim(value) from ':([0-9]{2})(?:\.[0-9]+)?$')::integer
        when trim(value) ~ '^[0-9]+:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$'
            then split_part(trim(value), ':', 1)::integer * 3600
                + split_part(trim(value), ':', 2)::integer * 60
                + floor(split_part(trim(value), ':', 3)::double precision)::integer
        when trim(value) ~ '^[0-9]+:[0-9]{2}(\.[0-9]+)?$'
            then split_part(trim(value), ':', 1)::integer * 60
                + floor(split_part(trim(value), ':', 2)::double precision)::integer
    end
$$;

-- E.164 where the input can be read as one: spaces, dots, dashes and brackets removed,
-- a leading 00 read as +, 11 to 15 bare digits given a +; anything else as given
create or replace function staging.e164_clean(value text) returns text
language sql immutable as $$
    select regexp_replace(regexp_replace(trim(value), '[ .()\-]', '', 'g'), '^00', '+')
$$;

create or replace function staging.e164_digits(value text) returns boolean
language sql immutable as $$
    select value ~ '^\+[1-9][0-9]{6,14}$'
$$;

create or replace function staging.e164(value text) returns text
language sql immutable as $$
    select case
        when value is null then null
        when staging.e164_digits(value) then value
        when staging.e164_clean(value) ~ '^\+[1-9][0-9]{6,14}$'
            then staging.e164_clean(value)
        when staging.e164_clean(value) ~ '^[1-9][0-9]{10,14}$'
            then '+' || staging.e164_clean(value)
        else value
    end
$$;

-- SIP final response code to the contract's status (Bland, jambonz recent calls)
create or replace function staging.sip_status(code integer) returns text
language sql immutable as $$
    select case
        when code is null then 'unknown'
        when code = 200 then 'completed'
        when code in (486, 600, 603) then 'busy'
        when code in (408, 480) then 'no_answer'
        when code = 487 then 'canceled'
        when code between 100 and 199 then 'in_progress'
        when code >= 300 then 'failed'
        else 'unknown'
    end
$$;

-- whole seconds between two timestamps, rounded down, never negative (epochs as double
-- precision, as DuckDB's epoch() gives them, so both round the same way)
create or replace function staging.seconds_between(a timestamptz, b timestamptz)
returns integer
language sql immutable as $$
    select case when a is not null and b is not null and b >= a
        then floor(extract(epoch from b)::double precision
                   - extract(epoch from a)::double precision)::integer end
$$;

-- duration_seconds: the reported duration; else, for an answered call that ended,
-- ended_at - answered_at (else - started_at), rounded down; else 0
create or replace function staging.call_duration(
    reported integer, answered boolean, started_at timestamptz, answered_at timestamptz,
    ended_at timestamptz
) returns integer
language sql immutable as $$
    select coalesce(
        reported,
        case when answered
            then staging.seconds_between(coalesce(answered_at, started_at), ended_at) end,
        0
    )
$$;

-- recording_url: an absolute URL (with a scheme) as given; a relative path appended to
-- the API root it was read from (`base`); as given where that root is unknown
create or replace function staging.resolve_url(path text, base text) returns text
language sql immutable as $$
    select case
        when path is null then null
        when path ~ '^[A-Za-z][A-Za-z0-9+.-]*://' then path
        when base is null then path
        when left(path, 1) = '/' then rtrim(base, '/') || path
        else rtrim(base, '/') || '/' || path
    end
$$;
