"""FlixRec: content-based "similar movies and shows" over a SQL catalogue and a Chroma vector index.

The core library. It never imports streamlit or ingest: the app and the CLI are edges around it.
"""

from flixrec.config import Settings
from flixrec.errors import FlixrecError
from flixrec.models import Filters, Match, Recommendation, Title
from flixrec.service import FlixRec

__all__ = ["FlixRec", "FlixrecError", "Filters", "Match", "Recommendation", "Settings", "Title"]
