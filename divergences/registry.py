"""Discovery of the family modules, names and aliases, and queries over the catalog."""

from __future__ import annotations

import difflib
import functools
import importlib
from typing import Any

from .families import FAMILY_MODULES
from .spec import NAMESPACE_DEFAULTS, Alias, DefinitionError, Measure


class UnknownMeasureError(LookupError, ValueError):
    """No measure of the catalog has this name or alias."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def normalize_name(name: str) -> str:
    """Lookup key: case-insensitive; '-' and ' ' count as '_' outside namespaces."""
    key = name.strip().lower()
    if ":" in key:
        return key
    return key.replace("-", "_").replace(" ", "_")


class AliasedMeasure:
    """A measure reached through a namespaced alias that implies call defaults.

    ``get("philentropy:kullback-leibler")`` is Kullback-Leibler with
    ``zero="epsilon"``, so that it reproduces philentropy's values.  Every
    attribute of the measure is available; calling it applies the defaults.
    """

    def __init__(self, measure: Measure, alias: str, defaults: dict[str, Any]) -> None:
        self.measure = measure
        self.alias = alias
        self.defaults = dict(defaults)

    def __getattr__(self, attr: str) -> Any:
        if attr == "measure" or attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self.measure, attr)

    def __reduce__(self) -> tuple[Any, ...]:
        return (AliasedMeasure, (self.measure, self.alias, self.defaults))

    def __call__(self, P: Any, Q: Any, /, **options: Any) -> Any:
        """Evaluate on one pair with the alias's defaults (see :meth:`Measure.__call__`)."""
        return self.measure(P, Q, **{**self.defaults, **options})

    def __repr__(self) -> str:
        return f"<AliasedMeasure {self.alias} -> {self.measure.name} {self.defaults}>"


@functools.lru_cache(maxsize=1)
def _catalog() -> tuple[tuple[Measure, ...], dict[str, tuple[Measure, Alias | None]]]:
    measures: list[Measure] = []
    for mod in FAMILY_MODULES:
        measures.extend(importlib.import_module(f"divergences.families.{mod}").MEASURES)
    index: dict[str, tuple[Measure, Alias | None]] = {}

    def add(name: str, m: Measure, alias: Alias | None) -> None:
        key = normalize_name(name)
        if key in index and index[key][0] is not m:
            raise DefinitionError(
                f"name {name!r} of {m.name!r} collides with {index[key][0].name!r}"
            )
        if key in index:
            raise DefinitionError(f"{m.name!r} lists the name {name!r} twice")
        index[key] = (m, alias)

    for m in measures:
        add(m.name, m, None)
    for m in measures:
        for a in m.aliases:
            add(a.name, m, a)
    order = sorted(measures, key=lambda m: (m.survey_number or 99, m.kind != "dissimilarity"))
    return tuple(order), index


def measures() -> tuple[Measure, ...]:
    """Every measure of the catalog, in survey order (extras last)."""
    return _catalog()[0]


def names() -> list[str]:
    """Every name and alias that :func:`get` accepts (lookup keys)."""
    return sorted(_catalog()[1])


def get(name: str | Measure | AliasedMeasure) -> Measure | AliasedMeasure:
    """The measure called ``name`` (canonical name or alias, case-insensitive).

    Parameters
    ----------
    name : str or Measure
        ``"kl"``, ``"Kullback-Leibler"``, ``"scipy:jensenshannon"``, a survey number
        as a string (``"37"``), or a measure (returned as is).

    Returns
    -------
    Measure or AliasedMeasure
        An :class:`AliasedMeasure` for namespaced aliases that imply call defaults.

    Raises
    ------
    UnknownMeasureError
        With did-you-mean suggestions.

    Examples
    --------
    >>> import divergences as dv
    >>> dv.get("kl").name
    'kullback_leibler'
    >>> round(dv.get("topsoe")([.5, .5], [.9, .1]), 6)
    0.203498
    """
    if isinstance(name, (Measure, AliasedMeasure)):
        return name
    if not isinstance(name, str):
        raise UnknownMeasureError(f"a measure is a name or a Measure, got {type(name).__name__}")
    catalog, index = _catalog()
    key = normalize_name(name)
    if key.isdigit():
        hits = [m for m in catalog if m.survey_number == int(key)]
        if hits:
            return hits[0]
    if key not in index:
        close = difflib.get_close_matches(key, index, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownMeasureError(
            f"unknown measure {name!r}{hint} (`divergences list` shows them all)"
        )
    m, alias = index[key]
    if alias is None or alias.namespace is None:
        return m
    defaults = {**NAMESPACE_DEFAULTS.get(alias.namespace, {}), **alias.defaults}
    if alias.domain is not None and alias.domain != m.domain:
        defaults["_domain"] = alias.domain  # read by the API's input checks, never a keyword
    return AliasedMeasure(m, alias.name, defaults) if defaults else m


def resolve(measure: str | Measure | AliasedMeasure) -> tuple[Measure, dict[str, Any]]:
    """The measure and the call defaults implied by how it was named."""
    m = get(measure)
    if isinstance(m, AliasedMeasure):
        return m.measure, m.defaults
    return m, {}


def _matches(claim_holds: str, want: bool | str) -> bool:
    if isinstance(want, str):
        return claim_holds == want
    return (claim_holds != "never") == want


def select(
    *,
    family: str | None = None,
    kind: str | None = None,
    symmetric: bool | str | None = None,
    metric: bool | str | None = None,
    triangle: bool | str | None = None,
    nonnegative: bool | str | None = None,
    bounded: bool | None = None,
    domain: str | None = None,
    survey: bool | None = None,
    finite_at_zero_target: bool | None = None,
    finite_at_zero_model: bool | None = None,
    bounded_gradient: bool | None = None,
    noise_tolerant: bool | None = None,
    f_divergence: bool | None = None,
) -> list[Measure]:
    """Measures whose tags match every given filter.

    Parameters
    ----------
    family : str, optional
        Family key (``"fidelity"``) or title (``"Fidelity (squared-chord)"``).
    kind : {"similarity", "dissimilarity"}, optional
    symmetric, metric, triangle, nonnegative : bool or {"always", "pdf", "never"}, optional
        ``True`` keeps claims that hold on probability vectors (``always`` or ``pdf``),
        ``False`` those that fail (``never``); a string keeps that exact value.
    bounded : bool, optional
        Finite upper bound on probability vectors at the default parameter values.
    domain : {"real", "nonnegative"}, optional
    survey : bool, optional
        True: only Cha's 51 rows; False: only the extras.
    finite_at_zero_target, finite_at_zero_model, bounded_gradient, noise_tolerant, \
f_divergence : bool, optional
        The loss-relevant claims of :mod:`divergences.loss_claims` (computed on first
        use, then cached).

    Examples
    --------
    >>> import divergences as dv
    >>> [m.name for m in dv.select(metric=True, family="fidelity")]
    ['hellinger', 'matusita', 'hellinger_statistics']
    """
    from .loss_claims import matches as loss_matches
    from .spec import FAMILIES

    loss = {
        "finite_at_zero_target": finite_at_zero_target,
        "finite_at_zero_model": finite_at_zero_model,
        "bounded_gradient": bounded_gradient,
        "noise_tolerant": noise_tolerant,
        "f_divergence": f_divergence,
    }
    out = []
    fam = None
    if family is not None:
        fam = {v.lower(): k for k, v in FAMILIES.items()}.get(family.lower(), family.lower())
        if fam not in FAMILIES:
            raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")
    for m in measures():
        props = m.properties
        if fam is not None and m.family != fam:
            continue
        if kind is not None and m.kind != kind:
            continue
        if domain is not None and m.domain != domain:
            continue
        if bounded is not None and m.is_bounded() != bounded:
            continue
        if survey is not None and (m.survey_number is not None) != survey:
            continue
        filters = {
            "symmetric": symmetric,
            "metric": metric,
            "triangle": triangle,
            "nonnegative": nonnegative,
        }
        if any(
            w is not None and not _matches(getattr(props, c).holds, w) for c, w in filters.items()
        ):
            continue
        if not loss_matches(m, loss):
            continue
        out.append(m)
    return out
