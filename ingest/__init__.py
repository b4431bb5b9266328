"""Ingest: the only writer of the catalogue and the vector index (demo loaders, Trakt, embedding)."""
