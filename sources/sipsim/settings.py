"""SIPSIM constants: paths, page size, token settings, cursor, defaults."""

from sources._pages import RAW_CALL_COLUMNS

DEFAULT_BASE_URL = "https://app.sipsim.com/api/v2"
DEFAULT_TOKEN_URL = "https://app.sipsim.com/oauth/token"
CALLS_PATH = "calls"
CALL_PATH = "calls/{id}"  # one call: unfinished calls are fetched again by id
MIN_PAGE_SIZE, MAX_PAGE_SIZE = 20, 1000  # `limit` outside 20..1000 is a 400
PAGE_SIZE = 1000  # the API's default too, but set explicitly (README, API notes 4)
SCOPE = "calls.read"  # the only scope listing calls needs
RENEW_BEFORE_SECONDS = 300  # a token is renewed this long before it expires
# The server's `start_time` filter reads `registration_time`; the cursor is `start_time`
# (else `registration_time`), a few seconds later. The filter is sent this far below the
# cursor's lag-applied start so that a call registered before it but started at or after
# it is still returned (dlt drops what is below the start again).
FILTER_SLACK_SECONDS = 300
ID_FIELD = "id"
CURSOR_FIELDS = ("start_time", "registration_time")  # the first readable one is started_at
CURSOR_COLUMN = "started_at"  # the raw table's parsed cursor
PRIMARY_KEY = "call_id"
SECRET_KEYS = (("access_token",), ("client_id", "client_secret"))  # either set means "sync"
# raw tables and the columns staging reads (an empty stand-in is built from these
# while a table does not exist yet)
RAW_COLUMNS = {"calls": RAW_CALL_COLUMNS}
