"""The private directory of one script attempt, its environment and its files.

Each attempt gets a fresh directory from :func:`tempfile.mkdtemp` (mode 0700), removed when the
attempt ends however it ends::

    perch-script-XXXX/
        work/     the working directory: ``{{ workingDir }}``, HOME, inputFiles, outputFiles
        output/   ``{{ outputDir }}``: every file left there becomes an output file
        tmp/      TMPDIR
        bin/      ``python`` and ``python3``, first on PATH, running the server's interpreter

The environment is built from nothing: PATH, HOME, LANG, LC_ALL, TMPDIR, WORKING_DIR,
OUTPUT_DIR, PYTHONUNBUFFERED and the task's ``env``. None of the server's own variables
(``PERCH_*``, secrets, database URLs) reach the script.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from perch.engine.filehooks import MAX_FILE_BYTES
from perch.errors import PerchError
from perch.tasks.context import RunContext
from perch.tasks.files import read_file, write_file

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
FILE_SCHEME = "kestra:///"
MAX_INPUT_FILES = 1000
MAX_INPUT_BYTES = 64 * 1024 * 1024
MAX_OUTPUT_FILES = 1000


class ScriptError(PerchError):
    """A script task is written or behaves in a way it cannot run (a bad file name, a missing
    interpreter, an output file too large)."""


@dataclass(frozen=True)
class Workspace:
    root: Path
    work: Path
    output: Path
    tmp: Path
    bin: Path


def _force_remove(function: Callable[..., Any], path: str, _info: Any) -> None:
    """``rmtree`` met a directory the script made read-only: open it up and try again."""
    parent = os.path.dirname(path)
    try:
        os.chmod(parent, stat.S_IRWXU)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, stat.S_IRWXU)
        function(path)
    except OSError:
        pass


def _python_wrapper(bin_dir: Path) -> None:
    """``python`` and ``python3`` that exec the server's interpreter: a wrapper, not a
    symlink, so that a virtual environment's packages (``kestra``) stay importable."""
    executable = sys.executable or shutil.which("python3") or "/usr/bin/python3"
    text = f'#!/bin/sh\nexec {shlex.quote(executable)} "$@"\n'
    for name in ("python", "python3"):
        path = bin_dir / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o755)


@contextmanager
def workspace() -> Iterator[Workspace]:
    """A fresh attempt directory, removed on the way out."""
    root = Path(tempfile.mkdtemp(prefix="perch-script-"))
    try:
        space = Workspace(root, root / "work", root / "output", root / "tmp", root / "bin")
        for folder in (space.work, space.output, space.tmp, space.bin):
            folder.mkdir(mode=0o700)
        _python_wrapper(space.bin)
        yield space
    finally:
        shutil.rmtree(root, onerror=_force_remove)


def environment(
    context: RunContext, env: Mapping[str, Any] | None, space: Workspace
) -> dict[str, str]:
    """The clean environment of the process, with the task's ``env`` rendered on top."""
    result = {
        "PATH": f"{space.bin}:{SAFE_PATH}",
        "HOME": str(space.work),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": str(space.tmp),
        "WORKING_DIR": str(space.work),
        "OUTPUT_DIR": str(space.output),
        "PYTHONUNBUFFERED": "1",
    }
    for key, value in (env or {}).items():
        name = str(key)
        if not name or "=" in name or "\x00" in name:
            raise ScriptError(f"env: '{name}' is not a usable variable name")
        text = context.render_text(value)
        if "\x00" in text:
            raise ScriptError(f"env.{name}: the value holds a NUL character")
        result[name] = text
    return result


def relative_path(name: str, what: str) -> PurePosixPath:
    """``name`` as a path inside the working directory; refuses absolute paths and ``..``."""
    path = PurePosixPath(name)
    if not name.strip() or "\x00" in name or path.is_absolute() or ".." in path.parts:
        raise ScriptError(f"{what}: '{name}' must be a relative path inside the working directory")
    return path


def _input_map(context: RunContext, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {str(k): context.render(v) for k, v in value.items()}
    rendered = context.render(value)
    if isinstance(rendered, str):
        try:
            rendered = json.loads(rendered)
        except ValueError:
            rendered = None
    if not isinstance(rendered, dict):
        raise ScriptError("inputFiles must be a map of file names to contents (or render to one)")
    return {str(k): v for k, v in rendered.items()}


def _content(context: RunContext, value: Any) -> bytes:
    """A file's content: a ``kestra:///`` URI is read from the store, other text kept as is."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        uri = value.strip()
        if uri.startswith(FILE_SCHEME) and "\n" not in uri:
            return read_file(context, uri)
        return value.encode("utf-8")
    if value is None:
        return b""
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def write_input_files(context: RunContext, value: Any, space: Workspace) -> list[str]:
    """Write ``inputFiles`` into the working directory; the names written."""
    if value is None:
        return []
    files = _input_map(context, value)
    if len(files) > MAX_INPUT_FILES:
        raise ScriptError(f"inputFiles: {len(files)} files, at most {MAX_INPUT_FILES}")
    total = 0
    for name, content in files.items():
        target = space.work.joinpath(*relative_path(name, "inputFiles").parts)
        data = _content(context, content)
        total += len(data)
        if total > MAX_INPUT_BYTES:
            raise ScriptError(f"inputFiles: over {MAX_INPUT_BYTES} bytes in all")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as exc:
            raise ScriptError(f"inputFiles: cannot write '{name}': {exc.strerror}") from None
    return list(files)


def _inside(path: Path, base: Path) -> bool:
    try:
        path.resolve().relative_to(base.resolve())
    except (OSError, ValueError):
        return False
    return True


def _matches(space: Workspace, pattern: str) -> list[Path]:
    relative_path(pattern, "outputFiles")
    try:
        found = sorted(space.work.glob(pattern))
    except (ValueError, NotImplementedError) as exc:
        raise ScriptError(f"outputFiles: '{pattern}' is not a usable pattern ({exc})") from None
    return [p for p in found if p.is_file() and _inside(p, space.work)]


def store_output_files(
    context: RunContext,
    patterns: list[str],
    space: Workspace,
    skip: set[Path],
    warn: Callable[[str], None],
) -> dict[str, str] | None:
    """Store the files ``patterns`` match (and those under ``outputDir``); their URIs by name,
    or ``None`` when there is nothing to report."""
    chosen: dict[str, Path] = {}
    for pattern in patterns:
        matched = [p for p in _matches(space, pattern) if p not in skip]
        if not matched:
            warn(f"outputFiles: no file matches '{pattern}'")
        for path in matched:
            chosen.setdefault(path.relative_to(space.work).as_posix(), path)
    for path in sorted(space.output.rglob("*")):
        if path.is_file() and _inside(path, space.output):
            chosen.setdefault(path.relative_to(space.output).as_posix(), path)
    if not patterns and not chosen:
        return None
    if len(chosen) > MAX_OUTPUT_FILES:
        raise ScriptError(f"outputFiles: {len(chosen)} files, at most {MAX_OUTPUT_FILES}")
    stored: dict[str, str] = {}
    for name, path in chosen.items():
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise ScriptError(
                    f"Output file '{name}' is {size} bytes, over the limit of {MAX_FILE_BYTES}"
                )
            content = path.read_bytes()
        except OSError as exc:
            raise ScriptError(f"Output file '{name}' cannot be read: {exc.strerror}") from None
        stored[name] = write_file(context, name, content)
    return stored
