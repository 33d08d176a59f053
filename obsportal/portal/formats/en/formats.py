"""Date formats of the portal and its admin: always the zone, always the seconds.

Django's English formats show `Dec. 1, 2026, 10:03 p.m.`: no zone, no seconds, which
an audit trail cannot use. FORMAT_MODULE_PATH points here (settings)."""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M"]
