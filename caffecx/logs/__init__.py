"""Caffe training and set-up logs (glog output of every era) -> runs, nets, layers and DataFrames.

``parse_log(path)`` returns a `CaffeLog`; ``iter_events(path)`` streams the same facts as `Event` s;
`LogParser` is the incremental form (``feed`` bytes, ``close``). See docs/logs.md.
"""

from caffecx.logs.glog import GlogPrefix, parse_prefix
from caffecx.logs.reading import iter_events, parse_log
from caffecx.logs.records import Event, LayerRecord, LogMessage, NetLog, RunLog
from caffecx.logs.scanner import LogParser
from caffecx.logs.tables import CaffeLog

__all__ = [
    "CaffeLog",
    "Event",
    "GlogPrefix",
    "LayerRecord",
    "LogMessage",
    "LogParser",
    "NetLog",
    "RunLog",
    "iter_events",
    "parse_log",
    "parse_prefix",
]
