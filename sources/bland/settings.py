"""Bland AI constants: paths, page size, cursor, defaults."""

from sources._pages import RAW_CALL_COLUMNS

DEFAULT_BASE_URL = "https://api.bland.ai"
CALLS_PATH = "v1/sip/calls"
CONFIG_PATH = "v1/sip"
PAGE_SIZE = 100  # the API's default is 50 and it documents no maximum
MAX_PAGE_SIZE = 1000  # ours: larger pages gain nothing and cost memory
CURSOR_FIELD = "started_at"
ID_FIELD = "call_id"
SECRET_KEYS = (("api_key",),)  # any one tuple of keys configured means "sync Bland"
REQUIRED_CONFIG = ("phone_numbers",)
# raw tables and the columns staging reads (an empty stand-in is built from these
# while a table does not exist yet; they are also dlt column hints)
RAW_COLUMNS = {
    "sip_calls": RAW_CALL_COLUMNS,
    "sip_configs": {
        "phone_number": "varchar", "direction": "varchar", "sip_endpoint": "varchar",
        "options": "json", "created_at": "timestamptz", "updated_at": "timestamptz",
    },
}
