"""The vector index, one module per job (imports run one way: ledger, snapshot <- collection <- store).

- location:   IndexLocation, a local Chroma directory or a Chroma server (+ the catalogue database)
- ledger:     IndexLedger, what each stored vector was built from (a SQLite file beside Chroma's)
- shared_ledger: SqlLedger, the same and the published stamp in the catalogue database (a server index)
- collection: VectorIndex, the Chroma collection and build stamp; where Chroma/sqlite3 errors are translated
- snapshot:   IndexSnapshot, the build in memory: filter mask and exact nearest neighbours
- store:      the snapshot files of a build (write, read and validate, SnapshotBuilder) and `load_snapshot(index)`
- health:     `index_problems(index)`: whether the published snapshot agrees with the ledger and Chroma
"""

from flixrec.index.collection import HNSW_CONFIGURATION, METADATA_FIELDS, VectorIndex, chroma_client, title_metadata
from flixrec.index.health import index_problems
from flixrec.index.ledger import Hashes, IndexLedger, metadata_hash
from flixrec.index.location import ChromaServer, IndexLocation
from flixrec.index.shared_ledger import SqlLedger
from flixrec.index.snapshot import IndexSnapshot
from flixrec.index.store import (
    SnapshotBuilder,
    has_snapshot,
    load_snapshot,
    read_snapshot,
    remove_other_snapshots,
    snapshot_dir,
    snapshot_from_chroma,
    snapshot_problem,
    snapshot_root,
    write_snapshot,
)

__all__ = [
    "HNSW_CONFIGURATION", "METADATA_FIELDS", "ChromaServer", "Hashes", "IndexLedger", "IndexLocation", "SqlLedger", "IndexSnapshot", "SnapshotBuilder", "VectorIndex", "chroma_client",
    "has_snapshot", "index_problems", "load_snapshot", "metadata_hash", "read_snapshot", "remove_other_snapshots", "snapshot_dir",
    "snapshot_from_chroma", "snapshot_problem", "snapshot_root", "title_metadata", "write_snapshot",
]
