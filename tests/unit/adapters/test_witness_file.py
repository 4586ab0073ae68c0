"""The witness's file store: lines appended and read back, from the end as from the start; a cut
last line refused to writers; private modes; and it works on a file the system keeps
append-only (``chattr +a``), which refuses any rewrite."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dmp.adapters import witness as module
from dmp.adapters.witness import FileWitness, WitnessUnavailable


@pytest.fixture
def witness(tmp_path: Path) -> FileWitness:
    return FileWitness(tmp_path / "witness")


def _append(witness: FileWitness, *lines: bytes) -> None:
    with witness.writer() as log:
        log.append(lines)


def test_lines_come_back_from_the_start_and_from_the_end(witness, monkeypatch):
    monkeypatch.setattr(module, "_BLOCK", 7)  # lines longer than a block, and across blocks
    lines = [b"one", b"a line longer than one block", b"", b"three"]
    assert not witness.exists()
    _append(witness, *lines[:2])
    _append(witness, *lines[2:])
    assert witness.exists()
    with witness.reader() as read:
        assert list(read) == [line + b"\n" for line in lines]
    with witness.writer() as log:
        assert list(log.backwards()) == lines[::-1]


def test_an_empty_witness_has_no_lines(witness):
    with witness.writer() as log:
        assert list(log.backwards()) == []


def test_the_directory_and_the_file_are_private(witness):
    _append(witness, b"{}")
    assert witness.directory.stat().st_mode & 0o777 == 0o700
    assert witness.path.stat().st_mode & 0o777 == 0o600


def test_a_cut_last_line_stops_the_writers(witness):
    _append(witness, b"complete")
    with witness.path.open("ab") as handle:
        handle.write(b'{"n": 2, "at"')
    with witness.writer() as log, pytest.raises(WitnessUnavailable, match="ligne incomplète"):
        next(log.backwards())
    with witness.reader() as read:
        assert list(read)[-1] == b'{"n": 2, "at"'  # the verification sees it, and says so


def test_a_witness_that_cannot_be_written_is_a_clear_error(tmp_path):
    (tmp_path / "taken").write_text("a file where the directory should be")
    with pytest.raises(WitnessUnavailable, match="Impossible d'écrire"):
        _append(FileWitness(tmp_path / "taken"), b"x")


@pytest.fixture
def append_only(witness: FileWitness) -> Iterator[FileWitness]:
    _append(witness, b"first")
    if subprocess.run(["chattr", "+a", str(witness.path)], check=False).returncode != 0:
        pytest.skip("chattr +a n'est pas possible ici (droits ou système de fichiers)")
    try:
        yield witness
    finally:
        subprocess.run(["chattr", "-a", str(witness.path)], check=True)


def test_it_works_on_an_append_only_file_that_refuses_rewrites(append_only):
    _append(append_only, b"second")
    with append_only.writer() as log:
        assert list(log.backwards()) == [b"second", b"first"]
    with pytest.raises(PermissionError):
        os.open(append_only.path, os.O_WRONLY)  # without O_APPEND
    with pytest.raises(PermissionError):
        os.truncate(append_only.path, 0)
    with pytest.raises(PermissionError):
        append_only.path.unlink()
