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
    Setting("PREDICT_CHUNK_ROWS", 100_000, int, description="Rows of a parquet body scored per call."),
    Setting(
        "PREDICT_COMPILED",
        True,
        bool,
        description="Score with a compiled scorer: the pipeline's fitted steps as plain lookups and arithmetic, used "
        "only if it gives the pipeline's answers bit for bit on rows synthesized from the feature schema at load "
        "(otherwise, or when off, `pipeline.predict` serves).",
    ),
    Setting(
        "PREDICT_SERVING_VERSION_TTL_S",
        1.0,
        float,
        description="How long a process remembers which version serves a project: activating a version or a finished "
        "training takes effect within this many seconds (0: ask the database on every request).",
    ),
    Setting(
        "PREDICT_BATCHING",
        True,
        bool,
        description="Gather concurrent requests for one model into one pipeline call (a compiled scorer answers each "
        "request at once).",
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
    Setting(
        "EXPLAIN_MAX_ROWS",
        10,
        int,
        description="Most rows one `/predict?explain=true` request may explain (422 above): each costs 2^features × "
        "25 background rows scored.",
    ),
    Setting(
        "FORECAST_EXPLAIN_MAX_ROWS",
        200,
        int,
        description="Most forecast rows (series × periods) one `/forecast?explain=true` request may explain (422 "
        "above); the request costs one forecast per combination of the model's known-future columns.",
    ),
    Setting("WHAT_IF_MAX_POINTS", 1000, int, description="Most points one what-if request may score (422 above)."),
    Setting(
        "ACTUALS_ERROR_TOLERANCE",
        0.25,
        float,
        description="An actuals report recommends retraining when its MAE is more than this share above the model's "
        "validation MAE (or a feature drifted a lot).",
    ),
)
