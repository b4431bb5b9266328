"""Posters: the title's image when it has a URL (lazy, never blocking), over a generated placeholder.

The placeholder (initials on a colour chosen by the first genre) is an inline SVG data URI, so it needs no
network; a poster that cannot load (offline, a dead link) simply leaves the placeholder showing.
"""

from __future__ import annotations

import base64
import html
import re

from flixrec.models import Title

GENRE_COLOURS = {
    "Action": "#b23a48", "Adventure": "#d1793b", "Animation": "#3d7ea6", "Comedy": "#d4a017", "Crime": "#4a4e69",
    "Documentary": "#5c8001", "Drama": "#6d597a", "Family": "#2a9d8f", "Fantasy": "#7b2cbf", "History": "#8d6e63",
    "Horror": "#3c1518", "Music": "#c2185b", "Mystery": "#264653", "Romance": "#e76f51", "Science Fiction": "#1d3557",
    "Thriller": "#5a189a", "War": "#606c38", "Western": "#a0522d", "Slice of Life": "#52796f", "Sport": "#0077b6",
}
DEFAULT_COLOUR = "#495057"


def initials(name: str) -> str:
    """Up to two initials of a name ("The Dark Knight" -> "DK"); the first glyph of a CJK name."""
    words = [w for w in re.findall(r"\w+", name) if w.casefold() not in {"the", "a", "an", "of", "and"}]
    if not words:
        return name[:1] or "?"
    if not words[0].isascii():
        return words[0][:1]
    return "".join(w[0] for w in words[:2]).upper()


def placeholder_uri(title: Title, name: str | None = None) -> str:
    """An SVG data URI: initials on the colour of the title's first genre (2:3, like a poster)."""
    colour = next((GENRE_COLOURS[g] for g in title.genres if g in GENRE_COLOURS), DEFAULT_COLOUR)
    text = html.escape(initials(name or title.title))
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="180" viewBox="0 0 120 180">'
        f'<rect width="120" height="180" fill="{colour}"/>'
        '<rect x="6" y="6" width="108" height="168" fill="none" stroke="#ffffff" stroke-opacity=".25"/>'
        f'<text x="60" y="102" font-family="sans-serif" font-size="44" font-weight="700" fill="#ffffff" '
        f'fill-opacity=".9" text-anchor="middle">{text}</text></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def poster_url(title: Title) -> str | None:
    """The title's poster URL when the catalogue has one (http(s) only)."""
    url = getattr(title, "poster_url", None)
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def poster_html(title: Title, name: str | None = None, width: int = 64) -> str:
    """A poster box: the poster URL layered over the placeholder as CSS backgrounds, or the placeholder alone.

    A background that fails to load is simply not painted (no broken-image icon), so the placeholder shows
    through offline; `content-visibility:auto` defers boxes outside the window, so their posters load lazily.
    """
    height = width * 3 // 2
    layers = f"url({placeholder_uri(title, name)})"
    url = poster_url(title)
    if url is not None:
        layers = f"url('{html.escape(url)}'), {layers}"
    return (f'<div class="fx-poster" role="img" aria-label="{"Poster" if url else "No poster"}" '
            f'style="width:{width}px;height:{height}px;flex:none;border-radius:6px;content-visibility:auto;'
            f'contain-intrinsic-size:{width}px {height}px;background-image:{layers};'
            f'background-size:cover;background-position:center"></div>')
