"""The CrossView family (Q1-Q17 of CrossView Suite): importing this registers its types."""

from crossview.tasks import crossview_corr, crossview_geo

__all__ = ["crossview_corr", "crossview_geo"]
