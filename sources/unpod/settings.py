"""Unpod constants: paths, page size, cursor, defaults."""

from sources._pages import RAW_CALL_COLUMNS

DEFAULT_BASE_URL = "https://unpod.dev/api/v2/platform/"
CALLS_PATH = "call-logs/"
PAGE_SIZE = 100  # the docs' default is 20; the open-source backend caps page_size at 100
MAX_PAGE_SIZE = 100
CURSOR_FIELD = "creation_time"  # the record field: when the call was created
CURSOR_COLUMN = "started_at"  # the raw column it is parsed into (the incremental cursor)
ID_FIELD = "id"
KEY_FIELDS = ("creation_time", "source_number", "destination_number")  # when `id` is absent
SECRET_KEYS = (("api_token",),)  # any one tuple of keys configured means "sync Unpod"
REQUIRED_CONFIG = ("org_handle",)
# raw tables and the columns staging reads (an empty stand-in is built from these
# while a table does not exist yet)
RAW_COLUMNS = {
    "call_logs": RAW_CALL_COLUMNS,
}
