"""Declarative records that define a measure.

A measure is *map, reduce, finalize*: a few accumulators, each the sum (or max,
or min) over the coordinates i of an elementwise term f(x_i, y_i), and a
finalize expression over the accumulators.  Terms and finalize are written in a
small expression language (see :mod:`divergences.expr`) over a fixed vocabulary
of zero-rule helpers, so every back end (NumPy reference, Numba, CUDA) derives
its code from the same definition.

Expression names
----------------
``x``, ``y``
    The elements P_i and Q_i (terms only).
``eps``
    The ``epsilon`` of ``zero="epsilon"`` (available in both modes).
``d``
    The number of coordinates (finalize and bounds only).
parameter names
    Every declared :class:`Param` (``p``, ``base``).
accumulator names
    In finalize only.
"""

from __future__ import annotations

import copyreg
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from .expr import check_expression

Kind = Literal["similarity", "dissimilarity"]
Domain = Literal["real", "nonnegative"]
Holds = Literal["always", "pdf", "never"]
Reduce = Literal["sum", "max", "min"]

FAMILIES: dict[str, str] = {
    "minkowski": "Lp Minkowski",
    "l1": "L1",
    "intersection": "Intersection",
    "inner_product": "Inner product",
    "fidelity": "Fidelity (squared-chord)",
    "squared_l2": "Squared L2 (chi-squared)",
    "shannon": "Shannon's entropy",
    "combinations": "Combinations",
    "vicissitude": "Vicissitude",
    "parametric": "Parametric divergences (extras)",
}

CLAIMS = ("symmetric", "nonnegative", "identity", "triangle", "metric")

CLAIM_MEANING = {
    "symmetric": "f(P, Q) = f(Q, P)",
    "nonnegative": "f(P, Q) >= 0",
    "identity": "d(P, P) = 0 for a dissimilarity; s(P, Q) <= s(P, P) for a similarity",
    "triangle": "f(P, R) <= f(P, Q) + f(Q, R)",
    "metric": "symmetric, non-negative, d(P, Q) = 0 iff P = Q, and the triangle inequality",
}


def evaluate_ieee(src: str, names: dict[str, float]) -> float:
    """A bounds or condition expression on float64 scalars with IEEE semantics: both
    branches of ``where`` are evaluated, so ``4 / 0`` in the branch not taken is ``inf``,
    never an exception.

    Examples
    --------
    >>> evaluate_ieee("where(a < 1, 1 / (1 - a), inf)", {"a": 1.0})
    inf
    """
    import numpy as np

    from .expr import evaluate_scalar

    with np.errstate(all="ignore"):
        return evaluate_scalar(src, {k: np.float64(v) for k, v in names.items()})


class DefinitionError(Exception):
    """A measure definition breaks an invariant of the catalog (raised at import)."""


#: parameters a generated CUDA kernel takes (``par0 .. par{MAX_KERNEL_PARAMS-1}``); a
#: definition with more is refused at import (:func:`_check_measure`), not at code generation
MAX_KERNEL_PARAMS = 2


@dataclass(frozen=True)
class Param:
    """A keyword parameter of a measure: its domain, default and the values tests use.

    Parameters
    ----------
    name : str
        Keyword name (``p`` for Minkowski's order, ``base`` for log bases, ``alpha``).
    limit_inf : str
        The measure this one tends to as the parameter grows without bound (``chebyshev``
        for Minkowski's ``p``): passing ``inf`` computes that measure (scipy's
        ``minkowski(p=inf)``).
    default : float
        Value used when the caller does not pass one.
    doc : str
        One line for the catalog.
    low, high : float
        Limits of the domain (``-inf``/``inf``: unbounded on that side).
    low_inclusive, high_inclusive : bool
        Whether ``low``/``high`` themselves are allowed.
    exclude : tuple of float
        Single values outside the domain (``1`` for a log base).
    special : tuple of float
        Values where the formula is a limit (``alpha = 1`` of Renyi is KL): the definition
        handles them exactly (with ``where`` on the parameter) and every test runs at them.
    test_values : tuple of float
        Further values every parameter-dependent test runs at (with the default and the
        special points: :meth:`values`).
    named : tuple of (str, float) pairs
        Names accepted for values (scipy's ``lambda_="pearson"`` is 1).

    Examples
    --------
    >>> Param("alpha", 0.5, "order", low=0.0, special=(1.0,)).values()
    (0.5, 1.0)
    """

    name: str
    default: float
    doc: str
    low: float = -math.inf
    low_inclusive: bool = False
    exclude: tuple[float, ...] = ()
    high: float = math.inf
    high_inclusive: bool = False
    special: tuple[float, ...] = ()
    test_values: tuple[float, ...] = ()
    named: tuple[tuple[str, float], ...] = ()
    limit_inf: str = ""

    def domain_text(self) -> str:
        """Human-readable domain, e.g. ``p > 0``, ``0 <= alpha <= 1`` or ``base != 1``."""
        lo_op = ">=" if self.low_inclusive else ">"
        hi_op = "<=" if self.high_inclusive else "<"
        parts = []
        if self.low != -math.inf and self.high != math.inf:
            lo_op = "<=" if self.low_inclusive else "<"
            parts.append(f"{self.low:g} {lo_op} {self.name} {hi_op} {self.high:g}")
        elif self.low != -math.inf:
            parts.append(f"{self.name} {lo_op} {self.low:g}")
        elif self.high != math.inf:
            parts.append(f"{self.name} {hi_op} {self.high:g}")
        parts += [f"{self.name} != {v:g}" for v in self.exclude]
        return ", ".join(parts) or "any real"

    def contains(self, v: float) -> bool:
        """Whether ``v`` is in the domain."""
        lo_ok = v >= self.low if self.low_inclusive else v > self.low
        hi_ok = v <= self.high if self.high_inclusive else v < self.high
        return math.isfinite(v) and lo_ok and hi_ok and v not in self.exclude

    def values(self) -> tuple[float, ...]:
        """Default, special points and test values (no repeats): what the tests run at."""
        out: list[float] = []
        for v in (self.default, *self.special, *self.test_values):
            if v not in out:
                out.append(float(v))
        return tuple(out)

    def check(self, value: Any, measure: str) -> float:
        """Return ``value`` as a float, or raise ``ValueError`` naming the measure."""
        names = dict(self.named)
        if isinstance(value, str) and value.strip().lower() in names:
            return float(names[value.strip().lower()])
        try:
            v = float(value)
        except (TypeError, ValueError):
            accepted = f" (or one of {', '.join(map(repr, names))})" if names else ""
            raise ValueError(
                f"{measure}: parameter {self.name}={value!r} is not a number{accepted}"
            ) from None
        if not self.contains(v):
            raise ValueError(
                f"{measure}: parameter {self.name}={value!r} is outside its domain "
                f"({self.domain_text()})"
            )
        return v


def param_grid(params: tuple[Param, ...]) -> list[dict[str, float]]:
    """Parameter sets the tests run at: each parameter at each of its :meth:`Param.values`,
    the others at their defaults (``[{}]`` without parameters; the defaults first)."""
    defaults = {p.name: p.default for p in params}
    grid = [defaults]
    for p in params:
        for v in p.values():
            point = {**defaults, p.name: v}
            if point not in grid:
                grid.append(point)
    return grid


def P_ORDER(default: float = 2.0) -> Param:  # noqa: N802 - reads like a constant
    """Minkowski's order ``p`` (tests run at 1/2, 1, 3/2, 2 and 3)."""
    return Param(
        "p",
        default,
        "order of the norm",
        low=0.0,
        test_values=(1.0, 1.5, 3.0, 0.5),
        limit_inf="chebyshev",
    )


BASE = Param(
    "base",
    math.e,
    "logarithm base (e: nats, 2: bits, 10: hartleys)",
    low=0.0,
    exclude=(1.0,),
    test_values=(2.0,),
)


@dataclass(frozen=True)
class Acc:
    """One accumulator: ``reduce`` over i of the elementwise term ``term(x_i, y_i)``."""

    reduce: Reduce
    term: str


def sum_(term: str) -> Acc:
    """Accumulator summing ``term`` over the coordinates."""
    return Acc("sum", term)


def max_(term: str) -> Acc:
    """Accumulator taking the maximum of ``term`` over the coordinates."""
    return Acc("max", term)


def min_(term: str) -> Acc:
    """Accumulator taking the minimum of ``term`` over the coordinates."""
    return Acc("min", term)


@dataclass(frozen=True)
class Rule:
    """Accumulators and finalize expression of one zero mode.

    ``symmetric=False`` marks a rule that breaks the measure's symmetry (philentropy's
    epsilon rule for Jeffreys substitutes epsilon differently for P and Q); ``None``
    follows the measure's symmetric claim.
    """

    accumulators: dict[str, Acc]
    finalize: str
    symmetric: bool | None = None


@dataclass(frozen=True)
class Claim:
    """A property claim and the evidence for it.

    Parameters
    ----------
    holds : {"always", "pdf", "never"}
        ``always``: on every input of the measure's domain; ``pdf``: on probability
        vectors only; ``never``: fails on probability vectors.
    evidence : str
        Citation or proof sketch (where it holds) or an explanation of the
        counterexample (where it does not).
    counterexample : tuple of vectors, optional
        Where the claim fails: (P, Q) for symmetric/nonnegative/identity
        (identity uses (P,) or (P, Q) for similarities), (P, Q, R) for triangle
        and metric.  Probability vectors for ``never``; vectors of the domain
        that are not probability vectors for ``pdf``.
    params : dict, optional
        Parameter values the counterexample refers to.
    condition : str, optional
        A condition on the parameters under which the claim holds (``p >= 1``,
        ``alpha == 0``, ``abs(alpha) < 1``): an expression of the expression language in
        the parameter names, checked at import and evaluated by :meth:`applies`. An
        ``always`` claim with a condition may carry a counterexample (with ``params``)
        showing that the condition is needed.
    """

    holds: Holds
    evidence: str
    counterexample: tuple[tuple[float, ...], ...] | None = None
    params: dict[str, float] = field(default_factory=dict)
    condition: str = ""

    @property
    def is_true(self) -> bool:
        """True unless the claim fails on probability vectors."""
        return self.holds != "never"

    def applies(self, params: dict[str, float]) -> bool:
        """Whether the claim's condition holds at these parameter values (no condition: True).

        Examples
        --------
        >>> always("norm", condition="p >= 1").applies({"p": 0.5})
        False
        """
        return not self.condition or bool(evaluate_ieee(self.condition, params))

    def holds_at(self, params: dict[str, float]) -> Holds | None:
        """``holds`` where the condition applies, ``None`` (no claim) where it does not."""
        return self.holds if self.applies(params) else None


def always(evidence: str, *cx: tuple[float, ...], condition: str = "", **params: float) -> Claim:
    """A claim that holds on the whole domain (under ``condition`` on the parameters)."""
    return Claim("always", evidence, tuple(tuple(v) for v in cx) or None, dict(params), condition)


def on_pdf(evidence: str, *cx: tuple[float, ...], **params: float) -> Claim:
    """A claim that holds on probability vectors; ``cx`` breaks it off the simplex."""
    return Claim("pdf", evidence, tuple(tuple(v) for v in cx) or None, dict(params))


def never(evidence: str, *cx: tuple[float, ...], **params: float) -> Claim:
    """A claim that fails; ``cx`` are probability vectors that break it."""
    return Claim("never", evidence, tuple(tuple(v) for v in cx) or None, dict(params))


@dataclass(frozen=True)
class Embedding:
    """An exact embedding: the measure is a monotone function of an L2 distance or an inner
    product between per-row transforms of P and Q (a claim, with evidence, checked by the
    tests on random data).

    Parameters
    ----------
    transform : {"identity", "sqrt", "unit"}
        The per-row map: the row itself, its elementwise square root, or the row divided
        by its Euclidean norm.
    metric : {"l2", "ip"}
        ``l2``: ``r = ||T(P) - T(Q)||_2``; ``ip``: ``r = <T(P), T(Q)>``.
    back : str
        The measure as an expression in ``r`` (and the parameters, ``eps``), increasing in
        ``r`` for ``l2`` and for a similarity over ``ip``, decreasing for a dissimilarity
        over ``ip`` (so the nearest rows of the index are the nearest rows of the measure).
    evidence : str
        The derivation.
    back_epsilon : str, optional
        ``back`` under ``zero="epsilon"`` for a measure whose epsilon rule differs; without
        it the embedding holds for ``zero="strict"`` only.
    """

    transform: Literal["identity", "sqrt", "unit"]
    metric: Literal["l2", "ip"]
    back: str
    evidence: str
    back_epsilon: str | None = None


@dataclass(frozen=True)
class Properties:
    """The five claims every measure records."""

    symmetric: Claim
    nonnegative: Claim
    identity: Claim
    triangle: Claim
    metric: Claim

    def items(self) -> list[tuple[str, Claim]]:
        """(name, claim) pairs in catalog order."""
        return [(n, getattr(self, n)) for n in CLAIMS]


@dataclass(frozen=True)
class Bounds:
    """Range of the measure on probability vectors of dimension ``d``.

    ``low`` and ``high`` are expressions in ``d`` and the parameters
    (``inf`` for unbounded). ``anywhere`` is the (low, high) range on every input of
    the measure's domain, where it is known and differs from ``[0, inf]`` (which the
    ``nonnegative`` claim already implies when it always holds); results are clamped
    to these ranges (see :mod:`divergences.edges`).
    """

    low: str
    high: str
    anywhere: tuple[str, str] | None = None

    def evaluate(self, d: int, params: dict[str, float]) -> tuple[float, float]:
        """Numeric (low, high) for dimension ``d``."""
        ns = {"d": float(d), **params}
        return evaluate_ieee(self.low, ns), evaluate_ieee(self.high, ns)

    #: dimensions at which :meth:`is_bounded` evaluates the upper bound
    PROBE_DIMENSIONS = (1, 2, 3, 10, 1000, 10**9)

    def is_bounded(self, params: dict[str, float]) -> bool:
        """Whether the upper bound is finite at these parameter values, for every ``d``
        (evaluated at :attr:`PROBE_DIMENSIONS`: a bound in ``d`` is finite for each ``d``).

        Examples
        --------
        >>> Bounds("0", "where(abs(alpha) < 1, 4 / (1 - alpha**2), inf)").is_bounded({"alpha": 2})
        False
        """
        return all(math.isfinite(self.evaluate(d, params)[1]) for d in self.PROBE_DIMENSIONS)


@dataclass(frozen=True)
class Relation:
    """An identity with other measures, checked by the tests.

    ``expr`` is a Python expression in which each measure name is a function of
    two vectors, with ``P``, ``Q``, ``sqrt``, ``log``, ``max``, ``min`` and ``d``
    available, e.g. ``"kullback_leibler(P, Q) + kullback_leibler(Q, P)"``.
    ``holds`` is ``always`` (whole domain) or ``pdf``.  ``params`` are the values of
    this measure's parameters at which the identity holds (``{"alpha": 0.5}``: Renyi at
    1/2 and Bhattacharyya); the other parameters keep their defaults.
    """

    expr: str
    holds: Holds = "always"
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Alias:
    """A name under which a measure is also found.

    A namespaced alias (``scipy:...``, ``philentropy:...``) reproduces that
    library's values; ``defaults`` are the call options it implies
    (``philentropy:`` implies ``zero="epsilon"``). ``domain`` widens the inputs the
    alias accepts where that library computes values beyond the measure's domain
    (``scipy:braycurtis`` takes negative entries); the definition must then give that
    library's value there (it is the same value on the measure's own domain).
    """

    name: str
    defaults: dict[str, Any] = field(default_factory=dict)
    domain: Domain | None = None

    @property
    def namespace(self) -> str | None:
        """``scipy``/``philentropy`` for namespaced aliases, else None."""
        return self.name.split(":", 1)[0] if ":" in self.name else None


NAMESPACE_DEFAULTS: dict[str, dict[str, Any]] = {
    "philentropy": {"zero": "epsilon"},
    "scipy": {},
}


@dataclass(frozen=True, eq=False)
class Measure:
    """One measure of the catalog: its definition, properties and evidence.

    Calling a measure evaluates it on one pair of vectors with the reference
    implementation: ``m(p, q, **params)``.
    """

    name: str
    title: str
    family: str
    survey_number: int | None
    kind: Kind
    domain: Domain
    latex: str
    strict: Rule
    properties: Properties
    bounds: Bounds
    epsilon: Rule | None = None
    params: tuple[Param, ...] = ()
    aliases: tuple[Alias, ...] = ()
    relations: tuple[Relation, ...] = ()
    zeros: str = ""
    notes: str = ""
    references: tuple[str, ...] = ()
    #: a similarity's Gram matrices are positive semi-definite (``holds`` as for the other
    #: claims; a ``never`` claim's counterexample is a set of rows whose Gram matrix has a
    #: negative eigenvalue); ``None``: not claimed either way
    positive_definite: Claim | None = None
    #: an exact L2 / inner-product embedding (see :class:`Embedding`); ``None``: none claimed
    embedding: Embedding | None = None
    #: the value of a pair where a row holds an entry outside ``domain``: such rows reach the
    #: definition only through an alias whose ``domain`` widens it, where the library named
    #: gives this value rather than the definition's (scipy's ``rel_entr`` is +inf for a
    #: negative argument, so ``scipy:jensenshannon`` is inf there); ``None``: none
    outside_domain: float | None = None

    def __post_init__(self) -> None:
        _check_measure(self)

    # -- derived views -------------------------------------------------
    @property
    def alias_names(self) -> tuple[str, ...]:
        """All alias names (plain and namespaced)."""
        return tuple(a.name for a in self.aliases)

    @property
    def symmetric(self) -> bool:
        """Whether f(P, Q) = f(Q, P) on every input, at every parameter value."""
        claim = self.properties.symmetric
        return claim.holds == "always" and not claim.condition

    @property
    def has_epsilon_rule(self) -> bool:
        """Whether ``zero="epsilon"`` differs from the strict rules."""
        return self.epsilon is not None

    def is_symmetric(self, zero: str = "strict", params: dict[str, float] | None = None) -> bool:
        """Whether f(P, Q) = f(Q, P) on every input in zero mode ``zero`` at the parameter
        values ``params`` (defaults where missing): decides the half-matrix paths per call."""
        rule = self.rule(zero)
        if rule.symmetric is not None:
            return rule.symmetric
        claim = self.properties.symmetric
        return claim.holds == "always" and claim.applies(
            {**self.param_defaults(), **(params or {})}
        )

    def is_bounded(self, params: dict[str, float] | None = None) -> bool:
        """Whether the upper bound on probability vectors is finite at ``params``
        (defaults where missing)."""
        return self.bounds.is_bounded({**self.param_defaults(), **(params or {})})

    def param_grid(self) -> list[dict[str, float]]:
        """The parameter sets the tests run at (see :func:`param_grid`)."""
        return param_grid(self.params)

    def rule(self, zero: str) -> Rule:
        """The accumulators and finalize of zero mode ``zero``."""
        if zero == "epsilon" and self.epsilon is not None:
            return self.epsilon
        return self.strict

    def param_defaults(self) -> dict[str, float]:
        """Default value of every parameter."""
        return {p.name: p.default for p in self.params}

    def __call__(self, P: Any, Q: Any, /, **options: Any) -> Any:
        """Evaluate the measure on one pair of 1-D vectors.

        Parameters
        ----------
        P, Q : array_like, 1-D (positional)
            The two vectors (same length).
        **options
            Measure parameters (``p``, ``base``) and the options of
            :func:`divergences.cdist` (``zero``, ``epsilon``, ``normalize``,
            ``check_finite``).

        Returns
        -------
        float
            A Python float for NumPy input, a 0-d array for other array types.
        """
        from .api import pair

        return pair(P, Q, self, **options)

    def __reduce__(self) -> tuple[Any, ...]:
        # a registered measure unpickles as the registered object (caches stay warm in
        # worker processes); others as a copy
        from . import registry

        try:
            if registry.get(self.name) is self:
                return (registry.get, (self.name,))
        except LookupError:
            pass
        return (copyreg.__newobj__, (type(self),), dict(self.__dict__))

    def __repr__(self) -> str:
        num = f" #{self.survey_number}" if self.survey_number else ""
        return f"<Measure {self.name}{num} ({self.kind}, {self.family})>"


def _check_measure(m: Measure) -> None:
    """Invariants of a definition; violations raise DefinitionError at import."""

    def fail(msg: str) -> None:
        raise DefinitionError(f"measure {m.name!r}: {msg}")

    if m.name != m.name.lower() or not m.name.replace("_", "").isalnum():
        fail("canonical names are snake_case")
    if m.family not in FAMILIES:
        fail(f"unknown family {m.family!r}")
    if m.survey_number is not None and not 1 <= m.survey_number <= 51:
        fail("survey_number must be 1..51")
    if m.kind not in ("similarity", "dissimilarity"):
        fail("kind must be 'similarity' or 'dissimilarity'")
    if m.domain not in ("real", "nonnegative"):
        fail("domain must be 'real' or 'nonnegative'")
    pnames = {p.name for p in m.params}
    reserved = {"x", "y", "d", "eps"}
    if pnames & reserved:
        fail(f"parameter names {sorted(pnames & reserved)} are reserved")
    if len(m.params) > MAX_KERNEL_PARAMS:
        fail(
            f"{len(m.params)} parameters; the generated CUDA kernels take at most "
            f"{MAX_KERNEL_PARAMS} (spec.MAX_KERNEL_PARAMS)"
        )
    for p in m.params:
        for v in p.values():
            if not p.contains(v):
                fail(f"parameter {p.name}: test value {v!r} is outside {p.domain_text()}")
        for label, v in p.named:
            if label != label.lower() or not p.contains(v):
                fail(f"parameter {p.name}: named value {label!r} = {v!r} is invalid")
    for rule in (m.strict, m.epsilon):
        if rule is None:
            continue
        if not rule.accumulators:
            fail("at least one accumulator is needed")
        for acc_name, acc in rule.accumulators.items():
            if acc.reduce not in ("sum", "max", "min"):
                fail(f"accumulator {acc_name}: reduce must be sum, max or min")
            try:
                check_expression(acc.term, {"x", "y", "eps"} | pnames)
            except ValueError as e:
                fail(f"term of accumulator {acc_name}: {e}")
        try:
            check_expression(rule.finalize, set(rule.accumulators) | {"d", "eps"} | pnames)
        except ValueError as e:
            fail(f"finalize: {e}")
    for b in (m.bounds.low, m.bounds.high, *(m.bounds.anywhere or ())):
        try:
            check_expression(b, {"d"} | pnames)
        except ValueError as e:
            fail(f"bounds: {e}")
    for cname, claim in m.properties.items():
        if claim.holds not in ("always", "pdf", "never"):
            fail(f"{cname}: holds must be always, pdf or never")
        if not claim.evidence:
            fail(f"{cname}: evidence is required")
        if claim.holds != "always" and claim.counterexample is None:
            fail(f"{cname} holds {claim.holds!r}: a counterexample is required")
        if claim.condition:
            try:
                check_expression(claim.condition, pnames)
            except ValueError as e:
                fail(f"{cname} condition: {e}")
        if set(claim.params) - pnames:
            fail(f"{cname}: counterexample parameters {sorted(set(claim.params) - pnames)}")
    for rel in m.relations:
        if set(rel.params) - pnames:
            fail(f"relation {rel.expr!r}: unknown parameters {sorted(set(rel.params) - pnames)}")
    metric, parts = m.properties.metric, [c for n, c in m.properties.items() if n != "metric"]
    order = {"always": 2, "pdf": 1, "never": 0}
    weakest = min(order[c.holds] for c in parts)
    if order[metric.holds] > weakest:
        fail("metric cannot hold more widely than symmetric/nonnegative/identity/triangle")
    if m.kind == "similarity" and metric.holds != "never":
        fail("a similarity is not a metric (s(P, P) is maximal, not 0)")
    names = [a.name for a in m.aliases]
    if len(set(names)) != len(names) or m.name in names:
        fail("duplicate alias")
    pd = m.positive_definite
    if pd is not None:
        if m.kind != "similarity":
            fail("positive_definite is a claim about similarities (Gram matrices)")
        if not pd.evidence or (pd.holds != "always" and pd.counterexample is None):
            fail("positive_definite needs evidence, and a counterexample unless it always holds")
    emb = m.embedding
    if emb is not None:
        if emb.transform not in ("identity", "sqrt", "unit") or emb.metric not in ("l2", "ip"):
            fail("embedding: transform must be identity/sqrt/unit and metric l2/ip")
        for src in (emb.back, emb.back_epsilon):
            if src is None:
                continue
            try:
                check_expression(src, {"r", "eps"} | pnames)
            except ValueError as e:
                fail(f"embedding: {e}")
