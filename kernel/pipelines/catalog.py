"""The pipelines Notewell knows: the packaged ones plus the files in ``NOTEWELL_PIPELINE_DIRS``.

Folders are read in order — first the packaged folder of ``notewell.pipelines``, then
each configured folder — and a later file replaces an earlier pipeline of the same
``name``, so an operator can override a shipped pipeline. ``*.yaml`` and ``*.yml``
files are read (not sub-folders). A file that does not load is listed with its
issues and is not runnable.

``reload()`` re-reads only files whose size or modification time changed; with
``auto_reload`` (development mode) every look-up does that first. Reading is plain
file I/O: call it from a worker thread when on the event loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from notewell.kernel.pipelines.issues import Issue
from notewell.kernel.pipelines.loader import LoadedPipeline, PipelineLoadError, load_pipeline

if TYPE_CHECKING:
    from notewell.kernel.settings import Settings

log = logging.getLogger("notewell.pipelines")

PATTERNS = ("*.yaml", "*.yml")


class PipelineNotFound(LookupError):
    """No loadable pipeline has that name."""


def packaged_pipeline_dir() -> Path:
    """The folder of the pipelines that ship with Notewell (``notewell.pipelines``)."""
    import notewell.pipelines

    # a namespace package: its first real folder (editable installs add a path hook)
    folders = [Path(entry) for entry in notewell.pipelines.__path__]
    return next((folder for folder in folders if folder.is_dir()), folders[0])


def pipeline_dirs(settings: Settings) -> list[Path]:
    """The packaged folder, then the folders named by ``NOTEWELL_PIPELINE_DIRS``."""
    return [packaged_pipeline_dir(), *settings.pipeline_dirs]


@dataclass(frozen=True)
class CatalogEntry:
    """One pipeline file: its pipeline when it loaded, else the issues that stopped it."""

    name: str
    path: Path
    loaded: LoadedPipeline | None
    issues: tuple[Issue, ...] = ()

    @property
    def version(self) -> str:
        return self.loaded.spec.version if self.loaded else ""

    @property
    def description(self) -> str:
        return self.loaded.spec.description if self.loaded else ""

    def to_public(self) -> dict[str, object]:
        """The entry as ``pipeline list --json`` and the API show it."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "file": str(self.path),
            "content_hash": self.loaded.content_hash if self.loaded else None,
            "issues": [issue.to_dict() for issue in self.issues],
        }


@dataclass(frozen=True)
class _Stamp:
    mtime_ns: int
    size: int


class PipelineCatalog:
    """Pipeline files from ``dirs``, loaded and indexed by pipeline name."""

    def __init__(self, dirs: Iterable[Path], *, auto_reload: bool = False) -> None:
        self.dirs = [Path(d) for d in dirs]
        self.auto_reload = auto_reload
        self._lock = threading.Lock()
        self._files: dict[Path, tuple[_Stamp, CatalogEntry]] = {}
        self._by_name: dict[str, CatalogEntry] = {}
        self._loaded_once = False

    def reload(self) -> bool:
        """Re-read changed, new and removed files; ``True`` if anything changed."""
        with self._lock:
            changed = self._rescan()
            if changed or not self._loaded_once:
                self._by_name = self._index()
                self._loaded_once = True
            return changed

    def entries(self) -> list[CatalogEntry]:
        """Every file's entry (runnable or not), sorted by name then path."""
        self._fresh()
        return sorted(
            (entry for _, entry in self._files.values()), key=lambda e: (e.name, str(e.path))
        )

    def get(self, name: str) -> LoadedPipeline:
        """The pipeline called ``name``; raises ``PipelineNotFound``."""
        self._fresh()
        entry = self._by_name.get(name)
        if entry is None or entry.loaded is None:
            raise PipelineNotFound(name)
        return entry.loaded

    def names(self) -> list[str]:
        """Names of the runnable pipelines, sorted."""
        self._fresh()
        return sorted(name for name, entry in self._by_name.items() if entry.loaded)

    def _fresh(self) -> None:
        if self.auto_reload or not self._loaded_once:
            self.reload()

    def _rescan(self) -> bool:
        seen: set[Path] = set()
        changed = False
        for path in self._paths():
            seen.add(path)
            try:
                stat = path.stat()
            except OSError:
                continue  # removed between listing and stat: gone next time
            stamp = _Stamp(stat.st_mtime_ns, stat.st_size)
            known = self._files.get(path)
            if known is None or known[0] != stamp:
                self._files[path] = (stamp, _load(path))
                changed = True
        for gone in set(self._files) - seen:
            del self._files[gone]
            changed = True
        return changed

    def _paths(self) -> list[Path]:
        found: list[Path] = []
        for folder in self.dirs:
            if not folder.is_dir():
                log.warning("pipeline folder %s does not exist", folder)
                continue
            files = {p for pattern in PATTERNS for p in folder.glob(pattern) if p.is_file()}
            found.extend(sorted(files))
        return found

    def _index(self) -> dict[str, CatalogEntry]:
        by_name: dict[str, CatalogEntry] = {}
        for path in self._paths():
            if path not in self._files:
                continue
            entry = self._files[path][1]
            if entry.loaded is None:
                continue
            previous = by_name.get(entry.name)
            if previous is not None:
                log.info("pipeline %s in %s replaces %s", entry.name, path, previous.path)
            by_name[entry.name] = entry
        return by_name


def _load(path: Path) -> CatalogEntry:
    try:
        loaded = load_pipeline(path)
    except PipelineLoadError as exc:
        return CatalogEntry(path.stem, path, None, tuple(exc.issues))
    return CatalogEntry(loaded.spec.name, path, loaded)
