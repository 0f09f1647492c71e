"""compose.yaml + compose.override.yaml: each transform decides on the merged service and edits
the one file the key belongs to (compose/project_service.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener import judges
from hardener.compose.override import pair_of
from hardener.context import Context
from hardener.engine import Options, process
from hardener.model import Transform
from hardener.transforms.cap_drop import CapDrop
from hardener.transforms.compose_healthcheck import ComposeHealthcheck
from hardener.transforms.compose_user import ComposeUser
from hardener.transforms.no_new_privileges import NoNewPrivileges
from hardener.transforms.read_only_root import ReadOnlyRoot


def run_on(tmp_path: Path, files: dict[str, str], target: str,
           transforms: list[Transform]) -> tuple[str, list[str]]:
    """Write the pair, run the real engine on ``target``: (output, refusal reasons)."""
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    path = tmp_path / target
    text = files[target]
    result = process(str(path), "compose", text.encode(), transforms,
                     Context(tmp_path).for_file(path), Options())
    assert result.failure is None and result.error is None
    out = result.output.decode() if result.output is not None else text
    if out != text:
        assert judges.compose_problems(out) == []
        again = process(str(path), "compose", out.encode(), transforms,
                        Context(tmp_path).for_file(path), Options())
        assert again.output is None or again.output.decode() == out  # converges
    return out, [r.reason for r in result.refusals]


BASE = "services:\n  cache:\n    image: redis:7.2\n"
ALL = [CapDrop(), ReadOnlyRoot(), ComposeHealthcheck(), ComposeUser(), NoNewPrivileges()]


@pytest.mark.parametrize(("name", "role", "other"), [
    pytest.param("compose.yaml", "override", "compose.override.yaml", id="compose-base"),
    pytest.param("compose.override.yaml", "base", "compose.yaml", id="compose-override"),
    pytest.param("docker-compose.yml", "override", "docker-compose.override.yml", id="docker-compose-base"),
    pytest.param("docker-compose.override.yml", "base", "docker-compose.yml", id="docker-compose-override"),
    pytest.param("compose.yml", "override", "compose.override.yaml", id="mixed-suffix"),
])
def test_pair_of_finds_the_default_partner(tmp_path: Path, name: str, role: str, other: str) -> None:
    (tmp_path / name).write_text(BASE)
    (tmp_path / other).write_text(BASE)
    assert pair_of(tmp_path / name) == (role, tmp_path / other)


@pytest.mark.parametrize("name", [
    pytest.param("compose.yaml", id="base-alone"),
    pytest.param("compose.override.yaml", id="override-alone"),
    pytest.param("compose.prod.yaml", id="not-a-default-name"),
])
def test_pair_of_leaves_unpaired_files_alone(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(BASE)
    assert pair_of(tmp_path / name) is None


def test_override_sets_image_decided_on_its_image_written_to_the_base(tmp_path: Path) -> None:
    files = {"compose.yaml": BASE, "compose.override.yaml": "services:\n  cache:\n    image: redis:7.4\n"}
    out, why = run_on(tmp_path, files, "compose.yaml", [CapDrop()])
    assert "cap_drop:" in out and "SETUID" in out and why == []  # the base: one file for every project
    out, why = run_on(tmp_path, files, "compose.override.yaml", [CapDrop()])
    assert out == files["compose.override.yaml"] and why == []


def test_override_image_with_other_facts_refuses_in_the_base(tmp_path: Path) -> None:
    files = {"compose.yaml": BASE, "compose.override.yaml": "services:\n  cache:\n    image: example.com/acme/kv:1\n"}
    out, why = run_on(tmp_path, files, "compose.yaml", [ComposeUser()])
    assert out == BASE  # redis's uid would be wrong for the image the merged service runs
    assert why == ["service 'cache': the image 'example.com/acme/kv:1' is not in the knowledge base"]


@pytest.mark.parametrize("override", [
    pytest.param("services:\n  cache:\n    ports:\n      - 6379:6379\n", id="ports"),
    pytest.param("services:\n  cache:\n    environment:\n      A: b\n", id="environment"),
])
def test_override_adds_only_ports_base_hardened_override_reports(tmp_path: Path, override: str) -> None:
    files = {"compose.yaml": BASE, "compose.override.yaml": override}
    out, why = run_on(tmp_path, files, "compose.yaml", ALL)
    assert "cap_drop:" in out and "read_only: true" in out and "no-new-privileges:true" in out
    out, why = run_on(tmp_path, files, "compose.override.yaml", ALL)
    assert out == override  # no "neither image nor build", no duplicate keys
    assert why == []  # an override that only extends the service gets nothing


def test_override_read_only_false_base_refuses_naming_it(tmp_path: Path) -> None:
    files = {"compose.yaml": BASE, "compose.override.yaml": "services:\n  cache:\n    read_only: false\n"}
    out, why = run_on(tmp_path, files, "compose.yaml", [ReadOnlyRoot()])
    assert out == BASE
    assert why == ["service 'cache': `read_only` is explicitly false"]  # decided on the merged service
    out, why = run_on(tmp_path, files, "compose.override.yaml", [ReadOnlyRoot()])
    assert why == []  # said once, by the file that owns the service


@pytest.mark.parametrize(("override", "changed"), [
    # cap_add lives in the override, cap_drop would go to the base: one change cannot be
    # split over two files, so both refuse (naming where each key goes)
    pytest.param("services:\n  cache:\n    cap_add:\n      - NET_ADMIN\n", False, id="split-over-two-files-refused"),
    pytest.param("services:\n  cache:\n    cap_add:\n      - ALL\n", False, id="cap-add-all-contradicts"),
])
def test_set_merged_keys_conflict_only_when_contradicting(tmp_path: Path, override: str, changed: bool) -> None:
    files = {"compose.yaml": BASE, "compose.override.yaml": override}
    out, why = run_on(tmp_path, files, "compose.yaml", [CapDrop()])
    # cap_add in the override still means the base's command facts may not hold: it is a key
    # cap-drop edits, but merged as a set, so only `ALL` (which undoes cap_drop) conflicts.
    assert ("cap_drop:" in out) is changed
    if not changed:
        assert len(why) == 1


@pytest.mark.parametrize(("override", "changed"), [
    # the override sets security_opt: the option is appended there, not in the base
    pytest.param("services:\n  cache:\n    security_opt:\n      - label:disable\n", True, id="other-option-merged"),
    pytest.param("services:\n  cache:\n    security_opt:\n      - no-new-privileges:false\n", False, id="nnp-false"),
])
def test_no_new_privileges_and_override_security_opt(tmp_path: Path, override: str, changed: bool) -> None:
    files = {"compose.yaml": BASE, "compose.override.yaml": override}
    out, why = run_on(tmp_path, files, "compose.yaml", [NoNewPrivileges()])
    assert "no-new-privileges:true" not in out
    if not changed:
        assert why == ["service 'cache': no-new-privileges is explicitly disabled"]  # the merged service's
    out, why = run_on(tmp_path, files, "compose.override.yaml", [NoNewPrivileges()])
    assert ("no-new-privileges:true" in out) is changed and why == []


def test_no_override_file_unchanged_behaviour(tmp_path: Path) -> None:
    out, why = run_on(tmp_path, {"compose.yaml": BASE}, "compose.yaml", [CapDrop(), ReadOnlyRoot()])
    assert "cap_drop:" in out and "read_only: true" in out


def test_docker_compose_names_pair(tmp_path: Path) -> None:
    files = {"docker-compose.yml": BASE, "docker-compose.override.yml": "services:\n  cache:\n    image: redis:7.4\n"}
    out, why = run_on(tmp_path, files, "docker-compose.yml", [ReadOnlyRoot()])
    assert "read_only: true" in out and why == []  # decided with the override's image, written to the base
    out, why = run_on(tmp_path, files, "docker-compose.override.yml", [ReadOnlyRoot()])
    assert out == files["docker-compose.override.yml"] and why == []


def test_override_without_base_is_left_alone(tmp_path: Path) -> None:
    text = "services:\n  cache:\n    ports:\n      - 6379:6379\n"
    out, why = run_on(tmp_path, {"compose.override.yaml": text}, "compose.override.yaml", [CapDrop()])
    assert out == text and any("it has no image, build or extends here" in w for w in why)


def test_override_service_absent_from_base_is_hardened_normally(tmp_path: Path) -> None:
    files = {"compose.yaml": BASE, "compose.override.yaml": "services:\n  web:\n    image: redis:7.2\n"}
    out, why = run_on(tmp_path, files, "compose.override.yaml", [CapDrop()])
    assert "cap_drop:" in out


def test_override_sets_user_without_image_names_both(tmp_path: Path) -> None:
    files = {"compose.yaml": BASE, "compose.override.yaml": "services:\n  cache:\n    user: '999'\n"}
    out, why = run_on(tmp_path, files, "compose.override.yaml", [CapDrop()])
    assert out == files["compose.override.yaml"]
    assert why == []  # the base owns the service: it says what the merged service needs
    out, why = run_on(tmp_path, files, "compose.yaml", [CapDrop()])
    assert out == BASE
    # merged, the service runs as 999 (drop all, add nothing back); the base alone would add SETUID
    assert len(why) == 1 and "runs as `user: 999`" in why[0] and "the file alone would get a different one" in why[0]


# mattermost/docker: overlays that add ports to the base file's service, loaded by commands only
# the product documentation gives; no file of the repository says how they are combined.
MM_BASE = ("services:\n  app:\n    image: mattermost/mattermost-team-edition:9.11\n"
           "    security_opt:\n      - no-new-privileges:true\n")
MM_OVERLAY = ("services:\n  proxy:\n    image: nginx:1.27\n"
              "  app:\n    ports:\n      - 8065:8065\n")


@pytest.mark.parametrize("transform", [NoNewPrivileges(), CapDrop(), ReadOnlyRoot(), ComposeHealthcheck()],
                         ids=lambda t: t.name)
def test_an_unplaced_overlay_leaves_the_service_it_extends_to_its_base(tmp_path: Path, transform: Transform) -> None:
    out, reasons = run_on(tmp_path, {"docker-compose.yml": MM_BASE, "docker-compose.nginx.yml": MM_OVERLAY},
                          "docker-compose.nginx.yml", [transform])
    app = out[out.index("  app:"):]
    assert app == "  app:\n    ports:\n      - 8065:8065\n"
    assert any(r.startswith("service 'app': it has no image, build or extends here") for r in reasons), reasons


def test_an_unplaced_overlay_still_hardens_its_own_services(tmp_path: Path) -> None:
    out, reasons = run_on(tmp_path, {"docker-compose.yml": MM_BASE, "docker-compose.nginx.yml": MM_OVERLAY},
                          "docker-compose.nginx.yml", [NoNewPrivileges()])
    proxy = out[out.index("  proxy:"):out.index("  app:")]
    assert "no-new-privileges:true" in proxy
    assert [r for r in reasons if "'proxy'" in r] == []
