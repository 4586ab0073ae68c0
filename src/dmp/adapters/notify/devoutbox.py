"""The demo's notifier — demo mode only (``dmp.bootstrap`` never picks it outside): nothing leaves
the machine. Each message is printed on the console of the process that sends it (``dmp demo``'s
output) and kept as a file in a folder, so that a demo page can show the latest ones (a one-time
login code, say): ``recent``.

The demo's people are synthetic; keeping their addresses and codes in clear is the point here, and
the reason this notifier stays out of production.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from dmp.adapters.files import private_dir, write_private
from dmp.adapters.notify.base import CHANNELS, EMAIL, Message


@dataclass(frozen=True, slots=True)
class SentMessage:
    at: datetime
    message: Message


class DevOutbox:
    channels = CHANNELS

    def __init__(self, folder: Path, console: TextIO | None = None) -> None:
        self.folder = folder
        self._console = console  # None: the process's standard output at the time of sending

    def send(self, message: Message) -> None:
        at = datetime.now(UTC)
        self._keep(SentMessage(at, message))
        self._show(message)

    def recent(self, limit: int = 20) -> list[SentMessage]:
        """The latest ``limit`` messages, newest first."""
        if not self.folder.is_dir():
            return []
        names = sorted((p.name for p in self.folder.glob("*.json")), reverse=True)
        return [_read(self.folder / name) for name in names[:limit]]

    def _keep(self, sent: SentMessage) -> None:
        """Written aside, then renamed: ``recent`` never reads half a message. The name starts
        with the time, so that names sort as messages were sent."""
        m = sent.message
        private_dir(self.folder)  # the messages name patients and carry their one-time codes
        name = f"{sent.at:%Y%m%dT%H%M%S%f}-{m.reference}-{m.channel}.json"
        fields = {"at": sent.at.isoformat(), "channel": m.channel, "address": m.address}
        fields |= {"subject": m.subject, "body": m.body, "reference": m.reference}
        partial = self.folder / f".{name}.part"
        write_private(partial, json.dumps(fields, ensure_ascii=False))
        os.replace(partial, self.folder / name)

    def _show(self, message: Message) -> None:
        console = self._console or sys.stdout
        if message.channel == EMAIL:
            head = f"[DMP démo] E-mail à {message.address} — {message.subject}"
        else:
            head = f"[DMP démo] SMS au {message.address}"
        print(f"{head}\n    {message.body}", file=console, flush=True)


def _read(path: Path) -> SentMessage:
    fields = json.loads(path.read_text(encoding="utf-8"))
    at = datetime.fromisoformat(fields.pop("at"))
    return SentMessage(at, Message(**fields))
