"""Names, aliases, lookups and queries of the registry, and the invariants definitions obey."""

from __future__ import annotations

import dataclasses

import pytest

import divergences as dv
from divergences import registry
from divergences.spec import FAMILIES, DefinitionError, Measure

MEASURES = dv.measures()


def test_all_51_survey_rows_resolve_by_number():
    numbers = {m.survey_number for m in MEASURES if m.survey_number is not None}
    assert numbers == set(range(1, 52))
    for n in range(1, 52):
        assert dv.get(str(n)).survey_number == n


def test_both_forms_share_a_number_and_differ_in_kind():
    for n in (11, 13, 14, 22, 23, 28):
        kinds = {m.kind for m in MEASURES if m.survey_number == n}
        assert kinds == {"similarity", "dissimilarity"}, n


def test_every_family_has_measures_and_counts_match_the_survey():
    counts = {
        f: len({m.survey_number for m in MEASURES if m.family == f and m.survey_number})
        for f in FAMILIES
    }
    counts = {f: c for f, c in counts.items() if c}  # families of extras have no survey rows
    assert counts == {
        "minkowski": 4,
        "l1": 6,
        "intersection": 7,
        "inner_product": 6,
        "fidelity": 5,
        "squared_l2": 8,
        "shannon": 6,
        "combinations": 3,
        "vicissitude": 6,
    }


def test_lookup_is_case_and_dash_insensitive_and_aliases_resolve():
    assert dv.get("KL") is dv.get("kullback_leibler") is dv.get("Kullback-Leibler")
    assert dv.get("manhattan") is dv.get("cityblock") is dv.get("taxicab") is dv.get("l1")
    assert dv.get("bray_curtis").name == "sorensen"
    assert dv.get("js").name == "jensen_shannon"
    assert dv.get("emanon4").name == "vicis_symmetric_chi_square_3"


def test_namespaced_aliases_carry_their_defaults():
    pk = dv.get("philentropy:kullback-leibler")
    assert isinstance(pk, dv.AliasedMeasure)
    assert pk.measure is dv.get("kl") and pk.defaults == {"zero": "epsilon"}
    # philentropy's epsilon rule: P_i ln(P_i / eps) where Q_i = 0
    assert pk([0.5, 0.5], [1.0, 0.0]) == pytest.approx(
        0.5 * __import__("math").log(0.5) + 0.5 * __import__("math").log(0.5 / 1e-5)
    )
    assert dv.get("kl")([0.5, 0.5], [1.0, 0.0]) == float("inf")
    sj = dv.get("scipy:jensenshannon")
    # scipy normalises, and takes negative entries (inf outside the non-negative domain)
    assert sj.defaults == {"normalize": True, "_domain": "real"}
    assert sj([1, 3], [3, 1]) == pytest.approx(
        dv.get("jensen_shannon_distance")([0.25, 0.75], [0.75, 0.25])
    )
    # an alias without defaults is the measure itself
    assert dv.get("scipy:euclidean") is dv.get("euclidean")


def test_unknown_name_suggests():
    with pytest.raises(dv.UnknownMeasureError, match=r"did you mean 'kullback_leibler'"):
        dv.get("kullback_leibller")
    with pytest.raises(dv.UnknownMeasureError, match="unknown measure 'zzzz'"):
        dv.get("zzzz")
    with pytest.raises(dv.UnknownMeasureError):
        dv.cdist([[1.0]], [[1.0]], "not_a_measure")


def test_names_are_unique_and_canonical_snake_case():
    names = [m.name for m in MEASURES]
    assert len(names) == len(set(names))
    keys = dv.names()
    assert len(keys) == len(set(keys))
    for m in MEASURES:
        assert m.name == m.name.lower() and " " not in m.name and "-" not in m.name


def test_alias_collision_is_an_error(monkeypatch):
    kl = dv.get("kl")
    clash = dataclasses.replace(dv.get("jeffreys"), aliases=(dv.spec.Alias("kl"),))
    import divergences.families.shannon as shannon

    monkeypatch.setattr(shannon, "MEASURES", [*shannon.MEASURES, clash])
    registry._catalog.cache_clear()
    try:
        with pytest.raises(DefinitionError, match="collides"):
            registry.measures()
    finally:
        monkeypatch.undo()
        registry._catalog.cache_clear()
    assert dv.get("kl") is not kl or dv.get("kl").name == "kullback_leibler"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strict": dv.spec.Rule({"s": dv.spec.sum_("frobnicate(x)")}, "s")}, "unknown function"),
        ({"strict": dv.spec.Rule({"s": dv.spec.sum_("x + z")}, "s")}, "unknown name 'z'"),
        ({"strict": dv.spec.Rule({"s": dv.spec.sum_("x.real")}, "s")}, "not allowed"),
        ({"strict": dv.spec.Rule({"s": dv.spec.sum_("x")}, "t")}, "unknown name 't'"),
        ({"family": "nonsense"}, "unknown family"),
        ({"survey_number": 52}, "1..51"),
        ({"name": "Bad-Name"}, "snake_case"),
        ({"kind": "metric"}, "kind"),
    ],
)
def test_definition_invariants(change, message):
    with pytest.raises(DefinitionError, match=message):
        dataclasses.replace(dv.get("manhattan"), **change)


def test_claims_need_counterexamples_and_similarities_are_not_metrics():
    m = dv.get("manhattan")
    no_cx = dataclasses.replace(m.properties, triangle=dv.spec.Claim("never", "because"))
    with pytest.raises(DefinitionError, match="counterexample"):
        dataclasses.replace(m, properties=no_cx)
    with pytest.raises(DefinitionError, match="not a metric"):
        dataclasses.replace(m, kind="similarity")


def test_select_filters():
    assert [m.name for m in dv.select(metric=True, family="fidelity", survey=True)] == [
        "hellinger",
        "matusita",
    ]
    # the survey's own rows (extras add their own metrics and asymmetric divergences)
    assert {m.name for m in dv.select(metric="pdf", survey=True)} == {
        "sorensen",
        "non_intersection",
        "czekanowski",
    }
    sims = dv.select(kind="similarity")
    assert sims and all(m.kind == "similarity" for m in sims)
    asym = {m.name for m in dv.select(symmetric=False, survey=True)}
    assert asym == {"pearson", "neyman", "kullback_leibler", "k_divergence"}
    assert all(not m.symmetric for m in dv.select(symmetric=False))
    assert all(m.domain == "real" for m in dv.select(domain="real"))
    extras = dv.select(survey=False)
    assert extras == [m for m in MEASURES if m.survey_number is None]
    assert {"cosine_distance", "jensen_shannon_distance"} <= {m.name for m in extras}
    assert len(dv.select(survey=True)) + len(extras) == len(MEASURES)
    assert "kullback_leibler" in {m.name for m in dv.select(bounded=False)}
    assert "jensen_shannon" in {m.name for m in dv.select(bounded=True)}
    assert dv.select(family="Shannon's entropy") == dv.select(family="shannon")
    with pytest.raises(ValueError, match="unknown family"):
        dv.select(family="nope")


def test_measure_records_expose_the_documented_fields():
    for m in MEASURES:
        assert isinstance(m, Measure)
        for attr in (
            "name",
            "alias_names",
            "survey_number",
            "family",
            "kind",
            "latex",
            "params",
            "domain",
            "properties",
            "relations",
            "bounds",
        ):
            assert hasattr(m, attr)
    assert [p.name for p in dv.get("minkowski").params] == ["p"]
    assert [p.name for p in dv.get("kl").params] == ["base"]


def test_names_users_type_resolve():
    """Issue 13, item 17: `bhattacharyya_distance` is Bhattacharyya; `hellinger_distance` is
    the statistics convention sqrt(1 - sum sqrt(PQ)) (by hand), half of Cha's Hellinger."""
    import numpy as np

    assert dv.get("bhattacharyya_distance") is dv.get("bhattacharyya")
    P, Q = np.array([0.2, 0.3, 0.5]), np.array([0.6, 0.1, 0.3])
    by_hand = np.sqrt(1.0 - np.sum(np.sqrt(P * Q)))
    assert dv.get("hellinger_distance")(P, Q) == pytest.approx(by_hand, rel=1e-12)
    assert dv.get("hellinger")(P, Q) == pytest.approx(2 * by_hand, rel=1e-12)
