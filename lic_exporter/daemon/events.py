"""Watchdog events -> what changed: which events mean a change, and which paths under a
watched folder they mark for parsing (or, for a folder whose permissions changed, look at)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from watchdog.events import (
    DirAttribEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

# Events that mean a change; reading a file (ours included) raises "opened" and
# "closed_no_write", which must not start another read. The filter also keeps the kernel
# from queueing those events at all: a scan of 20,000 files would overflow inotify's queue.
# "attrib" (chmod, chown, touch; never a read) is how a file or folder that could not be read
# becomes readable, or the other way round.
CHANGES = frozenset({"created", "modified", "moved", "deleted", "closed", "attrib"})
CHANGE_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileDeletedEvent, FileClosedEvent, FileAttribEvent,
    DirCreatedEvent, DirMovedEvent, DirDeletedEvent, DirAttribEvent]
try:  # watchdog 7 reports an overflow of the kernel's queue, to a watch whose filter lists it
    from watchdog.events import EventsLostEvent

    CHANGE_EVENTS.append(EventsLostEvent)
except ImportError:  # an older watchdog drops the lost events without a word
    pass

log = logging.getLogger("lic_exporter")


def _dot_named(path: str | bytes) -> bool:
    return os.path.basename(os.fsdecode(path)).startswith(".")


class FolderEvents(FileSystemEventHandler):
    """Hands each change below a watched folder on: `mark` a file that changed, `mark_tree` a
    folder whose every file may have, `root_gone` a folder that was deleted or moved away
    (which may be a watched folder itself), `folder_changed` a folder whose permissions (or
    other attributes) changed, which may have become readable or unreadable."""

    def __init__(self, mark: Callable[[str], None], mark_tree: Callable[[str], None],
                 root_gone: Callable[[str], None], folder_changed: Callable[[str], None] = lambda folder: None):
        self.mark = mark
        self.mark_tree = mark_tree
        self.root_gone = root_gone
        self.folder_changed = folder_changed

    def on_events_lost(self, event: FileSystemEvent) -> None:
        """The kernel dropped events below a watched folder (its queue overflowed: a burst of
        changes among many folders): any file there may have changed unseen, so every one is
        read again, as after a move."""
        folder = os.fsdecode(event.src_path)
        log.warning("%s: inotify's queue overflowed and changes may have been missed; reading every file "
                    "below it again", folder)
        self.mark_tree(folder)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in CHANGES:  # our own reading opens and closes files too
            return
        if _dot_named(event.src_path) and not (event.dest_path and not _dot_named(event.dest_path)):
            return  # a temporary file being written (a collector's transcript): only its rename counts
        if event.is_directory:
            if event.event_type == "attrib":
                self.folder_changed(os.fsdecode(event.src_path))
            if event.event_type in ("moved", "deleted"):
                self.root_gone(os.fsdecode(event.src_path))
                self.mark_tree(os.fsdecode(event.src_path))
            if event.event_type in ("moved", "created"):  # a folder of outputs moved in at once
                self.mark_tree(os.fsdecode(event.dest_path or event.src_path))
            return
        self.mark(os.fsdecode(event.src_path))
        if event.event_type == "moved" and not _dot_named(event.dest_path):
            self.mark(os.fsdecode(event.dest_path))
