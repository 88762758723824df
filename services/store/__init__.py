"""Everything the playground stores, through one package with two engines.

SQLite (the default) keeps one file per area under the data directory (`PLAYGROUND_DATA_DIR`); PostgreSQL (when
`PLAYGROUND_DATABASE_URL` is a `postgresql://` URL) keeps every area in one database. `database.open_database` picks
the engine, `migrations` brings an area's schema up to date on first use, and one module per area holds its store:
`conversations`, `refusals`, `embeddings`, `traces`, `evals` (evaluation runs).
"""
