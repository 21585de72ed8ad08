"""The --watch folders themselves: each one's watch, and whether it must be watched again.

A folder removed and created again, or swapped for another, is a new inode that the old watch
no longer sees; a folder deleted or moved away leaves a dead watch even if a new folder takes
its name (and, often, its inode number). A folder below them that could not be read when it
was watched has no watch of its own (inotify refuses one), so once it is readable again it is
watched apart, until every folder is watched afresh.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from watchdog.events import FileSystemEventHandler
from watchdog.observers.api import BaseObserver, ObservedWatch

from lic_exporter.daemon.events import CHANGE_EVENTS

log = logging.getLogger("lic_exporter")


class WatchedRoots:
    def __init__(self, folders: list[Path]):
        self.folders = [folder.resolve() for folder in folders]  # events name absolute paths
        self._watches: dict[Path, tuple[ObservedWatch, tuple[int, int]]] = {}  # folder -> (watch, identity)
        self._dead: set[Path] = set()
        self._again: dict[str, ObservedWatch] = {}  # folders below, readable again: watched apart

    def watch(self, observer: BaseObserver, handler: FileSystemEventHandler) -> None:
        """(Re)watch each folder, recursively; one that is not there is logged and watched
        again once it is back."""
        for extra in self._again.values():
            with contextlib.suppress(KeyError, OSError):
                observer.unschedule(extra)
        self._again.clear()
        for folder in self.folders:
            self._watch_root(observer, handler, folder)

    def _watch_root(self, observer: BaseObserver, handler: FileSystemEventHandler, folder: Path) -> None:
        old = self._watches.pop(folder, None)
        if old is not None:
            with contextlib.suppress(KeyError, OSError):  # watchdog may have dropped it already
                observer.unschedule(old[0])
        try:
            stat = folder.stat()
        except OSError as exc:
            log.error("--watch %s: %s; watching again when it is back", folder, exc.strerror)
            return
        watch = observer.schedule(handler, str(folder), recursive=True, event_filter=CHANGE_EVENTS)
        self._watches[folder] = (watch, (stat.st_dev, stat.st_ino))

    def watch_again(self, observer: BaseObserver, handler: FileSystemEventHandler, folder: str) -> None:
        """`folder` can be read again: watch it (and what is below it) anew. A watched folder's
        own watch is made again (watchdog would keep the one inotify refused); one below is
        watched on its own, and should it have kept a watch all along, its events come twice,
        which costs a second look at a file and nothing else."""
        if Path(folder) in self.folders:
            self._watch_root(observer, handler, Path(folder))
            return
        if folder in self._again:
            return
        try:
            self._again[folder] = observer.schedule(handler, folder, recursive=True, event_filter=CHANGE_EVENTS)
        except OSError as exc:  # gone again, or the inotify limits reached: the next rewatch tries
            log.warning("%s: cannot watch it: %s; its changes are seen at the next rescan", folder, exc.strerror)

    def root_of(self, path: str) -> Path | None:
        """The watched folder that `path` is below (the innermost, should they nest)."""
        below = [folder for folder in self.folders if path.startswith(str(folder).rstrip(os.sep) + os.sep)]
        return max(below, key=lambda folder: len(str(folder))) if below else None

    def gone(self, folder: str) -> None:
        """A folder was deleted or moved away: if it is a watched folder, its watch is dead."""
        for root in self.folders:
            if str(root) == folder.rstrip(os.sep):
                self._dead.add(root)

    def changed(self) -> bool:
        """Whether a watched folder is back after it went, or is another folder (or none) than
        the one watched: then every folder must be watched again."""
        if any(folder.is_dir() for folder in list(self._dead)):
            self._dead.clear()
            return True
        for folder in self.folders:
            try:
                stat = folder.stat()
                identity: tuple[int, int] | None = (stat.st_dev, stat.st_ino)
            except OSError:
                identity = None
            if identity != (self._watches[folder][1] if folder in self._watches else None):
                return True
        return False
