"""Run by test_delivery: deliver the outbox, and die (os._exit) right after the SMTP server
accepted the first message, before its outcome is recorded, as a killed process would. Settings
come from the environment."""

from __future__ import annotations

import os

from dmp.adapters.notify.base import Message
from dmp.bootstrap import build
from dmp.services.delivery import dispatch
from dmp.settings import load_settings


def main() -> None:
    ctx = build(load_settings())
    send = ctx.notifier.send

    def send_then_die(message: Message) -> None:
        send(message)
        os._exit(17)

    ctx.notifier.send = send_then_die  # type: ignore[method-assign]
    dispatch(ctx)


if __name__ == "__main__":
    main()
