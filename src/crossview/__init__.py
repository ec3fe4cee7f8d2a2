"""crossview: cross-view spatial reasoning for multimodal LLMs.

Scenes (calibrated multi-view data with cross-view track ids), a question engine, an
evaluation harness and the CrossViewer model. See README.md and docs/.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
