"""What a crossview dataset holds: the question record and its protocol views."""

from crossview.dataset.record import (
    ANSWER_KINDS,
    PROTOCOLS,
    ProtocolView,
    Record,
    auto_protocol,
    default_answer_kind,
)

__all__ = [
    "ANSWER_KINDS",
    "PROTOCOLS",
    "ProtocolView",
    "Record",
    "auto_protocol",
    "default_answer_kind",
]
