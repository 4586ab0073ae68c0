"""Where notifications go. The outbox table is filled in the same transaction as the action it
reports; ``dispatch`` later hands each message to a ``Notifier``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from dmp.adapters.files import private_dir, write_private


@dataclass(frozen=True, slots=True)
class Message:
    channel: str  # email | sms
    address: str
    subject: str
    body: str


class Notifier(Protocol):
    def send(self, message: Message) -> None: ...


class DevOutbox:
    """Development notifier: each message becomes a text file in a folder, nothing leaves the
    machine. Real e-mail (SMTP) and SMS senders implement the same ``send``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: Message) -> None:
        private_dir(self.folder)  # the messages name patients and carry their one-time codes
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
        write_private(
            self.folder / f"{stamp}-{message.channel}.txt",
            f"À : {message.address}\nCanal : {message.channel}\nObjet : {message.subject}\n\n"
            f"{message.body}\n",
        )
