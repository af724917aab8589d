"""installation.state: atomic JSON files, safe reads with a .bak fallback, the provider registry."""

from __future__ import annotations

import json
import logging

import pytest

from installation.state import StateStore, backup_path, read_json_safe, write_json_atomic


def test_write_then_read_keeps_the_previous_copy_as_bak(tmp_path):
    path = tmp_path / "state.json"
    write_json_atomic(path, {"v": 1})
    write_json_atomic(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 2}
    assert json.loads(backup_path(path).read_text()) == {"v": 1}
    assert read_json_safe(path) == {"v": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.bak"]  # no temp files left


def test_a_half_file_is_reported_and_the_backup_used(tmp_path, caplog):
    path = tmp_path / "state.json"
    write_json_atomic(path, {"v": 1})
    write_json_atomic(path, {"v": 2})
    path.write_text('{"v": 3, "lat')  # what a non-atomic writer leaves after a power cut
    with caplog.at_level(logging.WARNING):
        assert read_json_safe(path) == {"v": 1}
    assert "unreadable" in caplog.text and "previous state copy" in caplog.text


def test_nothing_usable_gives_none(tmp_path):
    path = tmp_path / "state.json"
    assert read_json_safe(path) is None
    path.write_bytes(b"\xff\xfe garbage")
    assert read_json_safe(path) is None
    path.write_text("[1, 2]")  # JSON, but not an object
    assert read_json_safe(path) is None


def test_store_round_trip_and_a_provider_that_does_not_fit_starts_fresh(tmp_path, caplog):
    path = tmp_path / "state.json"
    got: dict = {}

    def bad_import(value):
        raise ValueError("z_dim 8, this model has 16")

    store = StateStore(path)
    store.register("preset", lambda: "calm", lambda v: got.__setitem__("preset", v))
    store.register("latent", lambda: {"z": [1.0, 2.0]}, bad_import)
    store.start()
    store.save()
    store.close()  # final synchronous save
    again = StateStore(path)
    again.register("preset", lambda: "", lambda v: got.__setitem__("preset", v))
    again.register("latent", lambda: None, bad_import)
    again.register("engagement", lambda: None, lambda v: got.__setitem__("engagement", v))  # new: not saved yet
    with caplog.at_level(logging.WARNING):
        assert again.restore() == ["preset"]
    assert got == {"preset": "calm"}
    assert "saved latent" in caplog.text and "starting it fresh" in caplog.text


def test_store_without_path_does_nothing(tmp_path):
    store = StateStore(None)
    store.register("x", lambda: 1, lambda v: None)
    store.start()
    store.save()
    assert store.restore() == []
    store.close()


def test_foreign_format_is_ignored(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"format": "something-else", "preset": "x"}))
    store = StateStore(path)
    seen = []
    store.register("preset", lambda: "", seen.append)
    assert store.restore() == []
    assert seen == []


@pytest.mark.parametrize("size", [0, 10, 10_000])
def test_writer_thread_writes_the_newest(tmp_path, size):
    from installation.state import AtomicFileWriter

    writer = AtomicFileWriter(tmp_path / "h.json", keep_backup=False)
    writer.start()
    for i in range(50):
        writer.put(json.dumps({"i": i, "pad": "x" * size}))
    writer.close()
    writer.write_now(json.dumps({"i": 50}))
    assert json.loads((tmp_path / "h.json").read_text())["i"] == 50
    assert not backup_path(tmp_path / "h.json").exists()
