"""Positive-definiteness claims and exact embeddings, shared by the family modules.

A positive-definiteness claim says that every Gram matrix ``K[i, j] = s(X[i], X[j])`` of a
similarity is positive semi-definite (a kernel for SVC, KernelPCA, ...); an embedding says
that the measure is a monotone function of an L2 distance or an inner product after a
per-row transform (an index such as faiss then finds its exact neighbours). Both are
checked by the tests on random data, and a ``never`` claim by its counterexample.
"""

from ..spec import Embedding, always, never

_SCHUR = (
    "; 1 / (a + b) = integral over t > 0 of exp(-t a) exp(-t b) dt is a positive definite "
    "kernel of positive numbers a, b, and a (Schur) product of positive definite kernels is one"
)

#: <P, Q>: the linear kernel, a Gram matrix of the rows
PD_LINEAR = always("the linear kernel: K = X X^T is a Gram matrix")
PD_COSINE = always("the linear kernel of the rows scaled to unit length")
PD_FIDELITY = always("the linear kernel of sqrt P: sum sqrt(P_i) sqrt(Q_i) = <sqrt P, sqrt Q>")
PD_INTERSECTION = always(
    "histogram intersection: min(a, b) = integral over t >= 0 of 1[t < a] 1[t < b] dt, an "
    "inner product of indicator functions (Barla, Odone & Verri 2003; Maji, Berg & Malik 2008)"
)
PD_INTERSECTION_OVER_TOTAL = always(
    "sum min(P, Q) / (sum P + sum Q): the intersection kernel times 1 / (a + b) of the row sums"
    + _SCHUR
)
PD_HARMONIC = always(
    "2 a b / (a + b) is the additive chi-squared kernel, positive definite on non-negative "
    "reals (Hein & Bousquet 2005; Vedaldi & Zisserman 2012): 2ab / (a + b) = 2ab integral of "
    "exp(-t a) exp(-t b) dt, a Schur product; a sum of such kernels over i is one"
)
PD_DICE = always(
    "2 <P, Q> / (|P|^2 + |Q|^2): the linear kernel times 1 / (a + b) of |P|^2" + _SCHUR
)
PD_RUZICKA = always(
    "sum min / sum max is the collision probability Pr[h(P) = h(Q)] of consistent weighted "
    "sampling (Ioffe 2010), the inner product E[sum_a 1[h(P) = a] 1[h(Q) = a]] of indicator "
    "features"
)
PD_NOT_2BC_MINUS_1 = never(
    "2 sum sqrt(P Q) - 1 subtracts the all-ones matrix: three one-hot rows give K = 2 I - J, "
    "whose eigenvalue on (1, 1, 1) is 2 - 3 = -1",
    (1.0, 0.0, 0.0),
    (0.0, 1.0, 0.0),
    (0.0, 0.0, 1.0),
)

_SQRT = "sum (sqrt P_i - sqrt Q_i)^2 = ||sqrt P - sqrt Q||^2"
_BC = "sum sqrt(P_i Q_i) = <sqrt P, sqrt Q>"
EMB_EUCLIDEAN = Embedding("identity", "l2", "r", "the measure is the L2 distance")
EMB_SQ_EUCLIDEAN = Embedding("identity", "l2", "r * r", "the square of the L2 distance")
EMB_HELLINGER = Embedding("sqrt", "l2", "sqrt(2) * r", "sqrt(2 h) with h = " + _SQRT)
EMB_MATUSITA = Embedding("sqrt", "l2", "r", "sqrt(h) with h = " + _SQRT)
EMB_SQ_CHORD = Embedding("sqrt", "l2", "r * r", _SQRT)
EMB_FIDELITY = Embedding("sqrt", "ip", "r", _BC)
EMB_BHATTACHARYYA = Embedding(
    "sqrt",
    "ip",
    "0 - log(r) / log(base)",
    "-log(bc) / log(base) with bc = " + _BC + ", decreasing in bc",
    back_epsilon="0 - log(nz(r, eps)) / log(base)",
)
EMB_SQ_CHORD_SIM = Embedding("sqrt", "ip", "2 * r - 1", "2 bc - 1 with bc = " + _BC)
EMB_INNER = Embedding("identity", "ip", "r", "the measure is the inner product")
EMB_COSINE = Embedding(
    "unit", "ip", "r", "<P, Q> / (|P| |Q|) = <P / |P|, Q / |Q|> (rows that are not all zero)"
)
EMB_COSINE_DISTANCE = Embedding(
    "unit", "ip", "1 - r", "1 - <P / |P|, Q / |Q|> (rows that are not all zero)", "1 - r"
)
