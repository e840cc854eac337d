"""``workbook data fetch NAME``: download a data file the repository does not ship, check its sha256, cache it.

Minerva-Math (CC BY-NC-SA 4.0) and OlympiadBench (licence unclear) are not redistributed (``NOTICE``,
``docs/data.md``). This command downloads the byte-identical upstream file at a pinned commit (`Source.urls`),
rejects it unless its sha256 is the registry's, and writes it atomically into the download cache
(``<cache_dir>/data``), where `workbook.data.load_benchmark` finds it. ``--from PATH`` takes a copy you already
have instead (same check), for machines without network access.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

from workbook.data.benchmarks import (
    DATASETS,
    FETCHED,
    SOURCES,
    DataNotFoundError,
    UnknownDatasetError,
    check_name,
    data_cache_dir,
    locate,
    offline_reason,
    sha256_file,
)

TIMEOUT_S = 60.0


def _read_source(source: str, timeout: float) -> bytes:
    """Return the bytes at ``source``: a URL (``https://``, ``file://``) or a local path."""
    if "://" not in source:
        return Path(source).expanduser().read_bytes()
    with urllib.request.urlopen(source, timeout=timeout) as response:  # noqa: S310 - pinned URLs or the user's
        return response.read()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fetch(name: str, *, source: str | None = None, force: bool = False, timeout: float = TIMEOUT_S) -> Path:
    """Return the cached, sha256-checked file of dataset ``name``, downloading it first if needed.

    ``source`` (a URL or a local path) replaces the registered URLs. A cached file whose sha256 is wrong is
    replaced; ``force`` re-downloads a good one. Downloads are refused when an offline switch is set
    (`offline_reason`) unless ``source`` is a local file. Raises `UnknownDatasetError` before any IO and
    `DataNotFoundError` naming every source tried and why it failed.
    """
    src = check_name(name)
    dest = data_cache_dir() / src.filename
    if dest.is_file() and not force and sha256_file(dest) == src.sha256:
        return dest
    candidates = [source] if source is not None else list(src.urls)
    if not candidates:
        raise DataNotFoundError(f"no download source is registered for {name!r} (it ships with the repository)")
    errors: list[str] = []
    for url in candidates:
        remote = "://" in url and not url.startswith("file://")
        if remote and offline_reason():
            errors.append(f"{url}: not downloaded, {offline_reason()}")
            continue
        try:
            data = _read_source(url, timeout)
        except Exception as exc:  # network and file errors alike: try the next source, report all at the end
            errors.append(f"{url}: {type(exc).__name__}: {exc}")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != src.sha256:
            errors.append(f"{url}: sha256 {digest} is not the registered {src.sha256} (file rejected)")
            continue
        _write_atomic(dest, data)
        return dest
    raise DataNotFoundError(f"could not fetch {name!r}: " + "; ".join(errors))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="workbook data fetch",
        description="Download the benchmark files the repository does not ship (licences in NOTICE), check their "
                    "sha256 and cache them where load_benchmark finds them.")
    p.add_argument("names", nargs="*", metavar="NAME", help=f"datasets to fetch (not shipped: {', '.join(FETCHED)})")
    p.add_argument("--all", action="store_true", help="fetch every dataset that is not shipped")
    p.add_argument("--list", action="store_true", help="list every dataset, where it is found and its licence")
    p.add_argument("--from", dest="source", metavar="PATH_OR_URL", help="use this copy instead (one NAME only)")
    p.add_argument("--force", action="store_true", help="download again even if a good copy is cached")
    return p


def _list() -> int:
    for name in DATASETS:
        src = SOURCES[name]
        path = locate(name)
        where = "shipped" if src.shipped else "fetched"
        status = f"at {path}" if path else "not fetched yet"
        print(f"{name:22s} {where}, {status}\n{'':22s} licence: {src.licence}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``workbook data fetch``; return 0 when every requested file is present and checked, 1 if one failed,
    2 on a usage error (unknown name, nothing asked)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return int(exc.code or 0)
    if args.list:
        return _list()
    names = list(FETCHED) if args.all else list(args.names)
    if not names:
        parser.print_usage(sys.stderr)
        print(f"workbook data fetch: name a dataset ({', '.join(FETCHED)}) or pass --all", file=sys.stderr)
        return 2
    try:
        sources = {name: check_name(name) for name in names}  # every name checked before any download
    except UnknownDatasetError as exc:
        print(f"workbook data fetch: {exc}", file=sys.stderr)
        return 2
    if args.source is not None and len(names) != 1:
        print("workbook data fetch: --from takes exactly one NAME", file=sys.stderr)
        return 2
    status = 0
    for name, src in sources.items():
        if src.shipped and args.source is None:
            path = locate(name)
            ok = path is not None and sha256_file(path) == src.sha256
            print(f"{name}: ships with the repository ({path}); sha256 {'ok' if ok else 'MISMATCH'}")
            status = status if ok else 1
            continue
        print(f"{name}: licence {src.licence}\n{name}: origin {src.origin}")
        try:
            path = fetch(name, source=args.source, force=args.force)
        except DataNotFoundError as exc:
            print(f"{name}: FAILED: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{name}: {path} (sha256 ok, {src.rows} rows expected)")
    return status


if __name__ == "__main__":  # pragma: no cover - the CLI entry is `workbook data fetch`
    raise SystemExit(main())
