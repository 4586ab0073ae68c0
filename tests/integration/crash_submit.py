"""Run by test_crash: submit a document and die (os._exit), as a killed process would: between
the content write and the commit (``commit``), or half-way through the content's write
(``write``). Settings come from the environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

from dmp.bootstrap import build
from dmp.services import submission
from dmp.services.directory import find_professional, professional_actor
from dmp.settings import load_settings
from tests.factories import pdf_submission


def die(*_args: object, **_kwargs: object) -> None:
    os._exit(17)


def dying_stream(*args: Any, **kwargs: Any) -> Iterator[bytes]:
    """The sealed content, cut after its first piece has gone to the blob store."""
    sealed: Iterable[bytes] = encrypt_stream(*args, **kwargs)
    for chunk in sealed:
        yield chunk
        die()


encrypt_stream = submission.encrypt_stream


def main() -> None:
    rpps, dmp_id, moment = sys.argv[1], UUID(sys.argv[2]), sys.argv[3]
    ctx = build(load_settings())
    actor = professional_actor(ctx, find_professional(ctx, rpps))
    if moment == "commit":
        submission._insert = die  # type: ignore[assignment]
    else:
        submission.encrypt_stream = dying_stream  # type: ignore[assignment]
    submission.submit_documents(ctx, actor, dmp_id, [pdf_submission()])


if __name__ == "__main__":
    main()
