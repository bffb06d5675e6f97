-- grain: one row per raw call record of every provider, every load kept; key: call_key
-- The one union of the staging views of calls: `calls` and `calls_rejected` read it.
-- `union all` pairs columns by position: the runner fails the build unless every branch
-- has the same column names and types in the same order (tests check them against the
-- contract). A new provider adds its branch here.
select * from {{ staging.stg_bland__sip_calls }}
union all
select * from {{ staging.stg_sipsim__calls }}
union all
select * from {{ staging.stg_unpod__call_logs }}
union all
select * from {{ staging.stg_jambonz__recent_calls }}
