"""The predictor's own settings (documented in the README's configuration table)."""

from shared.config import MIB, Setting

SETTINGS: tuple[Setting, ...] = (
    # Deserialized pipelines kept per process, bounded by the sum of their artifact sizes.
    Setting("PREDICTOR_CACHE_MAX_BYTES", 512 * MIB, int),
    Setting("PREDICT_MAX_ROWS", 1_000_000, int),
    Setting("PREDICT_MAX_JSON_BYTES", 32 * MIB, int),
    Setting("PREDICT_MAX_PARQUET_BYTES", 256 * MIB, int),
    # Uncompressed size of a parquet body's pages, from its metadata, checked before anything is decoded.
    Setting("PREDICT_MAX_DECODED_BYTES", 1024 * MIB, int),
    Setting("PREDICT_MAX_STRING_LENGTH", 1000, int),
    # Rows of a parquet body scored per pipeline call.
    Setting("PREDICT_CHUNK_ROWS", 100_000, int),
    # Concurrent requests for one model are gathered for this long (or up to this many rows) into one call.
    Setting("PREDICT_BATCHING", True, bool),
    Setting("PREDICT_BATCH_WINDOW_MS", 2.0, float),
    Setting("PREDICT_BATCH_MAX_ROWS", 4096, int),
)
