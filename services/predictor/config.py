"""The predictor's own settings (documented in the README's configuration table)."""

from shared.config import MIB, Setting

# Internal tokens, and the key that proves a model artifact is our trainer's before it is unpickled.
SECRETS = ("INTERNAL_TOKEN_SECRET", "MODEL_SIGNING_KEY")

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "PREDICTOR_CACHE_MAX_BYTES",
        512 * MIB,
        int,
        description="Deserialized pipelines kept per process, bounded by the sum of their artifact sizes.",
    ),
    Setting("PREDICT_MAX_ROWS", 1_000_000, int, description="Most rows one /predict request may score (413 above)."),
    Setting(
        "PREDICT_MAX_DECODED_BYTES",
        1024 * MIB,
        int,
        description="Most bytes a parquet /predict body may decode to, from its metadata (422 above).",
    ),
    Setting(
        "PREDICT_MAX_STRING_LENGTH", 1000, int, description="Longest text value accepted in a feature (422 above)."
    ),
    Setting("PREDICT_CHUNK_ROWS", 100_000, int, description="Rows of a parquet body scored per pipeline call."),
    Setting(
        "PREDICT_BATCHING", True, bool, description="Gather concurrent requests for one model into one predict call."
    ),
    Setting(
        "PREDICT_BATCH_WINDOW_MS",
        2.0,
        float,
        description="Longest wait for requests already being prepared to join a batch; a lone request never waits.",
    ),
    Setting(
        "PREDICT_BATCH_TIMEOUT_S",
        30.0,
        float,
        description="Longest a request waits for its batched prediction (503 after).",
    ),
    Setting(
        "PREDICT_BATCH_MAX_ROWS",
        4096,
        int,
        description="Rows at which a batch is scored at once; larger requests skip batching.",
    ),
)
