"""Vicissitude family (Cha 2007, measures 46-51; not in philentropy).

With ``zero="epsilon"`` a zero denominator is replaced by epsilon (the survey's
rule), since philentropy has no value to match.
"""

from ..spec import Alias, Bounds, Measure, Properties, Relation, Rule, always, sum_
from ._claims import NONNEG_TERMS, SPREAD, SPREAD_WHY, TERMWISE_SYMMETRIC, ZERO_AT_EQUAL, not_metric

_SQ = "(x - y)**2"
_INF_ZERO = (
    "exactly one of P_i, Q_i zero gives inf, both zero contributes 0; zero='epsilon' "
    "replaces a zero denominator by epsilon"
)


def _vicis(
    name: str,
    title: str,
    number: int,
    latex: str,
    num: str,
    den: str,
    cx: tuple[tuple[float, ...], ...],
    why: str,
    high: str = "inf",
    zeros: str = _INF_ZERO,
    strict: str = "",
) -> Measure:
    strict = strict or f"div0({num}, {den})"
    return Measure(
        name=name,
        title=title,
        family="vicissitude",
        survey_number=number,
        kind="dissimilarity",
        domain="nonnegative",
        latex=latex,
        strict=Rule({"s": sum_(strict)}, "s"),
        epsilon=Rule({"s": sum_(f"{num} / nz({den}, eps)")}, "s"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            **not_metric(why, *cx),
        ),
        bounds=Bounds("0", high),
        aliases=(Alias(f"emanon{number - 45}"),),
        zeros=zeros,
    )


# squares over a denominator as the quotient first (see squared_l2._CHI): (x - y)**2
# underflows to 0 where the true term is infinite or merely tiny
_CHI_SUMS = {
    "a": sum_("div0(x - y, x) * (x - y)"),
    "b": sum_("div0(x - y, y) * (x - y)"),
}
_CHI_SUMS_EPS = {
    "a": sum_(f"{_SQ} / nz(x, eps)"),
    "b": sum_(f"{_SQ} / nz(y, eps)"),
}


def _max_min(name: str, title: str, number: int, op: str) -> Measure:
    return Measure(
        name=name,
        title=title,
        family="vicissitude",
        survey_number=number,
        kind="dissimilarity",
        domain="nonnegative",
        latex=rf"\{op}\left(\sum_i \frac{{(P_i - Q_i)^2}}{{P_i}}, \sum_i \frac{{(P_i - Q_i)^2}}{{Q_i}}\right)",
        strict=Rule(_CHI_SUMS, f"{op}(a, b)"),
        epsilon=Rule(_CHI_SUMS_EPS, f"{op}(a, b)"),
        properties=Properties(
            symmetric=always("the max/min of Neyman and Pearson, which swap under P <-> Q"),
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            **not_metric(SPREAD_WHY, *SPREAD),
        ),
        bounds=Bounds("0", "inf"),
        aliases=(Alias(f"emanon{number - 45}"),),
        relations=(Relation(f"{op}(pearson(P, Q), neyman(P, Q))"),),
        zeros="as Pearson and Neyman: inf where the divided-by element is 0 and the other is not",
    )


MEASURES = [
    _vicis(
        "vicis_wave_hedges",
        "Vicis-Wave Hedges",
        46,
        r"\sum_i \frac{|P_i - Q_i|}{\min(P_i, Q_i)}",
        "abs(x - y)",
        "min(x, y)",
        SPREAD,
        SPREAD_WHY,
    ),
    _vicis(
        "vicis_symmetric_chi_square_1",
        "Vicis-Symmetric chi-squared 1",
        47,
        r"\sum_i \frac{(P_i - Q_i)^2}{\min(P_i, Q_i)^2}",
        _SQ,
        "min(x, y)**2",
        SPREAD,
        SPREAD_WHY,
        strict="div0(x - y, min(x, y))**2",
    ),
    _vicis(
        "vicis_symmetric_chi_square_2",
        "Vicis-Symmetric chi-squared 2",
        48,
        r"\sum_i \frac{(P_i - Q_i)^2}{\min(P_i, Q_i)}",
        _SQ,
        "min(x, y)",
        SPREAD,
        SPREAD_WHY,
        strict="div0(x - y, min(x, y)) * (x - y)",
    ),
    _vicis(
        "vicis_symmetric_chi_square_3",
        "Vicis-Symmetric chi-squared 3",
        49,
        r"\sum_i \frac{(P_i - Q_i)^2}{\max(P_i, Q_i)}",
        _SQ,
        "max(x, y)",
        ((0.0, 0.0, 1.0), (0.0, 0.5, 0.5), (0.0, 1.0, 0.0)),
        "P = (0, 0, 1), Q = (0, 1/2, 1/2), R = (0, 1, 0): 2 > 3/4 + 3/4",
        high="2",
        zeros="a coordinate with P_i = Q_i = 0 contributes 0",
        strict="div0(x - y, max(x, y)) * (x - y)",
    ),
    _max_min("max_symmetric_chi_square", "max-Symmetric chi-squared", 50, "max"),
    _max_min("min_symmetric_chi_square", "min-Symmetric chi-squared", 51, "min"),
]
