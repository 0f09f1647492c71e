"""verify --learn without an engine: the diff-to-facts reduction, /proc parsing, the facts file
writer and reader, and how observed writes change run-as-non-root's plan."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from hardener.knowledge import facts_toml, writes_facts
from hardener.knowledge.facts_toml import Recording
from hardener.knowledge.writable import plan
from hardener.knowledge.writes import AppWrites, Unknown, Write
from hardener.lab import observe
from hardener.lab.observe import PathFact

DIR, FILE = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644


def _sig(mode: int, size: int = 0, mtime: int = 1) -> observe.Signature:
    return (stat.S_IFMT(mode), mode, 0, 0, size, mtime, "")


BASE = {"/app": _sig(DIR), "/app/app.py": _sig(FILE, 10), "/app/data": _sig(DIR), "/app/data/seed.db": _sig(FILE, 5),
        "/etc": _sig(DIR), "/tmp": _sig(DIR), "/app/cfg": _sig(DIR), "/app/cfg/old.lock": _sig(FILE)}


def test_new_directory_stands_for_everything_below_it() -> None:
    after = {**BASE, "/app/spool": _sig(DIR), "/app/spool/a": _sig(DIR), "/app/spool/a/x.job": _sig(FILE, 3)}
    assert observe.written(BASE, after) == [PathFact("/app/spool", True)]


def test_changed_and_new_files_deleted_entries_and_churned_directories() -> None:
    after = dict(BASE)
    after["/app/data/seed.db"] = _sig(FILE, 9, 2)  # rewritten
    after["/app/app.log"] = _sig(FILE, 1)  # new file in an existing directory
    del after["/app/cfg/old.lock"]  # deleted: its directory is written
    after["/etc"] = _sig(DIR, 0, 7)  # a file created and removed again: only the mtime moved
    assert observe.written(BASE, after) == [PathFact("/app/app.log", False), PathFact("/app/cfg", True),
                                            PathFact("/app/data/seed.db", False), PathFact("/etc", True)]


def test_directory_changed_because_of_a_new_child_is_not_a_fact_of_its_own() -> None:
    after = {**BASE, "/app/data": _sig(DIR, 0, 9), "/app/data/new.db": _sig(FILE, 1)}
    assert observe.written(BASE, after) == [PathFact("/app/data/new.db", False)]


@pytest.mark.parametrize("path", ["/tmp/x", "/var/tmp/y", "/run/.containerenv", "/etc/hosts", "/etc/resolv.conf",
                                  "/app/__pycache__", "/app/mod.pyc", "/root/.cache", "/root/.npm",
                                  "/var/cache/apt", "/dev/shm/z", "/proc/1"])
def test_scratch_runtime_files_and_caches_are_never_facts(path: str) -> None:
    parent = os.path.dirname(path)
    before = {**BASE, parent: _sig(DIR)}
    assert observe.written(before, {**before, path: _sig(FILE)}) == []


def test_snapshot_walks_a_real_tree(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.py").write_text("x")
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "1").write_text("")
    before = observe.snapshot(str(tmp_path))
    assert set(before) == {"/app", "/app/a.py"}
    (tmp_path / "app" / "logs").mkdir()
    (tmp_path / "app" / "logs" / "x.log").write_text("line\n")
    assert observe.written(before, observe.snapshot(str(tmp_path))) == [PathFact("/app/logs", True)]


TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1120 1 0
   1: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 733675 1 0
   2: 0100007F:1F40 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 733690 1 0
"""


def test_ports_are_the_listening_sockets_of_the_container_processes_only() -> None:
    inodes = observe.socket_inodes(["socket:[733675]", "socket:[733690]", "/dev/null", "pipe:[5]"])
    assert inodes == {"733675", "733690"}
    # 2024 (inode 1120) is a host socket seen through the shared network namespace: not ours
    assert observe.listen_ports({"1/tcp": TCP, "1/tcp6": TCP.splitlines()[0]}, inodes) == ["8000/tcp"]


def test_uid_and_session_from_proc() -> None:
    assert observe.status_uid("Name:\tpython\nUid:\t10001\t10001\t10001\t10001\n") == 10001
    assert observe.session_of("42 (python app) S 41 42 40 0 -1") == 40


REC = Recording("Dockerfile", "ab" * 32, "sha256:1", "2026-01-01", (0,), ("8000/tcp",),
                (("/app/spool", True), ("/app/app.log", False)))


def test_facts_file_is_deterministic_and_read_back(tmp_path: Path) -> None:
    text = facts_toml.merge(None, REC)
    data = tomllib.loads(text)
    assert [w["path"] for w in data["writes"]] == ["/app/app.log", "/app/spool"]  # sorted
    assert data["learned"][0]["ports"] == ["8000/tcp"] and data["learned"][0]["uids"] == [0]
    (tmp_path / writes_facts.FACTS_FILE).write_text(text)
    got = writes_facts.observed(tmp_path, "Dockerfile")
    assert [(w.path, w.is_dir, w.source) for w in got] == [("/app/app.log", False, "observed"), ("/app/spool", True, "observed")]
    assert writes_facts.observed(tmp_path, "Dockerfile.dev") == []  # another Dockerfile's run
    assert writes_facts.learned(tmp_path)[0].ports == ("8000/tcp",)


def test_same_behaviour_keeps_the_old_stamp_and_bytes() -> None:
    first = facts_toml.merge(None, REC)
    later = Recording(REC.dockerfile, REC.dockerfile_sha256, "sha256:2", "2026-02-02",
                      REC.uids, REC.ports, tuple(reversed(REC.writes)))
    assert facts_toml.merge(first, later) == first
    moved = Recording(REC.dockerfile, REC.dockerfile_sha256, "sha256:2", "2026-02-02", REC.uids, (), REC.writes)
    assert 'date = "2026-02-02"' in facts_toml.merge(first, moved)


def test_merge_keeps_other_dockerfiles_and_hand_written_writes() -> None:
    hand = '# by hand\n[[writes]]\npath = "/var/lib/inventory/inventory.db"\n'
    dev = Recording("Dockerfile.dev", "cd" * 32, "sha256:3", "2026-01-01", (0,), (), (("/app/dev", True),))
    text = facts_toml.merge(facts_toml.merge(hand, dev), REC)
    data = tomllib.loads(text)
    assert sorted(r["dockerfile"] for r in data["learned"]) == ["Dockerfile", "Dockerfile.dev"]
    assert {w["path"] for w in data["writes"]} == {"/var/lib/inventory/inventory.db", "/app/dev", "/app/spool",
                                                   "/app/app.log"}
    again = Recording("Dockerfile", REC.dockerfile_sha256, "sha256:1", "2026-01-01", (0,), (), ())
    assert "/app/spool" not in facts_toml.merge(text, again)  # this Dockerfile's old writes are replaced


def test_an_old_facts_file_still_loads(tmp_path: Path) -> None:
    (tmp_path / writes_facts.FACTS_FILE).write_text('[[writes]]\npath = "/data/x.db"\n')
    assert [w.path for w in writes_facts.observed(tmp_path, "Dockerfile")] == ["/data/x.db"]
    assert writes_facts.learned(tmp_path) == []


GAP = Unknown("code", "app.py:16", "os.makedirs(spool) writes a path not known before run time")


def test_observed_writes_stand_for_an_unresolved_write() -> None:
    static = plan(AppWrites((), (GAP,), "/app"), [])
    assert getattr(static, "widen", None) == GAP
    facts = AppWrites((Write("/app/spool", True, "observed", "hardener.facts.toml"),), (GAP,), "/app")
    learned = plan(facts, [])
    assert getattr(learned, "widen", "x") is None and getattr(learned, "dirs", ()) == ("/app/spool",)
    assert Write("/app/spool", True, "observed", "hardener.facts.toml").cite() == \
        "observed: writes /app/spool (hardener.facts.toml)"


def test_learn_without_buildah_says_so_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nCMD [\"python\"]\n")
    hardener = str(Path(sys.executable).parent / "hardener")
    proc = subprocess.run([hardener, "verify", "--learn", str(tmp_path)], capture_output=True, text=True,
                          env={**os.environ, "PATH": str(tmp_path / "empty")})
    assert proc.returncode == 2
    assert "needs buildah" in proc.stderr or "needs root" in proc.stderr
    assert not (tmp_path / writes_facts.FACTS_FILE).exists()


def test_help_documents_learn() -> None:
    from click.testing import CliRunner

    from hardener.cli import main

    out = CliRunner().invoke(main, ["verify", "--help"]).output
    assert "--learn" in out and "hardener.facts.toml" in out


def test_explain_facts_documents_learn() -> None:
    from click.testing import CliRunner

    from hardener.cli import main

    out = CliRunner().invoke(main, ["explain", "facts"]).output
    assert "hardener verify --learn" in out and "[[learned]]" in out


def test_odd_path_names_stay_valid_toml() -> None:
    odd = Recording("Dockerfile", "0" * 64, "sha256:1", "2026-01-01", (), (),
                    (('/app/we"ird\\na\tme\x7f\u00e9', True),))
    assert tomllib.loads(facts_toml.merge(None, odd))["writes"][0]["path"] == '/app/we"ird\\na\tme\x7f\u00e9'
