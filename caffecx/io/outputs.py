"""Writing a command's outputs all or nothing.

Every output of a command is first written into a temporary folder beside its target, and the
files are moved into place only when every one of them was written; on any failure the temporary
folders (and any folder made for the outputs) are removed and the targets are left as they were.
Targets are validated before anything is computed, so a bad ``-o`` fails at once with a located
`CaffecxError` (``path: message``, exit 2 in the CLI):

* a file where a folder is wanted (``--out-dir afile``, ``-o afile/x.png``),
* a folder where a file is wanted (``-o some_dir``),
* a folder that cannot be written (read-only, not searchable),
* a suffix the writer does not know (``--plot x.xyz``).

Use::

    from caffecx.io.outputs import Outputs, check_target, check_folder

    check_target(args.output, suffixes=(".prototxt",))      # before the work: fail early
    with Outputs() as out:                                  # after it: all or nothing
        out.add(args.output, data)                          # bytes
        staged = out.stage("plots/loss.png", make_parents=True)   # a path to write to yourself
        fig.savefig(staged)
    # leaving the block without an exception moves every file into place; an exception (any,
    # KeyboardInterrupt included) removes everything staged and re-raises it.

``write_atomic(path, data)`` (`caffecx.io.writer`) is the one-file form. Written files get the mode a
plain ``open(path, "w")`` would give them (an existing file's mode, else 0666 less the umask).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from caffecx.errors import CaffecxError

PathLike = str | os.PathLike[str]


def _fail(message: str, path: PathLike) -> CaffecxError:
    return CaffecxError(message, path=os.fspath(path))


def _first_missing(folder: Path) -> tuple[Path | None, Path]:
    """(the outermost missing ancestor-or-self of `folder`, the nearest existing one)."""
    missing = None
    current = folder
    while not current.exists():
        if current.is_symlink():
            raise _fail("is a dangling symbolic link, not a folder", current)
        missing = current
        if current.parent == current:
            break
        current = current.parent
    return missing, current


def check_folder(folder: PathLike, *, make: bool = True, what: str = "output folder") -> Path:
    """Check that `folder` is (or, with `make`, can be made as) a writable folder; nothing is created.

    Raises a located `CaffecxError`: a file on the way, a missing folder (without `make`), no write
    permission."""
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"an output folder must be a path, not {type(folder).__name__}")
    path = Path(os.fspath(folder) or ".")
    if "\0" in str(path):
        raise _fail(f"the {what} name contains a NUL byte", str(path).replace("\0", "\\0"))
    missing, existing = _first_missing(path)
    if not existing.is_dir():
        shown = existing if existing != path else path
        raise _fail(f"is a file, not a folder (the {what} {os.fspath(folder)!r} cannot be made there)"
                    if shown != path else f"is a file, not a folder (wanted as the {what})", shown)
    if missing is not None and not make:
        raise _fail(f"the {what} does not exist", path)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise _fail(f"cannot write in this folder (permission denied; wanted for the {what})", existing)
    return path


def check_target(target: PathLike, *, suffixes: Iterable[str] | None = None,
                 make_parents: bool = False, what: str = "output") -> Path:
    """Check that the file `target` can be written: a known suffix (`suffixes`, lower case with the
    dot; None accepts any), not a folder, its folder writable (made when `make_parents`)."""
    if not isinstance(target, (str, os.PathLike)):
        raise TypeError(f"an output file must be a path, not {type(target).__name__}")
    if "\0" in os.fspath(target):
        raise _fail(f"the {what} name contains a NUL byte", os.fspath(target).replace("\0", "\\0"))
    path = Path(os.fspath(target))
    if not os.fspath(target) or os.fspath(target).endswith(os.sep) or path.name in ("", ".", ".."):
        raise _fail(f"names a folder, not a file (the {what} is a file)", target)
    if suffixes is not None:
        allowed = tuple(s.lower() for s in suffixes)
        if path.suffix.lower() not in allowed:
            raise _fail(f"unknown suffix {path.suffix or '(none)'!r} for the {what} "
                        f"(expected {', '.join(allowed)})", target)
    check_folder(path.parent, make=make_parents, what=f"folder of the {what}")
    if path.is_dir():
        raise _fail(f"is a folder, not a file (the {what} is a file)", target)
    return path


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


class Outputs:
    """A set of output files written all or nothing (see the module docstring)."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []  # (staged file, target)
        self._tmpdirs: dict[Path, Path] = {}  # target folder -> its staging folder
        self._made: list[Path] = []  # folders made for the outputs (outermost first)
        self._done = False

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    def _staging_folder(self, folder: Path, make_parents: bool) -> Path:
        key = Path(os.path.abspath(folder))
        if key in self._tmpdirs:
            return self._tmpdirs[key]
        missing, _ = _first_missing(key)
        try:
            if missing is not None:
                key.mkdir(parents=True, exist_ok=True)
                self._made.append(missing)
            tmp = Path(tempfile.mkdtemp(prefix=".caffecx-", suffix=".tmp", dir=key))
        except OSError as err:
            raise _fail(f"cannot write in this folder ({err.strerror})", folder) from None
        self._tmpdirs[key] = tmp
        return tmp

    def stage(self, target: PathLike, *, suffixes: Iterable[str] | None = None,
              make_parents: bool = False, what: str = "output") -> Path:
        """A path in the staging folder to write `target`'s content to; it moves to `target` at commit."""
        path = check_target(target, suffixes=suffixes, make_parents=make_parents, what=what)
        if any(t == path for _, t in self._staged):
            raise _fail(f"is written twice by this command (two outputs with the same name as the {what})",
                        target)
        try:
            tmp = self._staging_folder(path.parent, make_parents)
        except BaseException:
            self.discard()
            raise
        staged = tmp / f"{len(self._staged)}-{path.name}"
        self._staged.append((staged, path))
        return staged

    def add(self, target: PathLike, data: bytes, *, suffixes: Iterable[str] | None = None,
            make_parents: bool = False, what: str = "output") -> Path:
        """Stage `data` (bytes) as the content of `target`."""
        staged = self.stage(target, suffixes=suffixes, make_parents=make_parents, what=what)
        try:
            with open(staged, "wb") as fh:
                fh.write(bytes(data))
        except OSError as err:
            self.discard()
            raise _fail(f"cannot write ({err.strerror})", target) from None
        return staged

    def commit(self) -> list[Path]:
        """Move every staged file into place (or none: a failure restores what was moved)."""
        if self._done:
            return [t for _, t in self._staged]
        moved: list[tuple[Path, Path | None]] = []  # (target, backup of the file it replaced)
        try:
            for staged, target in self._staged:
                if not staged.is_file():
                    raise _fail("was not written", target)
                os.chmod(staged, _mode_for(target))
                backup = None
                if target.is_dir():
                    raise _fail("is a folder, not a file", target)
                if target.exists() or target.is_symlink():
                    backup = staged.with_name(staged.name + ".old")
                    os.replace(target, backup)
                moved.append((target, backup))
                os.replace(staged, target)
        except (OSError, CaffecxError) as err:
            self._roll_back(moved)
            self.discard()
            if isinstance(err, CaffecxError):
                raise
            where = moved[-1][0] if moved else (self._staged[0][1] if self._staged else ".")
            raise _fail(f"cannot write ({err.strerror})", where) from None
        except BaseException:
            self._roll_back(moved)
            self.discard()
            raise
        self._done = True
        self._cleanup(keep_made=True)
        return [t for _, t in self._staged]

    def _roll_back(self, moved: list[tuple[Path, Path | None]]) -> None:
        for target, backup in reversed(moved):
            try:
                if backup is not None:
                    os.replace(backup, target)
                else:
                    target.unlink(missing_ok=True)
            except OSError:
                pass

    def discard(self) -> None:
        """Remove everything staged and every folder made for the outputs; targets stay as they were."""
        self._done = True
        self._cleanup(keep_made=False)

    def _cleanup(self, *, keep_made: bool) -> None:
        for tmp in self._tmpdirs.values():
            shutil.rmtree(tmp, ignore_errors=True)
        self._tmpdirs.clear()
        if not keep_made:
            for folder in self._made:
                shutil.rmtree(folder, ignore_errors=True)
        self._made.clear()


def write_outputs(files: dict[PathLike, bytes], *, make_parents: bool = False) -> list[Path]:
    """Write every ``{target: bytes}`` of `files` all or nothing; return the targets."""
    with Outputs() as out:
        for target, data in files.items():
            out.add(target, data, make_parents=make_parents)
    return out.commit()
