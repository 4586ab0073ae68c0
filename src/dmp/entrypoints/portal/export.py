"""The patient's copy of their whole DMP, at ``/export``: a page saying what it holds, and the
ZIP archive itself (``services.export``), posted with the form's CSRF token. The archive is
written to a sealed temporary file (``transit.SealedFile``: encrypted under a key held in
memory only, unlinked — no health data in clear on disk, whatever its size), then streamed."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from dmp.entrypoints.fhir.export import metadata_bundle
from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.web import context_of, page
from dmp.entrypoints.transit import SealedFile, SealedWriter
from dmp.services import export

router = APIRouter(include_in_schema=False)
HOME = "/export"
BLOCK = 256 * 1024


@router.get(HOME)
async def export_page(request: Request) -> Response:
    web.signed_in(request)
    return page(request, "export.html")


@router.post(HOME)
async def export_archive(request: Request) -> Response:
    actor = web.signed_in(request).actor()
    await web.form(request)
    ctx = context_of(request)
    sealed = SealedFile(request.app.state.spool_dir)
    try:
        writer = SealedWriter(sealed)
        describe = metadata_bundle(ctx.valuesets, f"{ctx.settings.public_url}/fhir", ctx.now())
        done = await run_in_threadpool(
            export.export_record, ctx, actor, actor.dmp_id, writer, describe
        )
    except BaseException:
        sealed.close()
        raise
    headers = {
        "Content-Length": str(writer.size),
        "Content-Disposition": f'attachment; filename="{done.file_name}"',
    }
    return StreamingResponse(
        _chunks(sealed, writer.size), media_type="application/zip", headers=headers
    )


def _chunks(sealed: SealedFile, size: int) -> Iterator[bytes]:
    """The archive, read back from the sealed file; the file goes when the answer is sent (or
    the client leaves)."""
    try:
        for offset in range(0, size, BLOCK):
            yield sealed.read(offset, min(BLOCK, size - offset))
    finally:
        sealed.close()
