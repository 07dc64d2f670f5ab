"""The ``divergences`` command: list, show and compute measures, search, render the catalog.

``divergences list``, ``divergences show NAME``, ``divergences compute NAME A B``,
``divergences knn NAME Q DB -k K`` and ``divergences catalog``;
``divergences SUBCOMMAND --help`` explains each.
Every error prints one line, ``divergences: error: ...``, to stderr and exits
with status 2 (``catalog --check`` exits 1 on a stale file).

Only the standard library is imported here; NumPy and the measure definitions
load when a subcommand needs them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, NoReturn

PROG = "divergences"

#: The pair ``divergences show`` evaluates every measure on.
EXAMPLE_P = (0.1, 0.2, 0.3, 0.4)
EXAMPLE_Q = (0.4, 0.3, 0.2, 0.1)

#: ``divergences compute NAME --example``: four histograms of counts over six bins.
EXAMPLE_LABELS = ("flat", "rising", "falling", "gapped")
EXAMPLE_COUNTS = (
    (10, 10, 10, 10, 10, 10),
    (2, 4, 8, 12, 16, 18),
    (18, 16, 12, 8, 4, 2),
    (15, 15, 0, 0, 15, 15),
)

_READERS = {".npy": None, ".csv": ",", ".tsv": "\t"}
_CLAIM_FILTERS = ("symmetric", "metric", "triangle")


class CommandError(Exception):
    """A user error of the command line: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors become one-line :class:`CommandError`."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{message} (see `{self.prog} --help`)")


class _IntermixedParser(_Parser):
    """Options and positionals in any order (``compute kl -o D.npy A.npy B.npy``)."""

    _inside = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # argparse's subparser action calls parse_known_args; route it through the
        # intermixed parser, which itself calls parse_known_args (hence the guard)
        if self._inside:
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str) -> int:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)
    return 2


# -- list -------------------------------------------------------------------
def _cmd_list(args: argparse.Namespace) -> int:
    import json

    from . import catalog
    from .registry import select

    filters: dict[str, Any] = {
        k: getattr(args, k)
        for k in (*_CLAIM_FILTERS, "family", "kind", "domain", "bounded")
        if getattr(args, k) is not None
    }
    from .loss_claims import LOSS_FILTERS

    filters.update({k: True for k in LOSS_FILTERS if getattr(args, k, False)})
    selected = select(**filters)
    if args.json:
        print(json.dumps([catalog.measure_record(m) for m in selected], indent=2))
        return 0
    if not selected:
        print("no measure matches these filters", file=sys.stderr)
        return 0
    header = ("no.", "name", "kind", "symmetric", "metric", "bounds (pdfs)", "family")
    rows = [
        (
            catalog.number_text(m),
            m.name,
            m.kind,
            _claim_text(m.properties.symmetric),
            _claim_text(m.properties.metric),
            _bounds_text(m),
            m.family,
        )
        for m in selected
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for r in (header, *rows):
        line = "  ".join(
            c.rjust(w) if i == 0 else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        print(line.rstrip())
    return 0


def _claim_text(claim: Any) -> str:
    """``always``/``pdf``/``never``, with the condition on the parameters where there is one
    (Minkowski is a metric only for p >= 1)."""
    return f"{claim.holds} if {claim.condition}" if claim.condition else claim.holds


def _bounds_text(m: Any) -> str:
    """The range on probability vectors, e.g. ``[0, 2]`` or ``[0, sqrt(d)]``."""
    return f"[{m.bounds.low}, {m.bounds.high}]"


# -- show -------------------------------------------------------------------
def _wrap(label: str, text: str, width: int = 16) -> str:
    """``label`` and ``text`` wrapped at 100 columns, never inside parentheses."""
    import re

    keep = re.sub(r"\([^()]*\)", lambda g: g.group().replace(" ", "\xa0"), _one_line(text))
    wrapped = textwrap.fill(
        keep,
        width=100,
        initial_indent=f"  {label:<{width}}",
        subsequent_indent=" " * (width + 2),
        break_on_hyphens=False,
        break_long_words=False,
    )
    return wrapped.replace("\xa0", " ")


def _cmd_show(args: argparse.Namespace) -> int:
    import re

    from . import catalog
    from .registry import AliasedMeasure, get, measures
    from .spec import FAMILIES

    found = get(args.name)
    m = found.measure if isinstance(found, AliasedMeasure) else found
    if args.plan:  # the forms the generators derive from the definition
        from .symbolic import describe

        modes = ("strict", "epsilon") if m.has_epsilon_rule else ("strict",)
        print("\n\n".join(describe(m, zero) for zero in modes))
        return 0
    out = [m.title, ""]
    asked = "" if args.name == m.name else f" (asked as {args.name!r})"
    out.append(_wrap("name", m.name + asked))
    if isinstance(found, AliasedMeasure):
        out.append(
            _wrap(
                "alias implies",
                f"{catalog.fmt_options(found.defaults)} (calls through {found.alias!r} use it)",
            )
        )
    number = (
        f"{m.survey_number} (Cha 2007)"
        if m.survey_number is not None
        else "extra (not a row of the survey)"
    )
    out.append(_wrap("survey number", number))
    out.append(_wrap("family", f"{FAMILIES[m.family]} ({m.family})"))
    closer = "larger is closer" if m.kind == "similarity" else "smaller is closer"
    out.append(_wrap("kind", f"{m.kind} ({closer})"))
    domain = "any finite reals" if m.domain == "real" else "finite, >= 0"
    out.append(_wrap("domain", f"{m.domain} ({domain})"))
    out.append(_wrap("formula", m.latex))
    params = "; ".join(catalog.fmt_param(p) for p in m.params) or "none"
    out.append(_wrap("parameters", params))
    implied = catalog.alias_defaults(m)
    aliases = ", ".join(
        a + (f" ({catalog.fmt_options(implied[a])})" if a in implied else "") for a in m.alias_names
    )
    out.append(_wrap("aliases", aliases or "none"))
    out.append(_wrap("bounds on pdfs", f"[{m.bounds.low}, {m.bounds.high}]"))
    from .gradients import zero_gradients

    zg = zero_gradients(m)
    out.append(
        _wrap("gradient", f"d/dQ_i at Q_i = 0 < P_i: {zg['Q']}; d/dP_i at P_i = 0 < Q_i: {zg['P']}")
    )
    out += ["", "Properties"]
    out += [_wrap(name, catalog.fmt_claim(claim), width=13) for name, claim in m.properties.items()]
    out += ["", "Relations"]
    mentioned = re.compile(rf"\b{m.name}\(")
    related = [(m, r) for r in m.relations] + [
        (other, r)
        for other in measures()
        if other is not m
        for r in other.relations
        if mentioned.search(r.expr)
    ]
    for other, r in related:
        where = "all inputs" if r.holds == "always" else "on pdfs"
        if r.params:
            where += ", at " + ", ".join(
                f"{k} = {catalog.fmt_number(v)}" for k, v in r.params.items()
            )
        out.append(_wrap("", f"{other.name}(P, Q) = {r.expr}  ({where})", width=0))
    if not related:
        out.append("  none recorded")
    from .loss_claims import LOSS_CLAIMS, loss_properties

    lp = loss_properties(m)
    out += ["", "Loss properties (as a loss L(P = target, Q = model), default parameters)"]
    out += [_wrap(c, catalog.fmt_claim(getattr(lp, c)), width=23) for c in LOSS_CLAIMS]
    from .loss_claims import by_parameters

    for c, where in by_parameters(m).items():
        out.append(_wrap(c, f"at the tested parameter values: holds at {where}", width=23))
    out += ["", "Zero behaviour", _wrap("", catalog.zero_text(m), width=0)]
    if m.notes:
        out += ["", "Notes", _wrap("", m.notes, width=0)]
    value = found(list(EXAMPLE_P), list(EXAMPLE_Q))
    out += [
        "",
        "Example",
        f"  P = {EXAMPLE_P}",
        f"  Q = {EXAMPLE_Q}",
        f"  divergences.get({args.name!r})(P, Q) = {float(value)!r}",
    ]
    print("\n".join(out))
    return 0


# -- compute ----------------------------------------------------------------
def _suffix(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in _READERS:
        raise CommandError(
            f"{path}: unsupported file type {ext or '(none)'!r}; use .npy, .csv or .tsv"
        )
    return ext


def _read(path: str, skip_header: bool = False) -> Any:
    """The array in ``path`` (.npy, .csv or .tsv); ``skip_header`` skips the first line of
    a .csv/.tsv file (a header row; .npy files have none)."""
    import warnings

    import numpy as np

    ext = _suffix(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if ext == ".npy":
                data = np.load(path, allow_pickle=False)
            else:
                # utf-8-sig: a byte-order mark (spreadsheet exports) is not part of the data
                data = np.loadtxt(
                    path,
                    delimiter=_READERS[ext],
                    ndmin=2,
                    dtype=np.float64,
                    encoding="utf-8-sig",
                    skiprows=1 if skip_header else 0,
                )
    except (OSError, ValueError, EOFError) as e:
        header = _header_row(path, ext) if isinstance(e, ValueError) else None
        if header is not None and not skip_header:
            raise CommandError(
                f"cannot read {path}: its first line looks like a header row ({header}), "
                "not numbers; pass --skip-header to skip it (or remove that line, for "
                "example `tail -n +2 FILE > rows.csv`)"
            ) from None
        raise CommandError(f"cannot read {path}: {_one_line(str(e))}") from None
    if not isinstance(data, np.ndarray):
        raise CommandError(f"cannot read {path}: not a single array")
    if data.size == 0:
        raise CommandError(f"{path} holds no numbers")
    return data


def _header_row(path: str, ext: str) -> str | None:
    """The first line of a delimited file when it is text over numeric rows, else None."""
    if ext not in _READERS or ext == ".npy":
        return None

    def numeric(line: str) -> bool:
        try:
            [float(f) for f in line.strip().split(_READERS[ext]) if f.strip()]
        except ValueError:
            return False
        return bool(line.strip())

    try:
        with open(path, encoding="utf-8-sig") as f:
            first, second = f.readline(), f.readline()
    except (OSError, UnicodeDecodeError):
        return None
    if numeric(first) or not numeric(second):
        return None
    return _one_line(first.strip())[:60]


def _format_value(v: float) -> str:
    return repr(float(v))


def _matrix_lines(D: Any, sep: str | None = None) -> list[str]:
    """Rows of ``D`` with exact (shortest round-trip) numbers; aligned when ``sep`` is None."""
    cells = [[_format_value(v) for v in row] for row in D]
    if sep is not None:
        return [sep.join(row) for row in cells]
    width = max((len(c) for row in cells for c in row), default=0)
    return ["  ".join(c.rjust(width) for c in row) for row in cells]


#: values formatted per block of a CSV/TSV output (about 1.5 MB of text): the file is
#: streamed, never held whole in memory
_VALUES_PER_BLOCK = 1 << 16


def _write_text_matrix(f: Any, D: Any, sep: str) -> None:
    rows = max(1, _VALUES_PER_BLOCK // max(1, D.shape[1]))
    for i in range(0, D.shape[0], rows):
        f.write("".join(sep.join(map(repr, row)) + "\n" for row in D[i : i + rows].tolist()))


def _write(path: str, D: Any) -> None:
    """Write matrix ``D`` to ``path`` (.npy, .csv or .tsv), all or nothing (see
    :mod:`divergences.atomic`)."""
    import numpy as np

    from .atomic import replacing

    ext = _suffix(path)
    try:
        with replacing(path) as tmp:
            if ext == ".npy":
                with open(tmp, "wb") as f:
                    np.save(f, D)
            else:
                with open(tmp, "w", encoding="utf-8", newline="\n") as f:
                    _write_text_matrix(f, np.asarray(D, dtype=np.float64), _READERS[ext])
    except OSError as e:
        raise CommandError(f"cannot write {path}: {_write_error(path, e)}") from None


def _write_error(path: str, e: OSError) -> str:
    """The reason of a failed write; a short write (NumPy's "N requested and M written")
    says how much room was left."""
    text = _one_line(str(e))
    if e.errno is None:
        with contextlib.suppress(OSError):
            free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
            text += f" (no space left on device? {free} bytes free there)"
    return text


def _refuse_input_as_output(output: str | None, *inputs: str | None) -> None:
    """An output file that is one of the inputs (by any path) would destroy it."""
    from .atomic import same_file

    for inp in inputs:
        if output is not None and inp is not None and same_file(output, inp):
            raise CommandError(
                f"-o {output} is the input file {inp}: write the result to another file"
            )


def _measures_with(name: str) -> list[Any]:
    from .registry import measures

    return [m for m in measures() if any(p.name == name for p in m.params)]


def _registry_params() -> dict[str, Any]:
    """The first :class:`~divergences.spec.Param` of each parameter name in the registry."""
    from .registry import measures

    out: dict[str, Any] = {}
    for m in measures():
        for prm in m.params:
            out.setdefault(prm.name, prm)
    return out


def _param_flag(name: str) -> str:
    """``--alpha`` for ``alpha``, ``--lambda`` for ``lambda_``."""
    return "--" + name.rstrip("_").replace("_", "-")


def _param_value(text: str) -> float | str:
    """A number, or a name some parameter of the registry accepts (``pearson``)."""
    try:
        return float(text)
    except ValueError:
        pass
    if any(text.strip().lower() == n for p in _registry_params().values() for n, _ in p.named):
        return text
    raise argparse.ArgumentTypeError(f"invalid float value: {text!r}")


def _param_assignment(text: str) -> tuple[str, float | str]:
    """``NAME=VALUE`` of ``--param``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"--param takes NAME=VALUE, got {text!r}")
    return name.strip(), _param_value(value)


def _compute_options(args: argparse.Namespace) -> dict[str, Any]:
    opts = {k: getattr(args, k) for k in ("zero", "epsilon", "backend")}
    opts = {k: v for k, v in opts.items() if v is not None}
    given: dict[str, Any] = {}
    for name in _registry_params():
        value = getattr(args, f"param_{name}", None)
        if value is not None:
            given[name] = value
    for name, value in args.param or ():
        if name in given and given[name] != value:
            raise CommandError(f"parameter {name} given twice ({given[name]!r} and {value!r})")
        given[name] = value
    opts.update(given)
    if args.normalize:
        opts["normalize"] = True
    return opts


def _cmd_compute(args: argparse.Namespace) -> int:
    from .api import cdist
    from .registry import get

    get(args.name)  # unknown names fail before any file is read
    opts = _compute_options(args)
    if args.output is not None:
        _suffix(args.output)
    if args.example:
        if args.A is not None or args.B is not None:
            raise CommandError("compute --example takes no input files")
        return _example(args.name, opts, args.output)
    if args.A is None:
        raise CommandError("compute needs input files A and B (or --example)")
    _refuse_input_as_output(args.output, args.A, args.B)
    XA = _read(args.A, args.skip_header)
    XB = XA if args.B is None else _read(args.B, args.skip_header)
    D = cdist(XA, XB, args.name, **opts)
    if args.output is None:
        print("\n".join(_matrix_lines(D)))
    else:
        _write(args.output, D)
        print(f"wrote {args.output}: {D.shape[0]} x {D.shape[1]} values of {args.name}")
    return 0


def _example(name: str, opts: dict[str, Any], output: str | None) -> int:
    import numpy as np

    from .api import cdist
    from .registry import AliasedMeasure, get

    found = get(name)
    m = found.measure if isinstance(found, AliasedMeasure) else found
    opts = {**opts, "normalize": True}
    X = np.array(EXAMPLE_COUNTS, dtype=np.float64)
    D = cdist(X, X, name, **opts)
    lw = max(len(s) for s in EXAMPLE_LABELS)
    nbins = X.shape[1]
    number = "" if m.survey_number is None else f", survey #{m.survey_number}"
    out = [
        f"{m.name} ({m.title}{number}, {m.kind}) on 4 example histograms",
        f"(counts over {nbins} bins; normalize=True divides each row by its sum):",
        "",
    ]
    cw = max(len(str(int(c))) for row in EXAMPLE_COUNTS for c in row)
    for label, row in zip(EXAMPLE_LABELS, EXAMPLE_COUNTS, strict=True):
        out.append(f"  {label:<{lw}}  " + " ".join(str(c).rjust(cw) for c in row))
    call = ", ".join([f"X, X, {name!r}", *(f"{k}={v!r}" for k, v in opts.items())])
    out += ["", f"divergences.cdist({call}):", ""]
    cells = [[f"{v:.6g}" for v in row] for row in D]
    vw = max(lw, *(len(c) for row in cells for c in row))
    out.append("  " + " " * lw + "  " + "  ".join(s.rjust(vw) for s in EXAMPLE_LABELS))
    for label, row in zip(EXAMPLE_LABELS, cells, strict=True):
        out.append(f"  {label:<{lw}}  " + "  ".join(c.rjust(vw) for c in row))
    if m.kind == "similarity":
        out += ["", "(a similarity: larger is closer)"]
    values = {k: v for k, v in opts.items() if any(k == prm.name for prm in m.params)}
    params = {prm.name: prm.check(values.get(prm.name, prm.default), m.name) for prm in m.params}
    if not m.is_symmetric(opts.get("zero", "strict"), params):
        out += ["", "(not symmetric: row i, column j is f(row i, row j))"]
    print("\n".join(out))
    if output is not None:
        _write(output, D)
        print(f"wrote {output}")
    return 0


# -- knn --------------------------------------------------------------------
def _cmd_knn(args: argparse.Namespace) -> int:
    import numpy as np

    from .registry import get
    from .search import knn

    get(args.name)  # unknown names fail before any file is read
    opts = _compute_options(args)
    if args.output is not None and os.path.splitext(args.output)[1].lower() != ".npz":
        raise CommandError(f"{args.output}: knn writes an .npz file (arrays indices and values)")
    _refuse_input_as_output(args.output, args.Q, args.DB)
    Q = _read(args.Q, args.skip_header)
    DB = _read(args.DB, args.skip_header)
    idx, val = knn(
        Q,
        DB,
        args.k,
        args.name,
        working_memory=args.working_memory,
        progress=args.progress,
        **opts,
    )
    if args.output is None:
        header = ("query", "rank", "index", "value")
        rows = [
            (str(i), str(r + 1), str(j), _format_value(v))
            for i, (ji, vi) in enumerate(zip(idx, val, strict=True))
            for r, (j, v) in enumerate(zip(ji, vi, strict=True))
        ]
        widths = [max(len(row[c]) for row in (header, *rows)) for c in range(len(header))]
        for row in (header, *rows):
            print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        return 0
    from .atomic import replacing

    try:
        with replacing(args.output) as tmp, open(tmp, "wb") as f:
            np.savez(f, indices=idx, values=val)
    except OSError as e:
        raise CommandError(f"cannot write {args.output}: {_write_error(args.output, e)}") from None
    print(
        f"wrote {args.output}: the {idx.shape[1]} rows of {args.DB} nearest to each of the "
        f"{idx.shape[0]} rows of {args.Q} by {args.name} (arrays indices, values)"
    )
    return 0


# -- catalog ----------------------------------------------------------------
def _cmd_bench(args: argparse.Namespace) -> int:
    from .benchmark import main as bench_main

    return bench_main([])


def _cmd_gpu_check(args: argparse.Namespace) -> int:
    from . import gpu_check

    try:
        return gpu_check.run(args)
    except gpu_check.NVRTCUnavailableError as e:
        raise CommandError(str(e)) from None


def _cmd_catalog(args: argparse.Namespace) -> int:
    from . import catalog
    from .registry import measures

    path = args.output
    if args.check:
        if catalog.check(path):
            print(f"{path} is up to date ({len(measures())} measures)")
            return 0
        state = "stale" if os.path.exists(path) else "missing"
        print(
            f"{PROG}: error: {path} is {state}; run `{PROG} catalog --output {path}` to "
            "regenerate it",
            file=sys.stderr,
        )
        return 1
    try:
        catalog.write(path)
    except OSError as e:
        raise CommandError(f"cannot write {path}: {_one_line(str(e))}") from None
    # the full path: without -o the file lands in the current folder, wherever that is
    print(f"wrote {os.path.abspath(path)} ({len(measures())} measures)")
    return 0


# -- parser -----------------------------------------------------------------
def add_skip_header(p: argparse.ArgumentParser) -> None:
    """``--skip-header``: the first line of every .csv/.tsv input is a header row."""
    p.add_argument(
        "--skip-header",
        action="store_true",
        help="skip the first line of each .csv/.tsv input (a header row; .npy files are "
        "read as they are)",
    )


def _add_measure_options(p: argparse.ArgumentParser) -> None:
    """The options of cdist shared by ``compute`` and ``knn``."""
    p.add_argument("--zero", choices=("strict", "epsilon"), help="zero mode (default strict)")
    p.add_argument("--epsilon", type=float, help="stand-in for zero of --zero epsilon (1e-5)")
    p.add_argument(
        "--param",
        action="append",
        type=_param_assignment,
        metavar="NAME=VALUE",
        help="a parameter of the measure, repeatable (--param alpha=0.5); "
        "`divergences show NAME` lists them",
    )
    # one flag per parameter name of the registry (--p/-p, --base, --alpha, ...): aliases of
    # --param NAME=VALUE generated from the definitions, never written per measure
    for name, prm in _registry_params().items():
        flags = [_param_flag(name)] + ([f"-{name}"] if len(name) == 1 else [])
        users = sorted(m.name for m in _measures_with(name))
        p.add_argument(
            *flags,
            dest=f"param_{name}",
            type=_param_value,
            metavar="VALUE",
            help=f"{prm.doc} (--param {name}=VALUE; of {', '.join(users[:3])}"
            + (", ..." if len(users) > 3 else "")
            + ")",
        )
    p.add_argument("--normalize", action="store_true", help="divide each row by its sum first")
    p.add_argument("--backend", metavar="NAME", help="auto (default), numba or numpy")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``divergences`` command.

    Returns
    -------
    argparse.ArgumentParser
        Its ``error`` raises :class:`CommandError` instead of exiting.
    """
    from . import __version__

    parser = _Parser(
        prog=PROG,
        description="Every distance, similarity and divergence of Cha's 2007 survey.",
        epilog=f"example: {PROG} show kl && {PROG} compute jensen_shannon --example",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_IntermixedParser
    )

    p = sub.add_parser("list", help="list measures, optionally filtered by their properties")
    for claim in _CLAIM_FILTERS:
        p.add_argument(
            f"--{claim}",
            nargs="?",
            const=True,
            default=None,
            choices=("always", "pdf", "never"),
            metavar="HOLDS",
            help=f"only {claim} measures (on pdfs at least); or exactly always|pdf|never",
        )
    p.add_argument("--family", metavar="NAME", help="family key or title, e.g. shannon")
    p.add_argument("--kind", choices=("similarity", "dissimilarity"))
    p.add_argument("--domain", choices=("real", "nonnegative"))
    bounded = p.add_mutually_exclusive_group()
    bounded.add_argument(
        "--bounded", action="store_const", const=True, help="finite upper bound on pdfs"
    )
    bounded.add_argument(
        "--unbounded", dest="bounded", action="store_const", const=False, help="no finite bound"
    )
    p.add_argument("--json", action="store_true", help="every field of every selected measure")
    for loss_claim in ("finite_at_zero_target", "finite_at_zero_model", "bounded_gradient",
                       "noise_tolerant", "f_divergence"):
        p.add_argument(f"--{loss_claim.replace('_', '-')}", action="store_true",
                       dest=loss_claim, help="only measures where this loss property holds")
    p.set_defaults(handler=_cmd_list)

    p = sub.add_parser("show", help="everything about one measure, with an example value")
    p.add_argument("name", metavar="NAME", help="name, alias or survey number")
    p.add_argument(
        "--plan",
        action="store_true",
        help="print the derived forms: terms, factored plan, partial derivatives, kernel source",
    )
    p.set_defaults(handler=_cmd_show)

    p = sub.add_parser(
        "compute",
        help="the measure between every row of A and every row of B",
        description="Reads .npy, .csv or .tsv files (rows are vectors) and writes the m x n "
        "matrix D[i, j] = measure(A[i], B[j]) to OUT (.npy, .csv or .tsv) or prints it.",
    )
    p.add_argument("name", metavar="NAME", help="name, alias or survey number")
    p.add_argument("A", nargs="?", help="rows of P (.npy, .csv or .tsv)")
    p.add_argument("B", nargs="?", help="rows of Q (default: A)")
    p.add_argument("-o", "--output", metavar="OUT", help="write the matrix here (.npy/.csv/.tsv)")
    p.add_argument("--example", action="store_true", help="run on 4 embedded histograms")
    add_skip_header(p)
    _add_measure_options(p)
    p.set_defaults(handler=_cmd_compute)

    p = sub.add_parser(
        "knn",
        help="the k rows of DB nearest to each row of Q",
        description="Reads .npy, .csv or .tsv files (rows are vectors) and finds, for each row "
        "of Q, the K rows of DB nearest by the measure: smallest values of a dissimilarity, "
        "largest of a similarity; ties go to the lower row of DB, NaN values rank last. "
        "Writes arrays `indices` and `values` (Q rows x K) to OUT (.npz) or prints a table. "
        "Memory stays within about one block of --working-memory MiB (and the inputs).",
    )
    p.add_argument("name", metavar="NAME", help="name, alias or survey number")
    p.add_argument("Q", help="the queries (.npy, .csv or .tsv)")
    p.add_argument("DB", help="the rows searched (.npy, .csv or .tsv)")
    p.add_argument("-k", type=int, required=True, metavar="K", help="neighbours per query")
    p.add_argument("-o", "--output", metavar="OUT", help="write indices and values here (.npz)")
    add_skip_header(p)
    _add_measure_options(p)
    p.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    p.add_argument(
        "--working-memory",
        type=float,
        metavar="MIB",
        help="MiB of one block of results (default 256)",
    )
    p.set_defaults(handler=_cmd_knn)

    p = sub.add_parser(
        "bench",
        help="time divergences against scipy / NumPy on this machine (--full, --measures)",
        add_help=False,
    )
    p.set_defaults(handler=_cmd_bench)  # its own options: main() hands them to benchmark.main

    p = sub.add_parser(
        "gpu-check",
        help="compile every CUDA kernel with NVRTC for each GPU architecture (no GPU needed)",
    )
    from .gpu_check import add_arguments as _gpu_check_arguments

    _gpu_check_arguments(p)
    p.set_defaults(handler=_cmd_gpu_check)

    from .cli_analysis import add_commands as _analysis_commands

    _analysis_commands(sub)

    p = sub.add_parser("catalog", help="write CATALOG.md, or check that it is up to date")
    p.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    p.add_argument("--output", default="CATALOG.md", metavar="PATH", help="default CATALOG.md")
    p.set_defaults(handler=_cmd_catalog)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``divergences`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Exit status: 0 on success, 1 for a stale catalog under ``catalog --check``,
        2 for every error (reported as one line on stderr).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["bench"]:
            from .benchmark import main as bench_main

            return int(bench_main(argv[1:]))
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except SystemExit as e:  # --help, --version
        return e.code if isinstance(e.code, int) else 0
    except CommandError as e:
        return _fail(str(e))
    except BrokenPipeError:  # output piped into `head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (ValueError, LookupError, OSError) as e:  # InputError, UnknownMeasureError, ...
        return _fail(str(e))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        return _fail(f"unexpected {type(e).__name__}: {e} (please report this)")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
