"""Parametric divergences used as losses (extras, not rows of Cha's survey).

Each measure is one declarative definition. Limits at special parameter values (Renyi at
alpha = 1 is KL, ...) are taken exactly with ``where`` on the parameter, so the value at
the special point is the limit itself, never NaN, and values next to it are continuous.
"""

from __future__ import annotations

from ..spec import (
    Alias,
    Bounds,
    Claim,
    Measure,
    Param,
    Properties,
    Relation,
    Rule,
    always,
    never,
    on_pdf,
    sum_,
)
from ._claims import (
    NONNEG_TERMS,
    ONEHOT_P,
    SPREAD,
    SPREAD_WHY,
    TERMWISE_SYMMETRIC,
    TRIPLE,
    ZERO_AT_EQUAL,
)

_KL_TRIANGLE = "P = (1, 0), Q = (1/2, 1/2), R = (0, 1) break it (as for KL)"


def _by_ratio(below: str, above: str, near: str) -> str:
    """``below`` where x < y / 2, ``above`` where x > 2 y, ``near`` between: the parametric
    terms' forms near x = y (powm1 of the relative difference, no cancellation of O(1)
    quantities) and away from it (where 1 + r would lose x's digits, below, or r = (x - y) / y
    overflow while the powers do not, above)."""
    return f"where(x < y / 2, {below}, where(x > 2 * y, {above}, {near}))"


def _power_gap(a: str) -> str:
    """The term x^a y^(1 - a) - y - a (x - y) of Renyi and Tsallis (small near x = y, so
    their sums need no cancellation against sum P or sum Q), with its limits at zeros:
    y * (powm1(r, a) - a r) for r = (x - y) / y where y / 2 <= x <= 2 y, the plain power
    outside (below, 1 + r would lose x's digits; above, powm1 of a huge r can overflow where
    x (y / x)^(1 - a) does not); a = 1 is the limit of the term over (a - 1), kl_elem(x, y)."""
    return (
        f"where({a} == 1, kl_elem(x, y), where(y == 0, where(x == 0, 0, where({a} < 1, "
        f"-{a} * x, inf)), "
        + _by_ratio(
            f"y * (div0(x, y) ** {a} - 1) - {a} * (x - y)",
            f"x * div0(y, x) ** (1 - {a}) - y - {a} * (x - y)",
            f"y * (powm1(div0(x - y, y), {a}) - {a} * div0(x - y, y))",
        )
        + "))"
    )



def _power_m1(a: str) -> str:
    """(x / y)^a - 1 for x, y > 0: powm1 of the relative difference where x >= y / 2, else
    expm1(a log(x / y)) (where 1 + (x - y) / y would lose x's digits)."""
    return f"where(x < y / 2, expm1({a} * log(div0(x, y))), powm1(div0(x - y, y), {a}))"


#: Amari's term (1 - a)/2 x + (1 + a)/2 y - x^((1 - a)/2) y^((1 + a)/2) as written
_AMARI_TEXTBOOK = (
    "(1 - alpha) / 2 * x + (1 + alpha) / 2 * y - x ** ((1 - alpha) / 2) * y ** ((1 + alpha) / 2)"
)


def _alpha_beta_term() -> str:
    """The term of the AB-divergence with its limits (Cichocki, Cruces & Amari 2011: the
    definition and its limit cases): exactly one zero gives the limit y^s / (alpha s) (x = 0,
    alpha and s = alpha + beta positive) or x^s / (beta s) (y = 0, beta and s positive), else
    inf. Every division by a parameter expression is guarded where it is 0 (a where
    evaluates both branches on arrays, and a derivative multiplies each by its indicator)."""
    s = "(alpha + beta)"
    a0, b0, s0 = "where(alpha == 0, 1, alpha)", "where(beta == 0, 1, beta)", f"where({s} == 0, 1, {s})"
    # y^s ((x / y)^alpha - 1 - alpha / s ((x / y)^s - 1)), small near x = y without
    # cancellation of O(1) quantities: each power of the ratio minus 1 from the relative
    # difference (powm1), or from the log ratio below y / 2 (_power_m1, where 1 + r would
    # lose x's digits). Where a power of the ratio (its exponents are at most
    # 1 + |alpha| + |beta| in size) times 1 / y (in the derivatives) could leave float64's
    # range, the textbook form alpha / s x^s + beta / s y^s - x^alpha y^beta, whose powers
    # do not overflow where the ratio's do. Such coordinates are rare (a ratio beyond e^350
    # at the defaults, or y below 1e-304), so the fused loss sweeps leave them to their pass
    # over the edges (rare)
    textbook = f"(alpha / {s0} * x ** {s} + beta / {s0} * y ** {s} - x ** alpha * y ** beta)"
    near = (
        f"-(y ** {s}) / ({a0} * {b0}) * ({_power_m1('alpha')} - alpha / {s0} * "
        f"{_power_m1(s)})"
    )
    extreme = "rare((1 + abs(alpha) + abs(beta)) * abs(log(div0(x, y))) + abs(log(y)) > 700)"
    general = f"where({extreme}, {textbook} / ({a0} * {b0}), {near})"
    positive = (
        "where(alpha == 0, where(beta == 0, log(div0(x, y)) ** 2 / 2, "
        f"kl_elem(y ** beta, x ** beta) / {b0} ** 2), "
        f"where(beta == 0, kl_elem(x ** alpha, y ** alpha) / {a0} ** 2, "
        f"where({s} == 0, -log1pmx({_power_m1('alpha')}) / {a0} ** 2, {general})))"
    )
    at_x0 = f"where(alpha > 0, where({s} > 0, y ** {s} / ({a0} * {s0}), inf), inf)"
    at_y0 = f"where(beta > 0, where({s} > 0, x ** {s} / ({b0} * {s0}), inf), inf)"
    return f"where(x == 0, where(y == 0, 0, {at_x0}), where(y == 0, {at_y0}, {positive}))"


MEASURES: list[Measure] = [
    Measure(
        name="total_variation",
        title="Total variation distance",
        family="parametric",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\frac{1}{2} \sum_i |P_i - Q_i|",
        strict=Rule({"s": sum_("abs(x - y)")}, "s / 2"),
        properties=Properties(
            symmetric=TERMWISE_SYMMETRIC,
            nonnegative=NONNEG_TERMS,
            identity=ZERO_AT_EQUAL,
            triangle=always("half the L1 norm of P - Q: |a - c| <= |a - b| + |b - c|"),
            metric=always("half the L1 distance, a norm distance"),
        ),
        bounds=Bounds("0", "1"),
        aliases=(Alias("tv"), Alias("tvd")),
        relations=(
            Relation("manhattan(P, Q) / 2"),
            Relation("non_intersection(P, Q)", holds="pdf"),
        ),
        notes="1/2 sum |P_i - Q_i| on any non-negative input: equal to non_intersection "
        "(1 - sum min(P_i, Q_i)) on probability vectors only, so not an alias of it. On "
        "pdfs it is sup_A |P(A) - Q(A)|.",
        references=(
            "Tsybakov 2009, Introduction to Nonparametric Estimation, Def. 2.4 "
            "(V(P, Q) = 1/2 sum |p - q|)",
        ),
    ),
    Measure(
        name="skew_kl",
        title="Skew Kullback-Leibler divergence",
        family="parametric",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\sum_i P_i \ln \frac{P_i}{\alpha P_i + (1 - \alpha) Q_i}",
        # KL(P || M) = sum kl_elem(x, m) + sum (x - m), x - m = (1 - alpha)(x - y): both
        # sums without cancellation near P = Q
        strict=Rule(
            {
                "k": sum_("kl_elem(x, alpha * x + (1 - alpha) * y)"),
                "s": sum_("x - y"),
            },
            "k + (1 - alpha) * s",
        ),
        params=(
            Param(
                "alpha",
                0.1,
                "skew: weight of P in the mixture alpha P + (1 - alpha) Q",
                low=0.0,
                low_inclusive=True,
                high=1.0,
                high_inclusive=True,
                test_values=(0.0, 0.5, 0.9),
            ),
        ),
        properties=Properties(
            symmetric=never(
                "P = (1, 0), Q = (1/2, 1/2) give ln(1 / 0.55) = 0.60 one way and 0.83 the "
                "other (alpha = 0.1)",
                ONEHOT_P,
                (0.5, 0.5),
            ),
            nonnegative=on_pdf(
                "Gibbs' inequality on pdfs (M is a pdf); off the simplex P = (0.1, 0.1), "
                "Q = (1, 1) give sum P ln(P / M) < 0",
                (0.1, 0.1),
                (1.0, 1.0),
            ),
            identity=always("M = P when Q = P, so every term is P ln 1 = 0"),
            triangle=never(_KL_TRIANGLE + " for alpha < 1 (alpha = 1 is identically 0)", *TRIPLE),
            metric=never("not symmetric and the triangle inequality fails", *TRIPLE),
        ),
        # P_i / M_i <= 1 / alpha, so the value is at most ln(1 / alpha), reached by
        # disjoint supports
        bounds=Bounds("0", "where(alpha > 0, -log(alpha), inf)"),
        aliases=(Alias("skew_kullback_leibler"),),
        relations=(
            Relation("kullback_leibler(P, Q)", params={"alpha": 0.0}),
            Relation("2 * jensen_shannon(P, Q) - skew_kl(Q, P, alpha=0.5)", params={"alpha": 0.5}),
        ),
        notes="KL(P || alpha P + (1 - alpha) Q), the skew KL of DistiLLM (Ko et al. 2024), "
        "finite whenever alpha > 0. alpha = 0 is KL(P || Q), alpha = 1 is 0. The skew reverse "
        "KL of DistiLLM, KL(Q || alpha Q + (1 - alpha) P), is this measure with its arguments "
        "swapped: skew_kl(Q, P, alpha=alpha). Off the simplex the (1 - alpha) sum (P - Q) "
        "term keeps the textbook sum P ln(P / M).",
        references=(
            "Ko, Kim, Chen, Yun 2024, DistiLLM: Towards Streamlined Distillation for Large "
            "Language Models, ICML (skew KL and skew reverse KL, eq. 3-4)",
            "Lee 1999, Measures of distributional similarity, ACL (the alpha-skew divergence)",
        ),
    ),
    Measure(
        name="generalized_jsd",
        title="Generalized Jensen-Shannon divergence (GKD)",
        family="parametric",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\beta\, \mathrm{KL}(P \| M) + (1 - \beta)\, \mathrm{KL}(Q \| M),\ "
        r"M = \beta P + (1 - \beta) Q",
        # beta x + (1 - beta) y - m = 0, so the sum of kl_elem terms is the whole value;
        # at beta = 0 or 1 the value is 0 (the 0 * inf of a term is not taken)
        strict=Rule(
            {
                "s": sum_(
                    "beta * kl_elem(x, beta * x + (1 - beta) * y)"
                    " + (1 - beta) * kl_elem(y, beta * x + (1 - beta) * y)"
                )
            },
            "where(beta * (1 - beta) == 0, 0, s)",
        ),
        params=(
            Param(
                "beta",
                0.5,
                "weight of P (in the mixture and on KL(P || M))",
                low=0.0,
                low_inclusive=True,
                high=1.0,
                high_inclusive=True,
                test_values=(0.1, 0.9),
            ),
        ),
        properties=Properties(
            symmetric=always(
                "swapping P and Q maps beta to 1 - beta, so symmetric at beta = 1/2 (the "
                "Jensen-Shannon divergence); P = (1, 0), Q = (1/2, 1/2) break it at 0.1",
                ONEHOT_P,
                (0.5, 0.5),
                condition="beta == 0.5",
                beta=0.1,
            ),
            nonnegative=always("a weighted sum of generalised KL terms kl_elem >= 0"),
            identity=always("M = P = Q makes every term 0"),
            triangle=never("at beta = 1/2 it is JS: " + _KL_TRIANGLE, *TRIPLE),
            metric=never("the triangle inequality fails", *TRIPLE),
        ),
        # disjoint supports give the binary entropy of beta (nats), the maximum on pdfs
        bounds=Bounds(
            "0", "where(beta * (1 - beta) > 0, -beta * log(beta) - (1 - beta) * log(1 - beta), 0)"
        ),
        aliases=(Alias("gjsd"), Alias("gkd_jsd")),
        relations=(Relation("jensen_shannon(P, Q)", params={"beta": 0.5}),),
        notes="JSD_beta(P, Q) = beta KL(P || M) + (1 - beta) KL(Q || M) with "
        "M = beta P + (1 - beta) Q, in nats, as in GKD (Agarwal et al. 2024, eq. 2). "
        "beta = 1/2 is the Jensen-Shannon divergence; beta = 0 and beta = 1 give 0, and near "
        "them the value vanishes linearly: JSD_beta / beta -> KL(P || Q) as beta -> 0 and "
        "JSD_beta / (1 - beta) -> KL(Q || P) as beta -> 1. "
        "Porting a recipe (P = teacher, Q = student): TRL's GKDTrainer since March 2025 "
        "(huggingface/trl PR #3043) computes, for 0 < beta < 1, beta KL(T || M) + "
        "(1 - beta) KL(S || M) with M = beta T + (1 - beta) S: generalized_jsd(T, S, "
        "beta=beta); at its endpoints it switches to plain KL, beta = 0: KL(T || S) = "
        "kullback_leibler(T, S), beta = 1: KL(S || T) = kullback_leibler(S, T), where this "
        "measure gives 0. Before that PR TRL mixed M = beta S + (1 - beta) T, i.e. "
        "generalized_jsd(S, T, beta=beta) for the old mixture. Liger-Kernel's JSD loss "
        "(PR #290, 2024; beta fixed to be used as documented in PR #609, March 2025) takes "
        "log Q = student input and log P = teacher target with M = beta P + (1 - beta) Q: "
        "again generalized_jsd(T, S, beta=beta) for 0 < beta < 1, with KL(T || S) at "
        "beta = 0 and KL(S || T) at beta = 1 by its endpoint convention.",
        references=(
            "Agarwal, Vieillard, Zhou, Stanczyk, Ramos, Geist, Bachem 2024, On-Policy "
            "Distillation of Language Models: Learning from Self-Generated Mistakes, ICLR",
            "Huszar 2015, How (not) to train your generative model, arXiv:1511.05101 "
            "(eq. 14-17: the scaled limits)",
            "huggingface/trl PR #3043 (2025-03), linkedin/Liger-Kernel PR #290 and #609",
        ),
    ),
    Measure(
        name="cressie_read",
        title="Cressie-Read power divergence",
        family="parametric",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\frac{2}{\lambda (\lambda + 1)} \sum_i P_i \Big[\Big(\frac{P_i}{Q_i}"
        r"\Big)^\lambda - 1\Big]",
        # P ((P/Q)^lambda - 1) = P powm1((P - Q) / Q, lambda): small terms near P = Q (the
        # plain power where P < Q / 2, where 1 + (P - Q) / Q would lose P's digits, and
        # (Q / P)^-lambda where P > 2 Q, where (P - Q) / Q overflows for Q below 1e-308 P).
        # lambda = 0 and -1 are the limits 2 sum P ln(P/Q) and 2 sum Q ln(Q/P) (as
        # scipy.stats.power_divergence), written as kl_elem plus the difference of the sums
        strict=Rule(
            {
                "s": sum_(
                    "where(lambda_ == 0, kl_elem(x, y) + (x - y), "
                    "where(lambda_ == -1, kl_elem(y, x) + (y - x), "
                    "where(x == 0, where(lambda_ < -1, where(y > 0, inf, 0), 0), "
                    + _by_ratio(
                        "x * (div0(x, y) ** lambda_ - 1)",
                        "x * (div0(y, x) ** (-lambda_) - 1)",
                        "x * powm1(div0(x - y, y), lambda_)",
                    )
                    + ")))"
                )
            },
            "2 * s / where(lambda_ * (lambda_ + 1) == 0, 1, lambda_ * (lambda_ + 1))",
        ),
        params=(
            Param(
                "lambda_",
                2 / 3,
                "power (scipy.stats.power_divergence's lambda_, names accepted)",
                special=(0.0, -1.0),
                test_values=(1.0, -0.5, -2.0),
                named=(
                    ("pearson", 1.0),
                    ("log-likelihood", 0.0),
                    ("freeman-tukey", -0.5),
                    ("mod-log-likelihood", -1.0),
                    ("neyman", -2.0),
                    ("cressie-read", 2 / 3),
                ),
            ),
        ),
        properties=Properties(
            symmetric=Claim(
                "pdf",
                "at lambda = -1/2 it is 8 sum (P - sqrt(PQ)) = 4 sum (sqrt P - sqrt Q)^2 on "
                "pdfs (Freeman-Tukey); off the simplex P = (1, 1), Q = (1/2, 1/2) break it; "
                "at other lambda it is not symmetric",
                ((1.0, 1.0), (0.5, 0.5)),
                {"lambda_": -0.5},
                "lambda_ == -0.5",
            ),
            nonnegative=on_pdf(
                "an f-divergence with convex f: Jensen gives sum Q f(P/Q) >= f(sum P / sum Q) "
                "= 0 when the sums are equal; P = (0.1, 0.1), Q = (1, 1) give a negative value",
                (0.1, 0.1),
                (1.0, 1.0),
            ),
            identity=always("every term is P (1 - 1) = 0 when P = Q"),
            triangle=never(SPREAD_WHY + " (lambda = 2/3)", *SPREAD),
            metric=never("the triangle inequality fails: " + SPREAD_WHY, *SPREAD),
        ),
        # an f-divergence: its maximum on pdfs (disjoint supports) is f(0) + f'(inf), finite
        # only for -1 < lambda < 0
        bounds=Bounds(
            "0",
            "where(lambda_ > -1, where(lambda_ < 0, -2 / (lambda_ * (lambda_ + 1)), inf), inf)",
        ),
        aliases=(Alias("power_divergence"),),
        relations=(
            Relation("pearson(P, Q)", holds="pdf", params={"lambda_": 1.0}),
            Relation("2 * kullback_leibler(P, Q)", params={"lambda_": 0.0}),
            Relation("2 * kullback_leibler(Q, P)", params={"lambda_": -1.0}),
            Relation("4 * squared_chord(P, Q)", holds="pdf", params={"lambda_": -0.5}),
            Relation("neyman(P, Q)", holds="pdf", params={"lambda_": -2.0}),
        ),
        notes="The power divergence of Cressie & Read (1984), the statistic of "
        "scipy.stats.power_divergence(f_obs=P, f_exp=Q, lambda_=...) with the same named "
        "lambdas: pearson (1), log-likelihood (0, the G-test), freeman-tukey (-1/2), "
        "mod-log-likelihood (-1), neyman (-2), cressie-read (2/3, the default). "
        "lambda = 0 is 2 sum P ln(P / Q), which is 2 KL(P || Q); lambda = -1 is "
        "2 sum Q ln(Q / P) = 2 KL(Q || P) (scipy's values there). lambda -> 0 is continuous "
        "on any input; lambda -> -1 only on inputs with equal sums: when sum P != sum Q the "
        "formula grows like 2 (sum Q - sum P) / (lambda + 1) near -1, so the value at -1 is "
        "the equal-sums limit, not a limit of nearby values.",
        references=(
            "Cressie & Read 1984, Multinomial goodness-of-fit tests, JRSS B 46(3), eq. 2.3",
            "scipy.stats.power_divergence (the lambda_ names)",
        ),
    ),
    Measure(
        name="amari_alpha",
        title="Amari alpha-divergence",
        family="parametric",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\frac{4}{1 - \alpha^2} \sum_i \Big(\frac{1 - \alpha}{2} P_i + \frac{1 + "
        r"\alpha}{2} Q_i - P_i^{(1 - \alpha)/2} Q_i^{(1 + \alpha)/2}\Big)",
        # with c = (1 - alpha)/2 and r = (P - Q)/Q each term is Q (c r - powm1(r, c)) where
        # Q / 2 <= P <= 2 Q: no cancellation of O(1) quantities near P = Q; the textbook
        # term outside (below, 1 + r would lose P's digits; above, r overflows where Q is
        # below 1e-308 P, while the powers do not); alpha = -1 and 1 are the generalised
        # KL divergences sum kl_elem (the limits)
        strict=Rule(
            {
                "s": sum_(
                    "where(alpha == -1, kl_elem(x, y), where(alpha == 1, kl_elem(y, x), "
                    "where(y == 0, where(alpha > -1, (1 - alpha) / 2 * x, "
                    "where(x == 0, 0, -inf)), "
                    + _by_ratio(
                        _AMARI_TEXTBOOK,
                        _AMARI_TEXTBOOK,
                        "y * ((1 - alpha) / 2 * div0(x - y, y) "
                        "- powm1(div0(x - y, y), (1 - alpha) / 2))",
                    )
                    + ")))"
                )
            },
            "4 * s / where(alpha * alpha == 1, 4, 1 - alpha * alpha)",
        ),
        params=(
            Param(
                "alpha",
                0.0,
                "order (-1: KL(P || Q), 0: twice squared chord, 1: KL(Q || P))",
                special=(-1.0, 1.0),
                test_values=(0.5, -0.5, 2.0, -3.0),
            ),
        ),
        properties=Properties(
            symmetric=always(
                "D_alpha(P, Q) = D_-alpha(Q, P), so symmetric at alpha = 0 (2 sum (sqrt P - "
                "sqrt Q)^2); P = (1, 0), Q = (1/2, 1/2) break it at alpha = 1/2",
                ONEHOT_P,
                (0.5, 0.5),
                condition="alpha == 0",
                alpha=0.5,
            ),
            nonnegative=always(
                "each term is >= 0: weighted AM-GM for |alpha| < 1, its reverse (Bernoulli) "
                "with a negative factor 4 / (1 - alpha^2) for |alpha| > 1, generalised KL at "
                "alpha = +-1 (Amari & Nagaoka 2000, sec. 3.6)"
            ),
            identity=always("every term vanishes when P_i = Q_i"),
            triangle=never("at alpha = 0 it is 2 squared chord: " + _KL_TRIANGLE, *TRIPLE),
            metric=never("the triangle inequality fails", *TRIPLE),
        ),
        # disjoint supports: sum ((1 - alpha)/2 P + (1 + alpha)/2 Q) = 1
        bounds=Bounds("0", "where(abs(alpha) < 1, 4 / (1 - alpha**2), inf)"),
        aliases=(Alias("alpha_divergence"), Alias("amari")),
        relations=(
            Relation("2 * squared_chord(P, Q)", params={"alpha": 0.0}),
            Relation("kullback_leibler(P, Q)", holds="pdf", params={"alpha": -1.0}),
            Relation("kullback_leibler(Q, P)", holds="pdf", params={"alpha": 1.0}),
            Relation("amari_alpha(Q, P, alpha=-0.5)", params={"alpha": 0.5}),
        ),
        notes="Amari's alpha-divergence in the convention of Amari & Nagaoka (2000): "
        "alpha -> -1 gives the generalised KL sum (P ln(P/Q) - P + Q) = KL(P || Q) on pdfs, "
        "alpha -> 1 gives KL(Q || P), alpha = 0 is 4 (1 - sum sqrt(PQ)) on pdfs = twice the "
        "squared chord (Hellinger-type). Bounded by 4 / (1 - alpha^2) on pdfs for "
        "|alpha| < 1, unbounded otherwise. Computed from relative differences (powm1), "
        "accurate near P = Q.",
        references=(
            "Amari & Nagaoka 2000, Methods of Information Geometry, AMS, sec. 3.6 (eq. 3.80)",
            "Cichocki & Amari 2010, Families of Alpha- Beta- and Gamma-Divergences, Entropy "
            "12(6), eq. 5",
        ),
    ),
    Measure(
        name="renyi",
        title="Renyi divergence",
        family="parametric",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\frac{1}{\alpha - 1} \ln \frac{\sum_i P_i^\alpha Q_i^{1 - \alpha}}{\sum_i P_i}",
        # sum P^a Q^(1 - a) = m + k + (a - 1) s, with k the sum of _power_gap terms and
        # s = sum (P - Q) (exact differences near P = Q): near P = Q the value is
        # log1p((k + (a - 1) s) / m) / (a - 1), with no cancellation against sum P - 1 or
        # sum Q - 1. That form is used where t = sum P^a Q^(1 - a) and sum Q are within half
        # of m (then every sum in it is O(m), so it is as accurate as log(t / m) there, and
        # far better near P = Q); elsewhere (far apart, disjoint supports) the value is
        # log(t / m) of the direct sum (the gap form would round a tiny t away). a = 1 is the
        # limit (k + s) / m = sum P ln(P / Q) / sum P on any input. (Both branches of a
        # where are evaluated on scalars and arrays: log1p's argument stays in its domain.)
        strict=Rule(
            {
                "k": sum_(_power_gap("alpha")),
                "s": sum_("x - y"),
                "m": sum_("x"),
                "t": sum_(
                    "where(x == 0, 0, where(x > y, x * div0(y, x) ** (1 - alpha), "
                    "x * div0(x, y) ** (alpha - 1)))"
                ),
            },
            "where(m == 0, where(s == 0, 0, nan), where(alpha == 1, (k + s) / m, "
            "where(abs(t - m) < m / 2, where(abs(s) < m / 2, log1p(where(abs(k + (alpha - 1) "
            "* s) < m / 2, k + (alpha - 1) * s, 0) / m), log(t / m)), log(t / m)) / "
            "where(alpha == 1, 1, alpha - 1)))",
        ),
        params=(
            Param(
                "alpha",
                0.5,
                "order (1: Kullback-Leibler, 1/2: twice Bhattacharyya, 2: ln(1 + Pearson))",
                low=0.0,
                special=(1.0,),
                test_values=(0.1, 2.0, 3.0),
            ),
        ),
        properties=Properties(
            symmetric=Claim(
                "pdf",
                "at alpha = 1/2 it is -2 ln sum sqrt(PQ) on pdfs (twice Bhattacharyya); off "
                "the simplex the division by sum P breaks it: P = (1, 1), Q = (1/2, 1/2) give "
                "ln 2 one way and -ln 2 the other; at other alpha it is not symmetric",
                ((1.0, 1.0), (0.5, 0.5)),
                {"alpha": 0.5},
                "alpha == 0.5",
            ),
            nonnegative=on_pdf(
                "Jensen's inequality on pdfs (van Erven & Harremoes 2014, Thm. 8); off the "
                "simplex P = (0.1, 0.1), Q = (1, 1) give a negative value",
                (0.1, 0.1),
                (1.0, 1.0),
            ),
            identity=always("sum P^alpha P^(1 - alpha) = sum P, and ln 1 = 0"),
            triangle=never(_KL_TRIANGLE + " (alpha = 1/2: ln 2 + ln 2 < inf)", *TRIPLE),
            metric=never("not symmetric and the triangle inequality fails", *TRIPLE),
        ),
        # disjoint supports give inf at every order
        bounds=Bounds("0", "inf"),
        aliases=(Alias("renyi_divergence"),),
        relations=(
            Relation("kullback_leibler(P, Q)", holds="pdf", params={"alpha": 1.0}),
            Relation("2 * bhattacharyya(P, Q)", holds="pdf", params={"alpha": 0.5}),
            Relation("log(1 + pearson(P, Q))", holds="pdf", params={"alpha": 2.0}),
        ),
        zeros="0^alpha 0^(1 - alpha) terms vanish; Q_i = 0 < P_i gives inf for alpha >= 1 "
        "(and disjoint supports inf at every order); P all zero: nan (P has no mass, "
        "ln(0 / 0)), unless Q is all zero too (equal rows: 0)",
        notes="D_alpha(P || Q) = 1/(alpha - 1) ln sum P^alpha Q^(1 - alpha), in nats, on "
        "probability vectors (van Erven & Harremoes 2014); off the simplex the sum is divided "
        "by sum P, Renyi's own definition for incomplete (generalised) distributions (1961), "
        "so that alpha -> 1 is continuous on any input, with limit sum P ln(P/Q) / sum P "
        "(Kullback-Leibler on pdfs). alpha = 1/2 is twice Bhattacharyya, alpha = 2 is "
        "ln(1 + Pearson chi^2). Computed from relative differences (powm1) and sum (P - Q), "
        "accurate near P = Q.",
        references=(
            "Renyi 1961, On measures of entropy and information, Proc. 4th Berkeley Symp. "
            "1, 547-561 (the information gain of order alpha of generalised distributions)",
            "van Erven & Harremoes 2014, Renyi divergence and Kullback-Leibler divergence, "
            "IEEE Trans. Inf. Theory 60(7), 3797-3820",
        ),
    ),
    Measure(
        name="tsallis",
        title="Tsallis relative entropy",
        family="parametric",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"\frac{\sum_i P_i^q Q_i^{1 - q} - \sum_i P_i}{q - 1}",
        # sum P^q Q^(1 - q) - sum P = k + (q - 1) s with k the sum of _power_gap terms and
        # s = sum (P - Q) (exact differences near P = Q), so the value is k / (q - 1) + s:
        # no cancellation against sum P - 1 or sum Q - 1 near P = Q; q = 1 is the limit
        # k + s = sum P ln(P / Q) on any input
        strict=Rule(
            {"k": sum_(_power_gap("q")), "s": sum_("x - y")},
            "where(q == 1, k + s, k / where(q == 1, 1, q - 1) + s)",
        ),
        params=(
            Param(
                "q",
                2.0,
                "entropic index (1: Kullback-Leibler, 2: Pearson chi^2, 1/2: squared chord)",
                low=0.0,
                special=(1.0,),
                test_values=(0.5, 0.1, 3.0),
            ),
        ),
        properties=Properties(
            symmetric=Claim(
                "pdf",
                "at q = 1/2 it is 2 (sum P - sum sqrt(PQ)) = sum (sqrt P - sqrt Q)^2 on pdfs "
                "(squared chord); off the simplex P = (1, 1), Q = (1/2, 1/2) break it; at "
                "other q it is not symmetric",
                ((1.0, 1.0), (0.5, 0.5)),
                {"q": 0.5},
                "q == 0.5",
            ),
            nonnegative=on_pdf(
                "Jensen's inequality on pdfs (x^q convex for q > 1, concave for q < 1, the "
                "sign of 1 / (q - 1) matching); off the simplex P = (0.1, 0.1), Q = (1, 1) "
                "give a negative value",
                (0.1, 0.1),
                (1.0, 1.0),
            ),
            identity=always("sum P^q P^(1 - q) = sum P: the numerator is 0"),
            triangle=never(SPREAD_WHY + " (q = 2: it is Pearson's chi^2)", *SPREAD),
            metric=never("the triangle inequality fails: " + SPREAD_WHY, *SPREAD),
        ),
        # disjoint supports: sum P^q Q^(1 - q) = 0 for q < 1, so (0 - 1) / (q - 1)
        bounds=Bounds("0", "where(q < 1, 1 / (1 - q), inf)"),
        aliases=(Alias("tsallis_divergence"), Alias("tsallis_relative_entropy")),
        relations=(
            Relation("kullback_leibler(P, Q)", params={"q": 1.0}),
            Relation("pearson(P, Q)", holds="pdf", params={"q": 2.0}),
            Relation("squared_chord(P, Q)", holds="pdf", params={"q": 0.5}),
        ),
        zeros="0^q 0^(1 - q) terms vanish; Q_i = 0 < P_i gives inf for q >= 1; disjoint "
        "supports give 1 / (1 - q) on pdfs for q < 1",
        notes="D_q(P || Q) = (sum P^q Q^(1 - q) - 1) / (q - 1) on probability vectors "
        "(Tsallis 1998), in nats at q = 1; off the simplex sum P replaces 1, so that q -> 1 "
        "is continuous on any input, with limit sum P ln(P / Q) (the catalog's "
        "Kullback-Leibler; the unnormalised form would grow like (sum P - 1) / (q - 1)). "
        "q = 2 is Pearson's chi^2 and q = 1/2 the squared chord on pdfs; on pdfs it is "
        "(exp((q - 1) D^Renyi_q) - 1) / (q - 1). Computed from relative differences (powm1) "
        "and sum (P - Q), accurate near P = Q.",
        references=(
            "Tsallis 1998, Generalized entropy-based criterion for consistent testing, "
            "Phys. Rev. E 58(2), 1442-1445",
            "Borland, Plastino, Tsallis 1998, Information gain within nonextensive "
            "thermostatistics, J. Math. Phys. 39(12), 6490-6501",
        ),
    ),
    Measure(
        name="alpha_beta",
        title="Alpha-Beta divergence (AB-divergence)",
        family="parametric",
        survey_number=None,
        kind="dissimilarity",
        domain="nonnegative",
        latex=r"-\frac{1}{\alpha \beta} \sum_i \Big(P_i^\alpha Q_i^\beta - "
        r"\frac{\alpha}{\alpha + \beta} P_i^{\alpha + \beta} - \frac{\beta}{\alpha + \beta} "
        r"Q_i^{\alpha + \beta}\Big)",
        # with s = alpha + beta and (x / y)^a - 1 = powm1((x - y) / y, a), each term is
        # -y^s / (alpha beta) (powm1(r, alpha) - alpha / s powm1(r, s)): O(r^2) without
        # cancellation of O(1) quantities near P = Q; the limits alpha = 0, beta = 0,
        # alpha + beta = 0 and alpha = beta = 0 are the generalised KL of powers, the
        # log1pmx of a power ratio and half the squared log ratio (see _alpha_beta_term)
        strict=Rule({"s": sum_(_alpha_beta_term())}, "s"),
        params=(
            Param(
                "alpha",
                0.5,
                "exponent of P (with beta: 1/2, 1/2 is twice squared chord; 1, 1 half "
                "squared Euclidean; 1, 0 Kullback-Leibler)",
                special=(0.0, -0.5),
                test_values=(1.0, 2.0, -1.0),
            ),
            Param(
                "beta",
                0.5,
                "exponent of Q (alpha + beta = 0, alpha = 0, beta = 0: the limit cases)",
                special=(0.0, -0.5),
                test_values=(2.0, 3.0),
            ),
        ),
        properties=Properties(
            symmetric=always(
                "D_AB^(alpha, beta)(P, Q) = D_AB^(beta, alpha)(Q, P), so symmetric where "
                "alpha = beta (1 / (2 alpha^2) sum (P^alpha - Q^alpha)^2); P = (1, 0), "
                "Q = (1/2, 1/2) break it at alpha = 1, beta = 1/2",
                ONEHOT_P,
                (0.5, 0.5),
                condition="alpha == beta",
                alpha=1.0,
            ),
            nonnegative=always(
                "each term is >= 0 on non-negative inputs for every alpha, beta (weighted "
                "AM-GM (Young) or its reverse, the sign of 1 / (alpha beta) matching; "
                "Cichocki, Cruces & Amari 2011, sec. 2)"
            ),
            identity=always("every term vanishes when P_i = Q_i"),
            triangle=never("at alpha = beta = 1/2 it is 2 squared chord: " + _KL_TRIANGLE,
                           *TRIPLE),
            metric=never("the triangle inequality fails", *TRIPLE),
        ),
        # each term is at most P^s / (beta s) + Q^s / (alpha s) for alpha, beta > 0, and
        # sum P^s <= 1 (s >= 1) or d^(1 - s) (s < 1) on pdfs; reached by disjoint supports
        # for s >= 1. A zero against a non-zero is inf when alpha <= 0 or beta <= 0
        bounds=Bounds(
            "0",
            "where(alpha > 0, where(beta > 0, where(alpha + beta >= 1, 1 / (alpha * beta), "
            "d ** (1 - alpha - beta) / (alpha * beta)), inf), inf)",
        ),
        aliases=(Alias("ab_divergence"), Alias("alpha_beta_divergence")),
        relations=(
            Relation("2 * squared_chord(P, Q)"),
            Relation("squared_euclidean(P, Q) / 2", params={"alpha": 1.0, "beta": 1.0}),
            Relation("kullback_leibler(P, Q)", holds="pdf", params={"alpha": 1.0, "beta": 0.0}),
            Relation("kullback_leibler(Q, P)", holds="pdf", params={"alpha": 0.0, "beta": 1.0}),
            Relation("amari_alpha(P, Q, alpha=0.5)", params={"alpha": 0.25, "beta": 0.75}),
            Relation("alpha_beta(Q, P, alpha=1.0, beta=2.0)", params={"alpha": 2.0, "beta": 1.0}),
            Relation(
                "sum(log(p / q) ** 2 for p, q in zip(P, Q) if p + q > 0) / 2",
                params={"alpha": 0.0, "beta": 0.0},
            ),
        ),
        zeros="a coordinate with P_i = Q_i = 0 contributes 0; P_i = 0 < Q_i contributes "
        "Q_i^(alpha + beta) / (alpha (alpha + beta)) when alpha > 0 and alpha + beta > 0, "
        "else inf; Q_i = 0 < P_i contributes P_i^(alpha + beta) / (beta (alpha + beta)) when "
        "beta > 0 and alpha + beta > 0, else inf (the limits of the term)",
        notes="The AB-divergence of Cichocki, Cruces & Amari (2011) with its limit "
        "cases: beta = 0 is 1/alpha^2 sum (P^alpha ln(P^alpha / Q^alpha) - "
        "P^alpha + Q^alpha), alpha = 0 the same with P and Q swapped and beta for alpha, "
        "alpha = -beta is 1/alpha^2 sum (ln(Q^alpha / P^alpha) + P^alpha / Q^alpha - 1), and "
        "alpha = beta = 0 is 1/2 sum (ln P - ln Q)^2. alpha + beta = 1 is Amari's "
        "alpha-divergence (amari_alpha with its alpha = 1 - 2 alpha), alpha = 1, beta = 0 the "
        "generalised KL(P || Q), alpha = beta = 1/2 twice the squared chord (4 x squared "
        "Hellinger of the 1/2 convention), alpha = beta = 1 half the squared Euclidean "
        "distance, alpha = 1, beta = -1 the Itakura-Saito distance. Each limit is taken "
        "exactly at its parameter values and is continuous. Computed from relative "
        "differences (powm1), accurate near P = Q.",
        references=(
            "Cichocki, Cruces & Amari 2011, Generalized Alpha-Beta Divergences and Their "
            "Application to Robust Nonnegative Matrix Factorization, Entropy 13(1), 134-170",
        ),
    ),
]
