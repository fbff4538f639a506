"""The batch command's job lines: every field read, each mistake named for its job, and the
bytes form round-tripping any bytes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posixbackend.isolation.jobs import BatchJob, InvalidJob, JobFileError, read_jobs
from posixbackend.isolation.jsonbytes import decode_bytes, encode_bytes
from posixbackend.isolation.limits import MIB, Limits
from posixbackend.isolation.pool import Job


def lines(*jobs: object) -> list[str]:
    return [json.dumps(job) + "\n" for job in jobs]


@given(st.binary())
def test_any_bytes_round_trip_through_their_json_form(data: bytes) -> None:
    encoded = json.loads(json.dumps(encode_bytes(data)))
    assert decode_bytes(encoded, "x") == data


def test_utf8_is_text_and_other_bytes_are_base64() -> None:
    assert encode_bytes("héllo\n".encode()) == "héllo\n"
    assert encode_bytes(b"\xff\x00") == {"base64": "/wA="}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (3, "must be a string or"),
        ({"base64": "!!"}, "not valid base64"),
        ({"base64": "QQ==", "extra": 1}, "must be a string or"),
        ("\ud800", "lone surrogate"),
    ],
)
def test_bad_bytes_values_are_named(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_bytes(value, '"stdin"')


def test_every_field_is_read(tmp_path: Path) -> None:
    job = {
        "id": "all",
        "code": "print(1)",
        "files": {"/data/a.txt": "text", "/data/../b.bin": {"base64": "AAE="}},
        "stdin": {"base64": "/w=="},
        "argv": ["x", "y"],
        "env": {"K": "V"},
        "limits": {"cpu": 2, "memory": "64M", "wall": None, "open_files": 16},
    }
    (read,) = read_jobs(lines(job), Limits(output_bytes=1000), tmp_path)
    expected = Job(
        "print(1)",
        files={"/data/a.txt": b"text", "/b.bin": b"\x00\x01"},
        stdin=b"\xff",
        argv=("x", "y"),
        env={"K": "V"},
        limits=Limits(cpu_seconds=2, memory_bytes=64 * MIB, wall_seconds=None, open_files=16,
                      output_bytes=1000),
    )  # fmt: skip
    assert read == BatchJob("all", expected, 1)


def test_a_script_path_is_relative_to_the_jobs_file(tmp_path: Path) -> None:
    (read,) = read_jobs(lines({"id": 7, "path": "s.py"}), base=tmp_path)
    assert isinstance(read, BatchJob) and read.job.code == tmp_path / "s.py"
    assert read.job.limits == Limits()  # the defaults, when the command gives none


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"id": "a"}, 'exactly one of "code"'),
        ({"id": "a", "code": "", "path": "x"}, 'exactly one of "code"'),
        ({"id": "a", "code": 3}, '"code" must be a string'),
        ({"id": "a", "code": "", "limit": {}}, "unknown field 'limit'"),
        ({"id": "a", "code": "", "files": {"rel/path": ""}}, "must be an absolute path"),
        ({"id": "a", "code": "", "files": {"/": ""}}, "cannot be the root"),
        ({"id": "a", "code": "", "files": []}, '"files" must be an object'),
        ({"id": "a", "code": "", "argv": "x"}, '"argv" must be an array'),
        ({"id": "a", "code": "", "argv": [1]}, 'an item of "argv" must be a string'),
        ({"id": "a", "code": "", "env": {"K": 1}}, r"\"env\"\['K'\] must be a string"),
        ({"id": "a", "code": "", "stdin": 5}, '"stdin" must be a string or'),
        ({"id": "a", "code": "", "limits": {"cpus": 1}}, "expected NAME=VALUE"),
        ({"id": "a", "code": "", "limits": {"cpu": -1}}, "positive"),
        ({"id": "a", "code": "", "limits": {"memory": "lots"}}, "bad value"),
        ({"id": "a", "code": "", "limits": {"cpu": True}}, "a number, a string or null"),
        ({"id": "a", "path": ""}, '"path" must name a file'),
    ],
)
def test_a_bad_field_makes_an_invalid_job_with_its_id(job: object, message: str) -> None:
    (read,) = read_jobs(lines(job))
    assert isinstance(read, InvalidJob)
    assert (read.id, read.line) == ("a", 1)
    assert re.search(message, read.error), read.error


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json\n", "line 2: not a JSON object"),
        ("[1]\n", "line 2: not a JSON object"),
        ('{"code": "x"}\n', 'line 2: the job has no "id"'),
        ('{"id": true, "code": "x"}\n', 'line 2: "id" must be'),
        ('{"id": "", "code": "x"}\n', 'line 2: "id" must be'),
        ('{"id": 1.5, "code": "x"}\n', 'line 2: "id" must be'),
        ('{"id": "ok", "code": "x"}\n', 'line 2: the id "ok" is already the id of line 1'),
    ],
)
def test_a_line_without_a_readable_unique_id_stops_everything(text: str, message: str) -> None:
    with pytest.raises(JobFileError, match=message) as raised:
        read_jobs(['{"id": "ok", "code": ""}\n', text])
    assert raised.value.line == 2


def test_ids_of_different_types_differ_and_blank_lines_are_skipped() -> None:
    read = read_jobs(['{"id": 1, "code": ""}\n', "\n", '{"id": "1", "code": ""}\n'])
    assert [(job.id, job.line) for job in read] == [(1, 1), ("1", 3)]
