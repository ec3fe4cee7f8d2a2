"""Dataset adapters: public multi-view datasets and COLMAP captures into the scene store.

``crossview import FORMAT SRC --out STORE`` (:func:`import_dataset`) runs the adapter
registered as FORMAT. Built in: ``colmap``, ``messytable``, ``wildrgbd``. Adding one is a
module with a class decorated by :func:`register_adapter`; see docs/adapters.md. Importing
this package loads no adapter module: they load on first use.
"""

from crossview.sources.adapters.base import (
    Adapter,
    ImportLog,
    SceneSource,
    get_adapter,
    list_adapters,
    register_adapter,
)
from crossview.sources.adapters.runner import ImportReport, import_dataset

__all__ = [
    "Adapter",
    "ImportLog",
    "ImportReport",
    "SceneSource",
    "get_adapter",
    "import_dataset",
    "list_adapters",
    "register_adapter",
]
