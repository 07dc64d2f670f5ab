"""CATALOG.md, rendered from the registry alone.

Nothing here is written per measure: every row, property, bound, alias and
relation comes from the :class:`~divergences.spec.Measure` records, so the
catalog cannot drift from the definitions (``divergences catalog --check``
detects a stale file).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .registry import measures, names
from .spec import (
    CLAIM_MEANING,
    CLAIMS,
    FAMILIES,
    NAMESPACE_DEFAULTS,
    Claim,
    Measure,
    Param,
)

#: What each ``holds`` value of a claim means (used by the catalog and ``divergences show``).
HOLDS_MEANING = {
    "always": "holds on every input of the measure's domain (under its condition, if any)",
    "pdf": "holds on probability vectors (rows summing to 1) only; a stored counterexample "
    "off the simplex breaks it",
    "never": "fails on probability vectors; a stored counterexample breaks it",
}

_COLUMNS = (
    "No.",
    "Name",
    "Aliases",
    "Formula",
    "Kind",
    "Symmetric",
    "Metric (evidence)",
    "Bounds on pdfs",
    "Domain",
    "Zeros",
)


# -- small formatting helpers (shared with the command line) ----------------
def fmt_number(x: float) -> str:
    """A float as short text: ``1``, ``0.5``, ``1e-05``, ``inf``, ``e``."""
    if x == math.e:
        return "e"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}"


def fmt_vector(v: Iterable[float]) -> str:
    """A vector as ``(1, 0.5)``."""
    return "(" + ", ".join(fmt_number(float(x)) for x in v) + ")"


def fmt_counterexample(claim: Claim) -> str:
    """``P = (1, 0), Q = (0, 1)`` (and ``at p = 0.5``), or "" without a counterexample."""
    if not claim.counterexample:
        return ""
    text = ", ".join(
        f"{label} = {fmt_vector(v)}" for label, v in zip("PQR", claim.counterexample, strict=False)
    )
    if claim.params:
        text += " at " + ", ".join(f"{k} = {fmt_number(v)}" for k, v in claim.params.items())
    return text


def fmt_claim(claim: Claim) -> str:
    """Holds value, evidence, condition and counterexample of a claim as one line."""
    text = claim.holds
    if claim.condition:
        text += f" (if {claim.condition})"
    text += f": {claim.evidence}"
    cx = fmt_counterexample(claim)
    if cx:
        text += f"; counterexample {cx}"
    return text


def fmt_param(p: Param) -> str:
    """``p = 2 (p > 0): order of the norm``, with the special points and named values."""
    text = f"{p.name} = {fmt_number(p.default)} ({p.domain_text()}): {p.doc}"
    if p.special:
        text += "; limits at " + ", ".join(fmt_number(v) for v in p.special)
    if p.named:
        text += "; named: " + ", ".join(f"{n} = {fmt_number(v)}" for n, v in p.named)
    return text


def zero_text(m: Measure) -> str:
    """The measure's zero behaviour, with a note when ``zero='epsilon'`` differs."""
    text = m.zeros or "no zero hazard"
    if m.epsilon is not None:
        text += " (zero='epsilon' differs)"
    return text


def number_text(m: Measure) -> str:
    """Survey number, or ``extra`` for measures beyond the survey."""
    return "extra" if m.survey_number is None else str(m.survey_number)


def alias_defaults(m: Measure) -> dict[str, dict[str, Any]]:
    """Call options implied by each alias of ``m`` (only aliases that imply some)."""
    out = {}
    for a in m.aliases:
        defaults = {**NAMESPACE_DEFAULTS.get(a.namespace or "", {}), **a.defaults}
        if defaults:
            out[a.name] = defaults
    return out


def fmt_options(options: dict[str, Any]) -> str:
    """``zero='epsilon', normalize=True``."""
    return ", ".join(f"{k}={v!r}" for k, v in options.items())


def measure_record(m: Measure) -> dict[str, Any]:
    """Every field of a measure as plain JSON-ready data.

    Parameters
    ----------
    m : Measure

    Returns
    -------
    dict
        name, title, aliases, alias_defaults, survey_number, family, family_title,
        kind, domain, latex, params, properties, bounds, relations, zeros,
        epsilon_rule, notes, references.
    """
    return {
        "name": m.name,
        "title": m.title,
        "aliases": list(m.alias_names),
        "alias_defaults": alias_defaults(m),
        "survey_number": m.survey_number,
        "family": m.family,
        "family_title": FAMILIES[m.family],
        "kind": m.kind,
        "domain": m.domain,
        "latex": m.latex,
        "params": [
            {"name": p.name, "default": p.default, "domain": p.domain_text(), "doc": p.doc}
            for p in m.params
        ],
        "properties": {
            name: {
                "holds": c.holds,
                "evidence": c.evidence,
                "counterexample": (
                    None if c.counterexample is None else [list(v) for v in c.counterexample]
                ),
                "counterexample_params": dict(c.params),
                "condition": c.condition,
            }
            for name, c in m.properties.items()
        },
        "bounds": {"low": m.bounds.low, "high": m.bounds.high, "bounded": m.is_bounded()},
        "relations": [
            {"expr": r.expr, "holds": r.holds, "params": dict(r.params)} for r in m.relations
        ],
        "zeros": m.zeros,
        "epsilon_rule": m.epsilon is not None,
        "notes": m.notes,
        "references": list(m.references),
    }


# -- markdown ---------------------------------------------------------------
def _cell(text: str) -> str:
    """Table-cell text: ``|`` escaped, no line breaks."""
    return " ".join(text.split()).replace("|", r"\|")


def _code(text: str) -> str:
    return f"`{text}`"


def _row(m: Measure) -> str:
    metric = m.properties.metric
    metric_text = f"**{metric.holds}**"
    if metric.condition:
        metric_text += f" (if {metric.condition})"
    metric_text += f": {metric.evidence}"
    cx = fmt_counterexample(metric)
    if cx:
        metric_text += f"; counterexample {cx}"
    formula = f"${m.latex}$"
    if m.params:
        formula += "<br>" + "; ".join(
            f"{_code(p.name)} = {fmt_number(p.default)} ({p.domain_text()})" for p in m.params
        )
    cells = [
        number_text(m),
        f"**{_code(m.name)}**<br>{m.title}",
        ", ".join(_code(a) for a in m.alias_names) or "-",
        formula,
        m.kind,
        m.properties.symmetric.holds,
        metric_text,
        f"[{_code(m.bounds.low)}, {_code(m.bounds.high)}]",
        m.domain,
        zero_text(m),
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _family_heading(key: str, members: list[Measure]) -> str:
    nums = sorted({m.survey_number for m in members if m.survey_number is not None})
    span = f"{nums[0]}-{nums[-1]}" if len(nums) > 1 else (str(nums[0]) if nums else "extras")
    return f"## {FAMILIES[key]} ({span})"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = heading.lstrip("#").strip().lower()
    return "".join(c for c in text if c.isalnum() or c in " -_").replace(" ", "-")


def _intro(all_measures: tuple[Measure, ...]) -> list[str]:
    survey = [m for m in all_measures if m.survey_number is not None]
    numbers = {m.survey_number for m in survey}
    extras = [m for m in all_measures if m.survey_number is None]
    return [
        "# Catalog of measures",
        "",
        "<!-- Generated by `divergences catalog` from the measure definitions; do not edit. -->",
        "",
        "Every distance, similarity and divergence of Sung-Hyuk Cha's 2007 survey "
        '("Comprehensive Survey on Distance/Similarity Measures between Probability Density '
        'Functions"), one table per family of the survey. '
        f"{len(all_measures)} measures: the {len(numbers)} numbered rows of the survey as "
        f"{len(survey)} measures (a row with a similarity and a distance form has both), "
        f"and {len(extras)} extras "
        f"({', '.join(_code(m.name) for m in extras)}). "
        "Every name or alias works in `divergences.get(name)`, `cdist`, `pdist` and the "
        "`divergences` command.",
        "",
        "Columns: survey number (`extra` for measures beyond the survey); canonical name and "
        "title; aliases (plain and namespaced, see [Conventions](#conventions)); formula "
        "(with parameters and defaults); kind; whether the measure is symmetric and a metric "
        "(`always`, `pdf` or `never`, see [Properties](#properties)), with the evidence; "
        "range on probability vectors of dimension `d`; input domain; zero behaviour under "
        "the default `zero='strict'`. `divergences show NAME` prints all five property claims "
        "of a measure with their evidence.",
        "",
    ]


def _families(all_measures: tuple[Measure, ...]) -> list[str]:
    lines: list[str] = []
    headings = []
    for key in FAMILIES:
        members = [m for m in all_measures if m.family == key]
        if not members:
            continue
        heading = _family_heading(key, members)
        headings.append(heading)
        lines += [heading, "", "| " + " | ".join(_COLUMNS) + " |"]
        lines.append("|" + "|".join("---" for _ in _COLUMNS) + "|")
        lines += [_row(m) for m in members]
        lines.append("")
    toc = ["Families:", ""]
    for h in [*headings, "## Conventions", "## Relations"]:
        toc.append(f"- [{h.lstrip('#').strip()}](#{_anchor(h)})")
    return [*toc, "", *lines]


def _conventions(all_measures: tuple[Measure, ...]) -> list[str]:
    with_epsilon = [m.name for m in all_measures if m.epsilon is not None]
    with_base = [m.name for m in all_measures if any(p.name == "base" for p in m.params)]
    namespaced = sorted(
        {a.namespace for m in all_measures for a in m.aliases if a.namespace is not None}
    )
    lines = [
        "## Conventions",
        "",
        "### Zero modes",
        "",
        "- `zero='strict'` (the default) is the mathematics: `0 * ln(0 / q) = 0`, "
        "`p * ln(p / 0) = inf` for `p > 0`, a per-element `0 / 0` contributes 0, `x / 0 = inf` "
        "for `x > 0`, `ln(0)` where the formula takes it gives an infinite distance, and a "
        "whole-vector `0 / 0` (two all-zero rows) is `nan`. The Zeros column of each table "
        "says what this means for the measure.",
        "- `zero='epsilon'` (with `epsilon=1e-5` by default) applies philentropy 0.10.0's "
        "rules: epsilon replaces a zero denominator or log argument where philentropy does "
        "so, so that every measure philentropy has returns what its `distance()` returns. "
        f"It differs from the strict rules for {len(with_epsilon)} measures: "
        f"{', '.join(_code(n) for n in with_epsilon)}; every other measure computes the same "
        "in both modes.",
        "- Nothing is normalised silently: `normalize=True` divides each row by its sum "
        "first (an all-zero row is then an error). Bad input (negative entries for a "
        "`nonnegative` measure, NaN or inf, mismatched lengths) raises `InputError` naming the "
        "measure, the argument and the row and column.",
        "",
        "### Logarithms and `base`",
        "",
        "Natural logarithms by default. Every measure with a logarithm takes `base=` (2 for "
        "bits, e for nats, 10, or any positive base other than 1), like philentropy's `unit`: "
        f"{', '.join(_code(n) for n in with_base)}.",
        "",
        "### Names and aliases",
        "",
        "- Canonical names are snake_case English. Lookups ignore case and treat `-` and "
        "spaces as `_` (outside namespaces); a survey number as a string (`'37'`) names the "
        f"first measure of that row. {len(names())} names and aliases are accepted in all.",
        "- A bare name or plain alias is always the measure of Cha's survey; an alias never "
        "changes meaning.",
        "- Namespaced aliases (" + ", ".join(_code(f"{ns}:") for ns in namespaced) + ") "
        "reproduce another library's values for the name that library uses, including the "
        "call options this implies:",
    ]
    for ns in namespaced:
        implied = NAMESPACE_DEFAULTS.get(ns, {})
        what = f"implies {_code(fmt_options(implied))}" if implied else "implies no options"
        count = sum(1 for m in all_measures for a in m.aliases if a.namespace == ns)
        lines.append(f"  - `{ns}:NAME` ({count} names) {what}.")
    # options of single aliases, on top of their namespace's
    for owner in all_measures:
        for a in owner.aliases:
            if a.defaults:
                implied = fmt_options(alias_defaults(owner)[a.name])
                lines.append(f"  - {_code(a.name)} is {_code(owner.name)} with {_code(implied)}.")
    lines += [
        "- Where the survey gives a similarity and a distance form of one row, both are "
        "registered under their own names with the same survey number and their own kind "
        "(similarity: larger is closer; dissimilarity: smaller is closer).",
        "",
        "### Properties",
        "",
        "Every measure records five claims, each with evidence (a citation or proof sketch "
        "where it holds, a concrete counterexample stored in the definition and checked by "
        "the tests where it does not):",
        "",
    ]
    lines += [f"- **{c}**: {CLAIM_MEANING[c]}" for c in CLAIMS]
    lines += ["", "Each claim holds:", ""]
    lines += [f"- `{h}`: {text}" for h, text in HOLDS_MEANING.items()]
    lines += [
        "",
        "`divergences.select(metric=True)` (and `divergences list --metric`) keeps `always` "
        "and `pdf`; `select(metric='always')` keeps one value exactly. Bounds are the range "
        "on probability vectors of dimension `d`; `inf` marks an unbounded measure.",
        "",
    ]
    return lines


def _relations(all_measures: tuple[Measure, ...]) -> list[str]:
    lines = [
        "## Relations",
        "",
        "Identities between measures, checked by the tests. Each measure name stands for its "
        "value on (P, Q); `d` is the dimension.",
        "",
    ]
    for m in all_measures:
        for r in m.relations:
            where = "on all inputs of its domain" if r.holds == "always" else "on pdfs"
            if r.params:
                where += ", at " + ", ".join(f"{k} = {fmt_number(v)}" for k, v in r.params.items())
            lines.append(f"- {_code(m.name)} ({number_text(m)}) = {_code(r.expr)} ({where})")
    lines.append("")
    return lines


def _loss_properties(all_measures: tuple[Measure, ...]) -> list[str]:
    from .loss_claims import catalog_lines

    return catalog_lines(all_measures)


def _gradients(all_measures: tuple[Measure, ...]) -> list[str]:
    from .gradients import zero_gradients

    lines = [
        "## Gradients at a zero",
        "",
        "`dv.paired_grad` and the torch/JAX adapters differentiate every measure analytically "
        "(partial derivatives generated from the definition, chain rule through the finalize). "
        "Where a coordinate is 0 the gradient follows the helpers' zero conventions: never NaN "
        "where the value is finite, +-inf where the derivative diverges, 0 where a term "
        "vanishes by convention. Generated at the probe P = (1/4, 3/4), Q = (0, 1) "
        '(and swapped), default parameters, `zero="strict"`:',
        "",
        "| Measure | d/dQ_i at Q_i = 0 < P_i | d/dP_i at P_i = 0 < Q_i |",
        "|---|---|---|",
    ]
    for m in all_measures:
        z = zero_gradients(m)
        lines.append(f"| {_code(m.name)} | {z['Q']} | {z['P']} |")
    lines.append("")
    return lines


def render() -> str:
    """CATALOG.md as a string, built from the registry only (deterministic).

    Returns
    -------
    str
        Markdown: an introduction, one table per family (in ``spec.FAMILIES``
        order), the conventions and the relations between measures.
    """
    all_measures = measures()
    lines = [
        *_intro(all_measures),
        *_families(all_measures),
        *_conventions(all_measures),
        *_relations(all_measures),
        *_loss_properties(all_measures),
        *_gradients(all_measures),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def write(path: str | os.PathLike[str] = "CATALOG.md") -> Path:
    """Write :func:`render` to ``path`` (UTF-8, ``\\n`` line ends), all or nothing (see
    :mod:`divergences.atomic`: a failure leaves an existing file untouched).

    Parameters
    ----------
    path : str or path-like, default "CATALOG.md"

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from .atomic import replacing

    out = Path(path)
    text = render()
    with replacing(out) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return out


def check(path: str | os.PathLike[str] = "CATALOG.md") -> bool:
    """Whether the file at ``path`` equals :func:`render` (False when missing).

    Parameters
    ----------
    path : str or path-like, default "CATALOG.md"

    Returns
    -------
    bool
    """
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read() == render()
    except (OSError, UnicodeDecodeError):
        return False
