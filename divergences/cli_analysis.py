"""The ``analyze`` subcommand of ``divergences`` (and its ``--example``).

Kept apart from :mod:`divergences.cli` so that the main command stays small; only the
standard library is imported until a subcommand runs.
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def parse_params(specs: list[str] | None) -> dict[str, list[dict[str, float]]]:
    """``["minkowski:p=3", "minkowski:p=1", "renyi:alpha=0.5"]`` -> a params mapping.

    Several specs for one measure give several columns of it.
    """
    from .cli import CommandError

    out: dict[str, list[dict[str, float]]] = {}
    for spec in specs or []:
        name, sep, rest = spec.partition(":")
        if not sep or not rest:
            raise CommandError(f"--params {spec!r}: expected NAME:KEY=VALUE[,KEY=VALUE]")
        one: dict[str, Any] = {}
        for part in rest.split(","):
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise CommandError(f"--params {spec!r}: expected NAME:KEY=VALUE[,KEY=VALUE]")
            one[key.strip()] = value.strip()
        out.setdefault(name.strip(), []).append(one)
    return out


def _summary(name: str, a: Any) -> list[str]:
    out = [
        f"{name}: {len(a.labels)} measures on {a.values.shape[0]} pairs, "
        f"{len(a.groups)} groups at 1 - |Spearman| <= {a.threshold:g}"
    ]
    for g in a.groups:
        if len(g) > 1:
            out.append("  together: " + ", ".join(g))
    alone = [g[0] for g in a.groups if len(g) == 1]
    if alone:
        out.append("  alone: " + ", ".join(alone))
    for label, why in a.excluded.items():
        out.append(f"  excluded {label}: {why}")
    if a.dropped_pairs:
        which = ", ".join(
            f"{m} ({v['inf'] + v['nan']})" for m, v in a.nonfinite.items() if m not in a.excluded
        )
        out.append(f"  dropped {a.dropped_pairs} pairs with inf/NaN values of {which}")
    return out


def cmd_analyze(args: argparse.Namespace) -> int:
    """Run ``divergences analyze``."""
    from .analysis import analyze
    from .cli import CommandError, _read
    from .registry import get
    from .report import ReportError, write_report

    measures = None
    if args.measures:
        measures = [m.strip() for m in args.measures.split(",") if m.strip()]
        for m in measures:
            get(m)  # unknown names fail before any work
    params = parse_params(args.params)
    common = dict(
        measures=measures,
        pairs=args.pairs,
        params=params,
        k=args.k,
        seed=args.seed,
        threshold=args.threshold,
        zero=args.zero,
        normalize=args.normalize,
        progress=args.progress,
    )
    dest = args.output
    parent = os.path.dirname(os.path.abspath(dest))
    probe = parent
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK):
        raise CommandError(f"cannot write the report to {dest}: {probe} is not writable")
    if args.example:
        if args.data is not None:
            raise CommandError("analyze --example takes no data file")
        from .examples import DATASETS

        analyses, extra = {}, {}
        for name, (load, about) in DATASETS.items():
            analyses[name] = analyze(load(), **common)
            extra[name] = {"data": about}
    else:
        if args.data is None:
            raise CommandError("analyze needs a data file (.npy, .csv, .tsv) or --example")
        X = _read(args.data, args.skip_header)
        Q = None if args.queries is None else _read(args.queries, args.skip_header)
        analyses = {"": analyze(X, queries=Q, **common)}
        extra = {"data": os.path.basename(args.data)}
    try:
        written = write_report(analyses if args.example else analyses[""], dest, extra=extra)
    except (ReportError, OSError) as e:
        raise CommandError(str(e)) from None
    for name, a in analyses.items():
        print("\n".join(_summary(name or args.data, a)))
    print(f"wrote {dest}/: " + ", ".join(written))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Run ``divergences plot``."""
    from .atomic import replacing
    from .cli import CommandError, _write_error
    from .profiles import plot
    from .registry import resolve

    if (args.name is None) == (not args.all):
        raise CommandError("plot needs a measure NAME or --all (not both)")
    ext = os.path.splitext(args.output)[1].lower()
    if ext not in (".png", ".svg", ".pdf"):
        raise CommandError(f"{args.output}: plot writes .png, .svg or .pdf")
    params: dict[str, float] = {}
    if args.name is not None:
        m, _ = resolve(args.name)
        known = {p.name: p for p in m.params}
        for spec in args.param or []:
            key, eq, value = spec.partition("=")
            if not eq or key.strip() not in known:
                have = ", ".join(known) or "none"
                raise CommandError(
                    f"{m.name}: --param {spec!r} is not one of its parameters (it has: {have})"
                )
            params[key.strip()] = known[key.strip()].check(value, m.name)
    elif args.param:
        raise CommandError("--param needs a single measure NAME")

    def draw(path: str) -> None:
        plot(args.name, classes=args.classes, smoothing=args.smoothing, output=path, **params)

    try:
        with replacing(args.output) as tmp:
            draw(tmp)
    except OSError as e:
        raise CommandError(f"cannot write {args.output}: {_write_error(args.output, e)}") from None
    print(f"wrote {args.output}")
    return 0


QUICK = {"noise": "0,0.6", "losses": "ce,mae", "seeds": 1, "epochs": 8}


def cmd_experiment(args: argparse.Namespace) -> int:
    """Run ``divergences experiment noisy-labels``."""
    import json

    from .atomic import replacing
    from .cli import CommandError, _write_error
    from .experiments import DEFAULT_LOSSES, DEFAULT_NOISE, noisy_labels, plot_result, table

    def numbers(text: str) -> list[float]:
        try:
            return [float(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise CommandError(f"--noise {text!r}: expected numbers like 0,0.2,0.4") from None

    quick = QUICK if args.quick else {}
    noise = numbers(args.noise or quick.get("noise") or ",".join(map(str, DEFAULT_NOISE)))
    losses = [
        v.strip()
        for v in (args.losses or quick.get("losses") or ",".join(DEFAULT_LOSSES)).split(",")
        if v.strip()
    ]
    seeds = args.seeds if args.seeds is not None else quick.get("seeds", 3)
    epochs = args.epochs if args.epochs is not None else quick.get("epochs", 60)
    for path, exts in ((args.output, (".png", ".svg", ".pdf")), (args.json, (".json",))):
        if path is not None and os.path.splitext(path)[1].lower() not in exts:
            raise CommandError(f"{path}: expected a {' or '.join(exts)} file")
    result = noisy_labels(noise, losses, seeds, epochs=epochs, progress=args.progress)
    print(
        f"test accuracy (%), mean +- std over {seeds} seed(s), {epochs} epochs, "
        f"{result['seconds']} s"
    )
    print(table(result))
    for name, source in result["gradients"].items():
        print(f"  {name}: gradients from {source}")
    path = None
    try:
        if args.output is not None:
            path = args.output
            with replacing(path) as tmp:
                plot_result(result, tmp)
            print(f"wrote {path}")
        if args.json is not None:
            path = args.json
            with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
                json.dump(result, f, indent=1)
            print(f"wrote {path}")
    except OSError as e:
        raise CommandError(f"cannot write {path}: {_write_error(str(path), e)}") from None
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """Run ``divergences docs``: write or check docs/choosing.md."""
    import sys

    from . import choosing

    path = os.path.join(args.root, choosing.PAGE)
    if args.check:
        if choosing.check(args.root):
            print(f"{path} is up to date")
            return 0
        print(
            f"divergences: error: {path} is stale; run `divergences docs` to regenerate it",
            file=sys.stderr,
        )
        return 1
    print(f"wrote {choosing.write(args.root)}")
    return 0


def add_commands(sub: Any) -> None:
    """Add ``analyze`` and ``plot`` to the subcommands of the ``divergences`` parser."""
    p = sub.add_parser(
        "analyze",
        help="correlate and cluster the measures on your data (Cha's analysis)",
        description="Evaluates the measures on sampled pairs of rows of DATA (or every row of "
        "--queries against every row of DATA), correlates them (Pearson on values, Spearman "
        "on ranks; similarities negated so every measure ranks closest first), compares "
        "their k nearest neighbours, clusters them (average linkage on 1 - |Spearman|) and "
        "writes analysis.json, values.npz and a dendrogram and heatmap (PNG, SVG) to OUT.",
    )
    p.add_argument("data", nargs="?", metavar="DATA", help="rows are vectors (.npy/.csv/.tsv)")
    p.add_argument(
        "-o",
        "--output",
        default="report",
        metavar="OUT",
        help="report folder (default ./report; replaced atomically)",
    )
    p.add_argument("--measures", metavar="A,B,...", help="comma-separated names (default all)")
    p.add_argument(
        "--params",
        nargs="+",
        metavar="NAME:K=V",
        help="parameters, e.g. minkowski:p=3 (repeat a name for more columns)",
    )
    p.add_argument("--pairs", type=int, default=4000, help="sampled pairs (default 4000)")
    p.add_argument("--queries", metavar="Q", help="a query set: every query against DATA")
    from .cli import add_skip_header

    add_skip_header(p)
    p.add_argument("-k", type=int, default=10, help="neighbours compared (default 10, 0: skip)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument(
        "--threshold", type=float, default=0.02, help="cut height in 1 - |Spearman| (default 0.02)"
    )
    p.add_argument("--zero", choices=("strict", "epsilon"), default="strict")
    p.add_argument("--normalize", action="store_true", help="divide each row by its sum first")
    p.add_argument(
        "--example",
        action="store_true",
        help="analyse scikit-learn's bundled digits and sample images (offline)",
    )
    p.add_argument("--progress", action="store_true", help="progress bars on stderr")
    p.set_defaults(handler=cmd_analyze)

    p = sub.add_parser(
        "plot",
        help="a measure as a classification loss: value and gradient beside cross-entropy",
        description="Draws L(t) = measure(P, softmax(t, 0, ...)) for a one-hot (or "
        "label-smoothed) target P on class 0 as the true class's logit margin t moves from "
        "wrong to right, and dL/dt, beside cross-entropy; --all draws every measure in one "
        "grid.",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="name, alias or survey number")
    p.add_argument("--all", action="store_true", help="a grid of every measure")
    p.add_argument("--param", action="append", metavar="K=V", help="a parameter, e.g. p=3")
    p.add_argument("--classes", type=int, default=2, help="number of classes (default 2)")
    p.add_argument("--smoothing", type=float, default=0.0, help="label smoothing (default 0)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help=".png, .svg or .pdf")
    p.set_defaults(handler=cmd_plot)

    p = sub.add_parser(
        "experiment",
        help="experiments: noisy-labels (losses under symmetric label noise on digits)",
    )
    p.add_argument("which", choices=("noisy-labels",), help="the experiment")
    p.add_argument("--noise", metavar="R,R,...", help="noise rates (default 0,0.2,0.4,0.6)")
    p.add_argument(
        "--losses",
        metavar="L,L,...",
        help="ce, mae or catalog names (default ce,mae,jensen_shannon,hellinger,squared_euclidean)",
    )
    p.add_argument("--seeds", type=int, help="seeds per setting (default 3)")
    p.add_argument("--epochs", type=int, help="training epochs (default 60)")
    p.add_argument(
        "--quick", action="store_true", help="CI size: noise 0,0.6, losses ce,mae, 1 seed, 8 epochs"
    )
    p.add_argument("-o", "--output", metavar="FILE", help="plot accuracy vs noise (.png/.svg)")
    p.add_argument("--json", metavar="FILE", help="write every accuracy as JSON")
    p.add_argument("--progress", action="store_true", help="a progress bar on stderr")
    p.set_defaults(handler=cmd_experiment)

    p = sub.add_parser("docs", help="write docs/choosing.md, or check that it is up to date")
    p.add_argument("--check", action="store_true", help="exit 1 when the page is stale")
    p.add_argument("--root", default=".", metavar="DIR", help="repository root (default .)")
    p.set_defaults(handler=cmd_docs)
