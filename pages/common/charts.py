"""Altair charts of the dashboard, as pure functions of FlixRec's views (no Streamlit calls here)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from flixrec.explore import SimilarityMap

ROLE_COLOURS = {"seed": "#e4572e", "similar": "#2e86ab", "franchise": "#f3a712"}
ROLE_NAMES = {"seed": "Chosen title", "similar": "Similar", "franchise": "Same franchise"}
MAP_LABELS = 3
"""The map names the chosen title and this many of the best similar titles; the rest show on hover."""
PICK = "pick"
"""The click selection of the score bars and the map: the page opens the clicked title."""


def picked_title(event: object) -> str | None:
    """The title_id a click on a chart selected (st.altair_chart's on_select event), None when none."""
    selection = getattr(event, "selection", None) or {}
    points = selection.get(PICK) if isinstance(selection, dict) else getattr(selection, PICK, None)
    for point in points or []:
        if isinstance(point, dict) and point.get("title_id"):
            return str(point["title_id"])
    return None


def score_bars(view: SimilarityMap) -> alt.Chart:
    """Horizontal bars of the top-k scores, best on top."""
    frame = pd.DataFrame(
        {
            "label": [f"{r.rank}. {r.title.label()}" for r in view.similar],
            "score": [round(r.score, 3) for r in view.similar],
            "rank": [r.rank for r in view.similar],
            "title_id": [r.title.title_id for r in view.similar],
            "genres": [", ".join(r.title.genres) for r in view.similar],
            "type": [r.title.media_type for r in view.similar],
        }
    )
    return (
        alt.Chart(frame, title=f"Top {len(frame)} similar (click a bar to open it)")
        .mark_bar(cornerRadiusEnd=3, color=ROLE_COLOURS["similar"], cursor="pointer")
        .encode(
            x=alt.X("score:Q", title="Similarity (0 to 1)", scale=alt.Scale(domain=[0, 1], nice=False)),
            y=alt.Y("label:N", sort=alt.SortField("rank"), title=None, axis=alt.Axis(labelLimit=240, labelOverlap=False)),
            tooltip=[alt.Tooltip("label:N", title="Title"), alt.Tooltip("score:Q", format=".3f", title="Similarity"),
                     alt.Tooltip("type:N", title="Type"), alt.Tooltip("genres:N", title="Genres")],
        )
        .add_params(alt.selection_point(name=PICK, fields=["title_id"], on="click"))
        .properties(height=alt.Step(22))
    )


def neighbourhood_map(view: SimilarityMap) -> alt.LayerChart:
    """The seed, its top-k and its franchise on a 2-D PCA map of their vectors; the seed stands out."""
    points = view.points.assign(
        role_name=view.points["role"].map(ROLE_NAMES),
        size=view.points["role"].map({"seed": 380, "similar": 110, "franchise": 110}),
    )
    roles = [role for role in ROLE_NAMES if (points["role"] == role).any()]  # no legend entry for an absent role
    colour = alt.Color(
        "role_name:N", title=None, legend=alt.Legend(orient="bottom"),
        scale=alt.Scale(domain=[ROLE_NAMES[r] for r in roles], range=[ROLE_COLOURS[r] for r in roles]),
    )
    tooltip = [alt.Tooltip("label:N", title="Title"), alt.Tooltip("role_name:N", title="Role"),
               alt.Tooltip("rank:Q", title="Rank"), alt.Tooltip("score:Q", format=".3f", title="Similarity"),
               alt.Tooltip("genres:N", title="Genres")]
    span = float(points["x"].max() - points["x"].min()) or 1.0
    room = [float(points["x"].min()) - 0.05 * span, float(points["x"].max()) + 0.3 * span]  # space for labels
    base = alt.Chart(points).encode(
        x=alt.X("x:Q", title="PCA 1", axis=alt.Axis(labels=False, ticks=False), scale=alt.Scale(domain=room, nice=False)),
        y=alt.Y("y:Q", title="PCA 2", axis=alt.Axis(labels=False, ticks=False)),
    )
    dots = base.mark_circle(opacity=0.9, stroke="white", strokeWidth=1, cursor="pointer").encode(
        color=colour, size=alt.Size("size:Q", legend=None), tooltip=tooltip,
    ).add_params(alt.selection_point(name=PICK, fields=["title_id"], on="click"))
    labelled = points[(points["role"] == "seed") | ((points["role"] == "similar") & (points["rank"] <= MAP_LABELS))]
    labels = (
        alt.Chart(labelled)
        .mark_text(align="left", dx=9, dy=-7, fontSize=11)
        .encode(x="x:Q", y="y:Q", text="label:N", color=colour)
    )
    return alt.layer(dots, labels).properties(
        title="Neighbourhood map (2-D PCA; hover for names, click to open)", height=460
    )


BELOW_CUTOFF, ABOVE_CUTOFF = "below the cut-off", "at or above the cut-off"


def score_histogram(view: SimilarityMap, bins: int = 50) -> alt.LayerChart:
    """How the whole catalogue scores against the seed, with the top-k cut-off marked (log count axis).

    Every other title is counted, so the bins above the cut-off also hold the seed's franchise (kept apart)
    and titles the filters leave out: the legend never calls them the top k (the page's caption says why)."""
    scores = np.asarray(view.distribution, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts, _ = np.histogram(scores, bins=edges)
    cutoff = view.cutoff
    frame = pd.DataFrame(
        {
            "start": edges[:-1].round(3), "end": edges[1:].round(3), "titles": counts,
            "part": [ABOVE_CUTOFF if cutoff is not None and end > cutoff else BELOW_CUTOFF for end in edges[1:]],
        }
    )
    frame = frame[frame["titles"] > 0]
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            color=alt.Color("part:N", title=None, legend=alt.Legend(orient="bottom"),
                            scale=alt.Scale(domain=[BELOW_CUTOFF, ABOVE_CUTOFF], range=["#9aa5b1", ROLE_COLOURS["similar"]])),
            x=alt.X("start:Q", bin="binned", title="Similarity to the chosen title", scale=alt.Scale(domain=[0, 1])),
            x2="end:Q",
            y=alt.Y("titles:Q", title="Titles (log scale)", scale=alt.Scale(type="symlog"),
                    axis=alt.Axis(values=[1, 10, 100, 1000, 10000], labelExpr="format(datum.value, ',d')")),
            tooltip=[alt.Tooltip("start:Q", format=".2f", title="From"), alt.Tooltip("end:Q", format=".2f", title="To"),
                     alt.Tooltip("titles:Q", title="Titles", format=",")],
        )
    )
    layers = [bars]
    if cutoff is not None:
        rule_frame = pd.DataFrame({"cutoff": [round(cutoff, 3)], "text": [f"top {len(view.similar)} cut-off {cutoff:.3f}"]})
        rule = alt.Chart(rule_frame).mark_rule(color=ROLE_COLOURS["seed"], strokeWidth=2, strokeDash=[6, 3]).encode(
            x="cutoff:Q", tooltip=[alt.Tooltip("text:N", title="Cut-off")]
        )
        text = alt.Chart(rule_frame).mark_text(align="left", dx=6, dy=-6, color=ROLE_COLOURS["seed"], fontWeight="bold").encode(
            x="cutoff:Q", y=alt.value(12), text="text:N"
        )
        layers += [rule, text]
    return alt.layer(*layers).properties(
        title=f"All {len(scores):,} other titles scored against {view.seed.label()}", height=300
    )


def counts_by_year(frame: pd.DataFrame) -> alt.Chart:
    """Titles per year, movies and shows stacked."""
    data = frame.dropna(subset=["year"]).groupby(["year", "media_type"]).size().reset_index(name="titles")
    data["year"] = data["year"].astype(int)
    return (
        alt.Chart(data, title="Titles by year")
        .mark_bar()
        .encode(
            x=alt.X("year:O", title="Year", axis=alt.Axis(labelOverlap=True)),
            y=alt.Y("titles:Q", title="Titles"),
            color=alt.Color("media_type:N", title="Type", scale=alt.Scale(domain=["movie", "show"], range=["#2e86ab", "#f3a712"])),
            tooltip=["year:O", "media_type:N", alt.Tooltip("titles:Q", format=",")],
        )
        .properties(height=300)
    )


def counts_by_genre(frame: pd.DataFrame) -> alt.Chart:
    """Titles per genre (a title counts once for each of its genres)."""
    data = frame[["genres"]].explode("genres").dropna().groupby("genres").size().reset_index(name="titles")
    return _count_bars(data, "genres", "Genre", "Titles by genre", "#2e86ab", 20)


def counts_by_language(frame: pd.DataFrame, names: dict[str, str], top: int = 12) -> alt.Chart:
    """Titles per original language: the `top` most common, the rest as "Other languages", on a log axis
    (English alone outnumbers the rest, which a linear axis flattens to nothing)."""
    counts = frame.dropna(subset=["language"]).groupby("language").size().sort_values(ascending=False)
    data = counts.head(top).reset_index(name="titles")
    data["name"] = data["language"].map(lambda code: names.get(code, code))
    rest = counts.iloc[top:]
    if len(rest):
        data = pd.concat([data, pd.DataFrame({"language": ["other"], "titles": [int(rest.sum())],
                                               "name": [f"Other languages ({len(rest)})"]})], ignore_index=True)
    data["order"] = range(len(data))
    return (
        alt.Chart(data, title=f"Titles by original language (top {min(top, len(counts))}, log scale)")
        .mark_bar(color="#f3a712")
        .encode(
            x=alt.X("titles:Q", title="Titles (log scale)", scale=alt.Scale(type="symlog"),
                    axis=alt.Axis(values=[1, 10, 100, 1000, 10000], labelExpr="format(datum.value, ',d')")),
            y=alt.Y("name:N", sort=alt.SortField("order"), title=None),
            tooltip=[alt.Tooltip("name:N", title="Language"), alt.Tooltip("titles:Q", format=",")],
        )
        .properties(height=alt.Step(22))
    )


def _count_bars(data: pd.DataFrame, field: str, label: str, title: str, color: str, step: int) -> alt.Chart:
    """Horizontal bars of a `titles` count per `field`, largest first, one `step` of height per bar."""
    return (
        alt.Chart(data, title=title)
        .mark_bar(color=color)
        .encode(
            x=alt.X("titles:Q", title="Titles"),
            y=alt.Y(f"{field}:N", sort="-x", title=None),
            tooltip=[alt.Tooltip(f"{field}:N", title=label), alt.Tooltip("titles:Q", format=",")],
        )
        .properties(height=alt.Step(step))
    )
