"""Trakt ingest: crawl movies, shows and people from the Trakt API into the catalogue.

    client    TraktClient (HTTP session, pacing, retries, pagination past lagging counts, the key kept on
              its host), Pacer, Page
    mapping   to_title / to_people / to_translations: Trakt JSON to Title, Person (creators, episode
              directors, writers) and translated titles and overviews
    crawl     search_plan / popular_plan / updates_plan and run_crawl, checkpointed with each page, with
              each listing's rows seen vs Trakt's item count (never "complete" with rows missing)
    people    crawl_people: cast and crew, one request per title, for titles that need them
    translations  crawl_translations: translated titles (aliases) and overviews, opt-in per language
    cli       `python -m ingest trakt ...`
"""
