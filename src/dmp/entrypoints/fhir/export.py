"""The metadata of an exported DMP (``services.export``) as the API would give them: a FHIR
``Bundle`` (type ``collection``) of the documents' ``DocumentReference``s, the mapping of
``docref``, each attachment pointing to its file in the archive rather than to the API (the
patient who reads the archive has no access to the API)."""

from __future__ import annotations

from datetime import datetime

from dmp.domain.model import Document
from dmp.domain.valuesets import ValueSets
from dmp.entrypoints.fhir.docref import Json, document_reference, instant
from dmp.services.export import Describe, Files


def metadata_bundle(vs: ValueSets, base: str, now: datetime) -> Describe:
    """What ``services.export`` calls with the documents and their files in the archive."""

    def describe(documents: list[Document], files: Files) -> Json:
        entries = []
        for doc in documents:
            resource = document_reference(doc, vs, base)
            for content, entry in zip(doc.contents, resource["content"], strict=True):
                path = files.get((doc.id, content.position))
                if path is not None:
                    entry["attachment"]["url"] = path
                else:  # not in the archive (destroyed meanwhile): no address to follow
                    del entry["attachment"]["url"]
            entries.append(
                {"fullUrl": f"{base}/DocumentReference/{resource['id']}", "resource": resource}
            )
        return {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": instant(now),
            "entry": entries,
        }

    return describe
