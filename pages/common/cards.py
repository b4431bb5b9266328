"""Title cards: the chosen title, ranked similar titles, franchise entries, and cards to pick a title from."""

from __future__ import annotations

import re
import unicodedata

import streamlit as st

from flixrec.explore import SimilarView
from flixrec.filters import language_name
from flixrec.models import Filters, Match, Recommendation, Title
from pages.common.state import choose_title, find_similar_to, hide_title


def md(text: object) -> str:
    """Text made safe for st.markdown (titles like '*batteries not included' or '$9.99' stay literal)."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|$~:])", r"\\\1", str(text))


def meta_line(title: Title) -> str:
    """'Movie · 2014 · 169 min · ★ 8.1 (10,867 votes) · English': only the fields that are known."""
    parts = ["Movie" if title.media_type == "movie" else "Show"]
    if title.year:
        parts.append(str(title.year))
    if title.runtime:
        parts.append(f"{title.runtime} min")
    if title.rating is not None:
        votes = f" ({title.votes:,} votes)" if title.votes is not None else ""
        parts.append(f"★ {title.rating:.1f}{votes}")
    elif title.votes is not None:
        parts.append(f"{title.votes:,} votes")
    if title.language:
        parts.append(language_name(title.language))
    return " · ".join(parts)


def genre_badges(title: Title) -> str:
    """Genres as small grey badges (markdown)."""
    return " ".join(f":gray-badge[{md(g)}]" for g in title.genres[:6])


def short_overview(title: Title, limit: int = 220) -> str:
    """About two lines of the overview."""
    text = " ".join((title.overview or "").split())
    if not text:
        return "_No overview._"
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in text[:limit])
    if wide > limit // 4:  # Chinese/Japanese glyphs are about twice as wide: keep it to two lines as well
        limit = limit * 9 // 20
    return md(text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…")


def links_line(title: Title) -> str:
    """Links out (Trakt, IMDb, TMDB) for the ids the title has."""
    return " · ".join(f"[{name} ↗]({url})" for name, url in title.links().items())


def original_name(title: Title) -> str:
    """' · 千と千尋の神隠し' when the original title differs from the shown one."""
    if title.original_title and title.original_title.casefold() != title.title.casefold():
        return f" · {md(title.original_title)}"
    return ""


def match_cards(matches: list[Match], intro: str) -> None:
    """Cards to choose a title from (disambiguation and 'Did you mean'), with a Pick button each."""
    st.markdown(intro)
    columns = st.columns(3)
    for i, match in enumerate(matches):
        title = match.title
        with columns[i % 3].container(border=True):
            st.markdown(f"**{md(title.label())}**{original_name(title)}")
            st.caption(meta_line(title))
            if title.genres:
                st.markdown(genre_badges(title))
            st.markdown(short_overview(title, 160))
            st.button("Pick", key=f"pick:{title.title_id}", on_click=choose_title, args=(title.title_id, title.title),
                      type="primary", icon=":material/check:", width="stretch",
                      help=f"Find titles similar to {title.label()}")


def seed_header(title: Title) -> None:
    """The chosen title, in full."""
    with st.container(border=True):
        st.subheader(f"{md(title.title)}{' (' + str(title.year) + ')' if title.year else ''}", anchor=False)
        if title.original_title and title.original_title.casefold() != title.title.casefold():
            st.caption(md(title.original_title))
        st.markdown(meta_line(title))
        if title.genres:
            st.markdown(genre_badges(title))
        if title.tagline:
            st.markdown(f"_{md(title.tagline)}_")
        st.markdown(md(" ".join((title.overview or "No overview.").split())))
        people = []
        if title.directors:
            people.append("Directed by " + md(", ".join(title.directors[:3])))
        if title.cast:
            people.append("With " + md(", ".join(title.cast[:5])))
        if people:
            st.caption(" · ".join(people))
        if title.links():
            st.markdown(links_line(title))


def recommendation_card(rec: Recommendation, find_similar: bool = False) -> None:
    """One ranked similar title: score (3 decimals), facts, genres, overview, links, Hide (and Find similar)."""
    title = rec.title
    with st.container(border=True):
        rank, body, side = st.columns([0.5, 7, 1.5], vertical_alignment="center")
        rank.markdown(f"### {rec.rank}")
        with body:
            st.markdown(f"**{md(title.title)}**{original_name(title)}")
            st.caption(meta_line(title))
            if title.genres:
                st.markdown(genre_badges(title))
            st.markdown(short_overview(title))
            if title.links():
                st.markdown(links_line(title))
        with side:
            st.metric("Similarity", f"{rec.score:.3f}")
            st.button("Hide", key=f"hide:{title.title_id}", on_click=hide_title, args=(title.title_id,),
                      icon=":material/visibility_off:", help="Leave this title out of the results (undo in the sidebar)")
            if find_similar:
                st.button("Find similar", key=f"similar:{title.title_id}", on_click=find_similar_to,
                          args=(title.title_id, title.title), icon=":material/arrow_forward:",
                          help=f"Find titles similar to {title.label()}")


def franchise_section(franchise: list[Recommendation], shown: int = 5) -> None:
    """Sequels and same-name titles, kept apart from the discoveries (the first few, the rest folded)."""
    st.subheader(f"Same franchise ({len(franchise)})", anchor=False)
    st.caption("Sequels, prequels and titles sharing the name, kept out of the similar list so they don't crowd it.")
    _franchise_row(franchise[:shown])
    if len(franchise) > shown:
        with st.expander(f"{len(franchise) - shown} more from the franchise"):
            _franchise_row(franchise[shown:])


def _franchise_row(franchise: list[Recommendation]) -> None:
    columns = st.columns(5)
    for i, rec in enumerate(franchise):
        title = rec.title
        with columns[i % len(columns)].container(border=True):
            st.markdown(f"**{md(title.label())}**")
            facts = ["Movie" if title.media_type == "movie" else "Show"]
            if title.rating is not None:
                facts.append(f"★ {title.rating:.1f}")
            st.caption(" · ".join([*facts, f"similarity {rec.score:.3f}"]))
            st.button("Find similar", key=f"franchise:{title.title_id}", on_click=choose_title,
                      args=(title.title_id, title.title), width="stretch", icon=":material/arrow_forward:")


def similar_results(view: SimilarView, filters: Filters) -> None:
    """The chosen title, its franchise, and the ranked similar titles."""
    seed_header(view.seed)
    if view.franchise:
        franchise_section(view.franchise)
    st.subheader(f"Similar titles ({len(view.similar)})", anchor=False)
    if not filters.is_empty():
        st.caption("Filtered by the sidebar. The chosen title itself is never filtered out.")
    if not view.similar:
        st.info("No title passes the current filters. Loosen them in the sidebar (or press Reset filters).")
    for rec in view.similar:
        recommendation_card(rec)
