"""Run by test_crash: submit a document and die (os._exit) between the content write and the
commit, as a killed process would. Settings come from the environment."""

from __future__ import annotations

import os
import sys
from uuid import UUID

from dmp.bootstrap import build
from dmp.services import submission
from dmp.services.directory import find_professional, professional_actor
from dmp.settings import load_settings
from tests.factories import pdf_submission


def main() -> None:
    rpps, dmp_id = sys.argv[1], UUID(sys.argv[2])
    ctx = build(load_settings())
    actor = professional_actor(ctx, find_professional(ctx, rpps))

    def die(*_args: object, **_kwargs: object) -> None:
        os._exit(17)

    submission._insert = die  # type: ignore[assignment]
    submission.submit_documents(ctx, actor, dmp_id, [pdf_submission()])


if __name__ == "__main__":
    main()
