"""The --watch folders themselves: each one's watch, and whether it must be watched again.

A folder removed and created again, or swapped for another, is a new inode that the old watch
no longer sees; a folder deleted or moved away leaves a dead watch even if a new folder takes
its name (and, often, its inode number).
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

    def watch(self, observer: BaseObserver, handler: FileSystemEventHandler) -> None:
        """(Re)watch each folder, recursively; one that is not there is logged and watched
        again once it is back."""
        for folder in self.folders:
            old = self._watches.pop(folder, None)
            if old is not None:
                with contextlib.suppress(KeyError, OSError):  # watchdog may have dropped it already
                    observer.unschedule(old[0])
            try:
                stat = folder.stat()
            except OSError as exc:
                log.error("--watch %s: %s; watching again when it is back", folder, exc.strerror)
                continue
            watch = observer.schedule(handler, str(folder), recursive=True, event_filter=CHANGE_EVENTS)
            self._watches[folder] = (watch, (stat.st_dev, stat.st_ino))

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
