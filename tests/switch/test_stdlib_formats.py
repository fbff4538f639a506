"""filecmp, fileinput, logging handlers, json/csv/configparser, dbm.dumb and shelve on the
managed backend, compared with the same code run natively."""

from __future__ import annotations

import configparser
import contextlib
import csv
import dbm
import dbm.dumb
import filecmp
import fileinput
import io
import json
import logging
import logging.handlers
import os
import shelve
import tempfile
from pathlib import Path

from tests.switch.stdlib_harness import (  # noqa: F401 - a fixture
    compare,
    outcome,
    run_managed,
    run_native,
    tree,
    uninstall_after_module,
)

FIXED = 1_600_000_000


def comparisons(root: str) -> object:
    """filecmp.cmp (shallow and deep), cmpfiles and dircmp over two similar trees."""
    base = Path(root)
    for side, changed in (("left", b"one"), ("right", b"two")):
        (base / side / "sub").mkdir(parents=True)
        (base / side / "same").write_bytes(b"same")
        (base / side / "changed").write_bytes(changed)
        (base / side / "sub" / "deep").write_bytes(b"deep")
        (base / side / f"only-{side}").write_bytes(b"x")
        for name in ("same", "changed"):
            os.utime(base / side / name, (FIXED, FIXED))  # equal signatures for shallow cmp
    (base / "left" / "kind").mkdir()
    (base / "right" / "kind").write_text("file")
    filecmp.clear_cache()
    left, right = base / "left", base / "right"
    report = io.StringIO()
    dircmp = filecmp.dircmp(left, right)
    with contextlib.redirect_stdout(report):
        dircmp.report_full_closure()
    return {
        "cmp_same": filecmp.cmp(left / "same", right / "same"),
        "cmp_shallow": filecmp.cmp(left / "changed", right / "changed"),
        "cmp_deep": filecmp.cmp(left / "changed", right / "changed", shallow=False),
        "cmp_missing": outcome(filecmp.cmp, left / "missing", right / "same"),
        "cmpfiles": filecmp.cmpfiles(left, right, ["same", "changed", "missing", "sub"]),
        "dircmp": (
            dircmp.left_only, dircmp.right_only, dircmp.common_dirs, dircmp.common_files,
            dircmp.same_files, dircmp.diff_files, dircmp.funny_files, dircmp.common_funny,
            sorted(dircmp.subdirs),
        ),
        "report": report.getvalue(),
    }  # fmt: skip


def file_input(root: str) -> object:
    """fileinput over several files, then in place with a backup, and its errors."""
    base = Path(root)
    (base / "a.txt").write_text("a1\na2\n")
    (base / "b.txt").write_text("b1\n")
    (base / "a.txt").chmod(0o640)
    lines = []
    with fileinput.input([base / "a.txt", base / "b.txt"]) as stream:
        for line in stream:
            lines.append((stream.filename(), stream.lineno(), stream.filelineno(), line))
    printed = io.StringIO()
    with (
        contextlib.redirect_stdout(printed),
        fileinput.input([base / "a.txt", base / "b.txt"], inplace=True, backup=".bak") as stream,
    ):
        for line in stream:
            print(line.upper(), end="")
    with fileinput.input(base / "a.txt", mode="rb") as binary:
        raw = list(binary)
    missing = outcome(_read_lines, base / "missing")
    return {"lines": lines, "printed": printed.getvalue(), "raw": raw, "missing": missing,
            "tree": tree(root)}  # fmt: skip


def _read_lines(path: Path) -> list[str]:
    """Every line fileinput reads from ``path``."""
    with fileinput.input([path]) as stream:
        return list(stream)


def log_files(root: str) -> object:
    """FileHandler (delayed and not), RotatingFileHandler, WatchedFileHandler."""
    base = Path(root)
    logger = logging.getLogger(f"stdlib-scenario.{id(base)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    format_ = logging.Formatter("%(levelname)s %(message)s")
    handlers: list[logging.Handler] = [
        logging.FileHandler(base / "plain.log"),
        logging.FileHandler(base / "delayed.log", delay=True),
        logging.handlers.RotatingFileHandler(base / "rotating.log", maxBytes=60, backupCount=3),
        logging.handlers.WatchedFileHandler(base / "watched.log"),
    ]
    result: dict[str, object] = {}
    for handler in handlers:
        handler.setFormatter(format_)
        logger.addHandler(handler)
    try:
        result["delayed_before"] = (base / "delayed.log").exists()
        for number in range(12):
            logger.info("message number %d", number)
            if number == 5:  # moved away: WatchedFileHandler reopens by name
                os.rename(base / "watched.log", base / "watched.old")
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
    result["missing_dir"] = outcome(logging.FileHandler, base / "missing" / "x.log")
    result["tree"] = tree(root)
    return result


def round_trips(root: str) -> object:
    """json, csv and configparser written to files and read back."""
    base = Path(root)
    data = {"name": "ünïcode", "list": [1, 2.5, None, True], "nested": {"k": "v"}}
    with open(base / "data.json", "w", encoding="utf-8") as file:
        json.dump(data, file, ensure_ascii=False, indent=2)
    with open(base / "data.json", encoding="utf-8") as file:
        json_back = json.load(file)
    rows = [["id", "text"], ["1", "comma, inside"], ["2", 'quote " inside'], ["3", "line\nbreak"]]
    with open(base / "data.csv", "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    with open(base / "data.csv", newline="", encoding="utf-8") as file:
        csv_back = list(csv.reader(file))
    with open(base / "dict.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=["a", "b"])
        writer.writeheader()
        writer.writerow({"a": "1", "b": "2"})
    with open(base / "dict.csv", newline="", encoding="utf-8") as file:
        dict_back = list(csv.DictReader(file))
    config = configparser.ConfigParser()
    config["server"] = {"host": "localhost", "port": "8080"}
    config["paths"] = {"root": "%(home)s/x", "home": "/home"}
    with open(base / "app.ini", "w") as file:
        config.write(file)
    back = configparser.ConfigParser()
    read = back.read([base / "app.ini", base / "missing.ini"])
    return {
        "json": json_back == data,
        "csv": csv_back == rows,
        "dict_csv": dict_back,
        "ini_read": read,
        "ini": {section: dict(back[section]) for section in back.sections()},
        "ini_port": back.getint("server", "port"),
        "tree": tree(root),
    }


def databases(root: str) -> object:
    """dbm.dumb and shelve: write, reopen, read-only, whichdb, missing files."""
    base = Path(root)
    with dbm.dumb.open(str(base / "dumb"), "c") as db:
        db[b"key"] = b"value"
        db["text"] = "stored"
        db[b"key"] = b"replaced, longer than before"
    with dbm.dumb.open(str(base / "dumb"), "r") as db:
        dumb = {key: db[key] for key in sorted(db.keys())}
        read_only = outcome(db.__setitem__, b"x", b"y")
    with shelve.open(str(base / "shelf"), "c") as shelf:
        shelf["list"] = [1, 2, {"three": 3}]
        shelf["text"] = "shelved"
    with shelve.open(str(base / "shelf"), "r") as shelf:
        shelved = {key: shelf[key] for key in sorted(shelf)}
    return {
        "dumb": dumb,
        "read_only": read_only,
        "shelved": shelved,
        "whichdb": (dbm.whichdb(str(base / "dumb")), dbm.whichdb(str(base / "shelf"))),
        "missing": outcome(dbm.dumb.open, str(base / "missing"), "r"),
        "tree": tree(root, contents=False),
    }


def test_filecmp() -> None:
    compare(comparisons)


def test_fileinput() -> None:
    compare(file_input)


def test_logging_file_handlers() -> None:
    compare(log_files)


def test_json_csv_configparser_round_trips() -> None:
    compare(round_trips)


def native_default_dbm() -> str | None:
    """The kind of database dbm.open makes natively here (3.13's default is dbm.sqlite3)."""
    with tempfile.TemporaryDirectory() as root:
        with dbm.open(os.path.join(root, "probe"), "c"):
            pass
        return dbm.whichdb(os.path.join(root, "probe"))


def compare_databases(*, default_file_system: bool = False) -> None:
    """:func:`databases` natively and managed. Where the native default dbm is 3.13's
    dbm.sqlite3, the managed shelf is one too (SQLite runs on the backend's files); only the
    files beside it differ: SQLite's WAL files natively, none managed (gap sqlite.wal)."""
    if native_default_dbm() == "dbm.dumb":
        compare(databases, default_file_system=default_file_system)
        return
    native = run_native(databases)
    managed = run_managed(databases, default_file_system=default_file_system)
    assert managed["whichdb"] == native["whichdb"] == ("dbm.dumb", native_default_dbm())
    shelf_files = {"shelf", "shelf-shm", "shelf-wal", "shelf.bak", "shelf.dat", "shelf.dir"}
    for side in (native, managed):
        del side["whichdb"]
        side["tree"] = {
            name: facts for name, facts in side["tree"].items() if name not in shelf_files
        }
    assert managed == native


def test_dbm_dumb_and_shelve() -> None:
    compare_databases()


def test_formats_on_the_default_file_system() -> None:
    compare(log_files, default_file_system=True)
    compare_databases(default_file_system=True)
