"""Ingest: the only writer of the catalogue and the vector index.

    build      load_demo / embed_catalogue / build_demo: the workflows the CLI and the app's button run
    demo       the offline demo catalogue (TMDB-5000 + anime): fetch and parse
    embed      plan_build / build_index: the incremental, resumable index build
    trakt/     the Trakt API: client, mapping, crawl, people, cli
    values     the lenient value parsers every loader shares
    arguments  argparse types for the CLI
    errors     the ingest error tree (IngestError and below)
"""
