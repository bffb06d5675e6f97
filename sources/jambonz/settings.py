"""jambonz constants: paths, page size, cursor, id fields, defaults."""

from sources._pages import RAW_CALL_COLUMNS

DEFAULT_BASE_URL = "https://api.jambonz.cloud/v1"
RECENT_CALLS_PATH = "Accounts/{account_sid}/RecentCalls"  # CDR history, paged, newest first
LIVE_CALLS_PATH = "Accounts/{account_sid}/Calls"  # calls in progress: bare array, no paging
PAGE_SIZE = 500  # `count`: the API allows 1..500 (0 means "no limit": never sent)
MAX_PAGE_SIZE = 500
CURSOR_FIELD = "started_at"  # raw column: `attempted_at` parsed to UTC
ID_FIELD = "call_id"  # raw column: `call_sid`, else `sip_callid`, else `sip_call_id`
RECORD_TIME_FIELD = "attempted_at"
RECORD_ID_FIELDS = ("call_sid", "sip_callid", "sip_call_id")  # first non-empty wins
LIVE_ID_FIELDS = ("call_sid", "call_id")  # live Calls: the call sid, else the SIP Call-ID
SECRET_KEYS = (("api_key",),)  # the api key configured means "sync jambonz"
REQUIRED_CONFIG = ("account_sid",)
# raw tables and the columns staging reads (an empty stand-in is built from these
# while a table does not exist yet; they are also dlt column hints)
RAW_COLUMNS = {
    # the shared raw call shape, plus the API root the page came from, against which a
    # relative `recording_url` is resolved in staging
    "recent_calls": {**RAW_CALL_COLUMNS, "base_url": "varchar"},
    "calls": {
        "call_id": "varchar", "account_id": "varchar", "record": "varchar",
        "fetched_at": "timestamptz",
    },
}
