"""Title cards: the chosen title, ranked similar titles, franchise entries, and cards to pick a title from."""

from __future__ import annotations

import dataclasses
import html
import re
import unicodedata
from urllib.parse import urlencode

import streamlit as st

from flixrec.explore import SimilarView
from flixrec.filters import language_name
from flixrec.models import Filters, Match, Recommendation, Title
from flixrec.names import display_name, display_overview
from pages.common.posters import poster_html
from pages.common.state import choose_title, find_similar_to, hide_title, title_link_params

INTERFACE_LANGUAGE = "en"
GRID_COLUMNS = 3
"""Result cards per row on a wide screen (Streamlit stacks them on a phone): six and more fit one screen."""
LANGUAGE_LABELS = {"en": "English", "zh": "Chinese", "ja": "Japanese", "ko": "Korean"}


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
    """About two lines of the overview (in the interface language when the title has it)."""
    text = " ".join((display_overview(title, INTERFACE_LANGUAGE)[0] or "").split())
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
    if title.original_title and title.original_title.casefold() != shown_name(title).casefold():
        return f" · {md(title.original_title)}"
    return ""


def shown_name(title: Title) -> str:
    """The name the interface shows (an anime's English name rather than its romaji)."""
    return display_name(title, INTERFACE_LANGUAGE)


def shown_label(title: Title) -> str:
    """'Name (year)' with the shown name."""
    name = shown_name(title)
    return f"{name} ({title.year})" if title.year else name


def other_names(title: Title) -> list[str]:
    """The title's other names (its stored name, original name, aliases), the shown one left out."""
    shown = shown_name(title).casefold()
    names = [title.title, title.original_title or "", *title.aliases]
    return [n for n in dict.fromkeys(names) if n and n.casefold() != shown][:6]


def title_href(title: Title) -> str:
    """A link to this title's own similar titles, keeping the current filters and hidden titles."""
    return "?" + urlencode(title_link_params(title.title_id, shown_name(title)), doseq=True)


def score_text(rec: Recommendation) -> str:
    """'87% · Very similar': the score as a percentage and the ranking's label when it gives one."""
    label = getattr(rec, "label", None)
    return f"{rec.score:.0%}" + (f" · {label}" if label else "")


def reasons_text(rec: Recommendation) -> str:
    """The ranking's reasons ('Same director: … · Shared themes: heist, dreams'), most telling first, empty when none.

    A card shows two lines of them (the whole text on hover), so the story line, the longest, comes last.
    """
    reasons = sorted(getattr(rec, "reasons", None) or (), key=lambda r: getattr(r, "kind", "") == "story")
    return " · ".join(str(getattr(r, "text", r)) for r in reasons[:3])



def match_cards(matches: list[Match], intro: str) -> None:
    """Cards to choose a title from (disambiguation and 'Did you mean'), with a Pick button each."""
    st.markdown(intro)
    for start in range(0, len(matches), GRID_COLUMNS):
        columns = st.columns(GRID_COLUMNS)
        for column, match in zip(columns, matches[start : start + GRID_COLUMNS]):
            title = match.title
            with column.container(border=True):
                st.markdown(card_html(title), unsafe_allow_html=True)
                st.button("Pick", key=f"pick:{title.title_id}", on_click=choose_title,
                          args=(title.title_id, shown_name(title)), type="primary", icon=":material/check:",
                          width="stretch", help=f"Find titles similar to {shown_label(title)}")


def card_html(title: Title, rank: int | None = None, score: str = "", reasons: str = "", poster: int = 64) -> str:
    """A compact card body: poster (or placeholder), linked name, facts, two lines of overview, reasons."""
    name = shown_name(title)
    heading = f"{rank}. " if rank else ""
    facts = meta_line(title)
    if title.genres:
        facts += " · " + ", ".join(title.genres[:3])
    overview = " ".join((display_overview(title, INTERFACE_LANGUAGE)[0] or "No overview.").split())
    other = [n for n in other_names(title) if n != name][:1]
    links = " · ".join(f'<a href="{html.escape(url)}" target="_blank" rel="noopener">{name_} ↗</a>'
                       for name_, url in title.links().items())
    parts = [
        f'<div class="fx-card" style="display:flex;gap:.75rem;align-items:flex-start">{poster_html(title, name, poster)}',
        '<div style="min-width:0;flex:1;line-height:1.3">',
        '<div style="display:flex;gap:.5rem;justify-content:space-between;align-items:baseline">',
        f'<a class="fx-title" href="{html.escape(title_href(title))}" target="_self" '
        f'style="font-weight:600;text-decoration:none" title="Titles similar to {html.escape(shown_label(title))}">'
        f'{html.escape(heading + shown_label(title))}</a>',
        f'<span class="fx-score" style="white-space:nowrap;font-size:.8rem;font-weight:600;opacity:.85">'
        f'{html.escape(score)}</span></div>' if score else "</div>",
        f'<div style="font-size:.75rem;opacity:.7">{html.escape(other[0])}</div>' if other else "",
        f'<div style="font-size:.78rem;opacity:.75;margin:.1rem 0 .2rem">{html.escape(facts)}'
        f'{" · " + links if links else ""}</div>',
        '<div class="fx-overview" style="font-size:.85rem;display:-webkit-box;-webkit-line-clamp:2;'
        f'-webkit-box-orient:vertical;overflow:hidden">{html.escape(overview)}</div>',
        f'<div class="fx-reasons" title="{html.escape(reasons)}" style="font-size:.75rem;opacity:.75;margin-top:.2rem;'
        f'display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden">{html.escape(reasons)}</div>'
        if reasons else "",
        "</div></div>",
    ]
    return "".join(parts)


def seed_header(title: Title) -> None:
    """The chosen title, in full: poster, names, facts, overview (other languages folded), people, links."""
    with st.container(border=True):
        poster, body = st.columns([1, 9], vertical_alignment="top")
        poster.markdown(poster_html(title, shown_name(title), 96), unsafe_allow_html=True)
        with body:
            st.subheader(md(shown_name(title)) + (f" ({title.year})" if title.year else ""), anchor=False)
            names = other_names(title)
            if names:
                st.caption(md(" · ".join(names)))
            st.markdown(meta_line(title) + ("  " + genre_badges(title) if title.genres else ""))
            if title.tagline:
                st.markdown(f"_{md(title.tagline)}_")
            overview, others = display_overview(title, INTERFACE_LANGUAGE)
            st.markdown(md(" ".join((overview or "No overview.").split())))
            for language, text in others[:2]:
                with st.expander(f"Overview in {LANGUAGE_LABELS.get(language, language)}"):
                    st.markdown(md(" ".join(text.split())))
            people = []
            if title.directors:
                people.append("Directed by " + md(", ".join(title.directors[:3])))
            if title.writers:
                people.append("Written by " + md(", ".join(title.writers[:3])))
            if title.cast:
                people.append("With " + md(", ".join(title.cast[:5])))
            if title.composers:
                people.append("Music by " + md(", ".join(title.composers[:2])))
            if people:
                st.caption(" · ".join(people))
            if title.links():
                st.markdown(links_line(title))


def recommendation_card(rec: Recommendation, find_similar: bool = True) -> None:
    """One ranked similar title: a compact card that leads on to its own similar titles, and Hide."""
    title = rec.title
    with st.container(border=True):
        st.markdown(card_html(title, rec.rank, score_text(rec), reasons_text(rec)), unsafe_allow_html=True)
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            if find_similar:
                st.button("More like this", key=f"similar:{title.title_id}", on_click=find_similar_to,
                          args=(title.title_id, shown_name(title)), icon=":material/arrow_forward:", type="secondary",
                          width="content", help=f"Find titles similar to {shown_label(title)}")
            st.button("Hide", key=f"hide:{title.title_id}", on_click=hide_title, args=(title.title_id,),
                      icon=":material/visibility_off:", type="tertiary", width="content",
                      help="Leave this title out of the results (undo in the sidebar)")


def recommendation_grid(recs: list[Recommendation]) -> None:
    """Ranked cards, GRID_COLUMNS a row (in rank order, row by row; one a row on a phone)."""
    for start in range(0, len(recs), GRID_COLUMNS):
        for column, rec in zip(st.columns(GRID_COLUMNS), recs[start : start + GRID_COLUMNS]):
            with column:
                recommendation_card(rec)


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
            st.markdown(
                f'<div style="display:flex;gap:.5rem;align-items:center">{poster_html(title, shown_name(title), 40)}'
                f'<a href="{html.escape(title_href(title))}" target="_self" style="font-weight:600;font-size:.9rem;'
                f'text-decoration:none">{html.escape(shown_label(title))}</a></div>', unsafe_allow_html=True)
            st.button("More like this", key=f"franchise:{title.title_id}", on_click=choose_title,
                      args=(title.title_id, shown_name(title)), width="stretch", icon=":material/arrow_forward:")


def filtered_note(filters: Filters, extra: str = "") -> None:
    """'Filtered by the sidebar' only when a sidebar filter is active (hidden titles alone are no filter)."""
    if not dataclasses.replace(filters, exclude_ids=frozenset()).is_empty():
        st.caption("Filtered by the sidebar." + (" " + extra if extra else ""))


def similar_results(view: SimilarView, filters: Filters) -> None:
    """The chosen title, its franchise, and the ranked similar titles."""
    seed_header(view.seed)
    if view.franchise:
        franchise_section(view.franchise)
    st.subheader(f"Similar titles ({len(view.similar)})", anchor=False)
    filtered_note(filters, "The chosen title itself is never filtered out.")
    if not view.similar:
        st.info("No title passes the current filters. Loosen them in the sidebar (or press Reset filters).")
    recommendation_grid(view.similar)
