"""The information brochure handed to the patient before a DMP is created (versioned data)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from dmp.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Brochure:
    version: str
    title: str
    markdown: str


@cache
def current_brochure() -> Brochure:
    text = resources.files("dmp.data").joinpath("brochure/v1.md").read_text(encoding="utf-8")
    try:
        _, front, body = text.split("---", 2)
        meta = yaml.safe_load(front)
        return Brochure(str(meta["version"]), str(meta["title"]), body.strip())
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"brochure malformed: {exc!r}") from exc
