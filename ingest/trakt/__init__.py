"""Trakt ingest: crawl movies, shows and people from the Trakt API into the catalogue.

    client    TraktClient (HTTP session, pacing, retries, pagination, key redaction), Pacer, Page
    mapping   to_title / to_people: Trakt JSON to Title and Person
    crawl     search_plan / popular_plan / updates_plan and run_crawl, checkpointed with each page
    people    crawl_people: cast and directors, one request per title, checkpointed
    cli       `python -m ingest trakt ...`
"""
