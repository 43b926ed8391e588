"""The local versioned bucket: real files under a temporary data home."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import BinaryIO

import pytest

from facepipe.local import objectstore
from facepipe.local.objectstore import InvalidObjectName, LocalObjectStore, StoredObject
from lambdas.domain.errors import InvalidS3ObjectException

BUCKET = "faces-local"
ODD_KEYS = [
    "uploads/my photo.jpg",
    "uploads/a+b%20c.jpg",
    "uploads/ünïcödé/日本語.png",
    "../../etc/passwd",
    "uploads/../../escape.jpg",
    "/leading/slash.jpg",
    "x" * 1000,
]


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "buckets")


def test_put_then_head_and_get_give_back_the_bytes_size_and_md5_etag(store: LocalObjectStore):
    data = b"\xff\xd8\xff fake jpeg bytes"

    stored = store.put_object(BUCKET, "uploads/a.jpg", data)

    assert store.get_bytes(BUCKET, "uploads/a.jpg") == data
    head = store.head(BUCKET, "uploads/a.jpg")
    assert head == stored
    assert head.size == len(data)
    assert head.etag == f'"{hashlib.md5(data).hexdigest()}"'  # quoted, as HeadObject says
    assert head.content_type == "image/jpeg"
    assert len(head.version_id or "") == 32
    assert len(head.sequencer) == 18 and int(head.sequencer, 16) > 0
    assert head.last_modified.endswith("Z")


def test_put_reads_a_file_path(store: LocalObjectStore, tmp_path: Path):
    source = tmp_path / "photo.png"
    source.write_bytes(b"\x89PNG" + bytes(range(256)) * 5000)

    stored = store.put_object(BUCKET, "uploads/photo.png", source)

    assert stored.size == source.stat().st_size
    assert store.get_bytes(BUCKET, "uploads/photo.png") == source.read_bytes()


def test_a_str_is_refused_as_data_rather_than_taken_for_a_path(store: LocalObjectStore):
    with pytest.raises(TypeError, match=r"bytes or a pathlib\.Path"):
        store.put_object(BUCKET, "k.jpg", "photo.jpg")  # type: ignore[arg-type]


def test_each_put_is_a_new_version_and_old_versions_stay_readable(store: LocalObjectStore):
    first = store.put_object(BUCKET, "uploads/a.jpg", b"one")
    second = store.put_object(BUCKET, "uploads/a.jpg", b"two")

    assert first.version_id != second.version_id
    assert second.sequencer > first.sequencer
    assert store.get_bytes(BUCKET, "uploads/a.jpg") == b"two"
    assert store.get_bytes(BUCKET, "uploads/a.jpg", first.version_id) == b"one"
    assert [v.version_id for v in store.list_versions(BUCKET, "uploads/a.jpg")] == [
        second.version_id,
        first.version_id,
    ]


def test_delete_without_version_leaves_a_marker_and_keeps_old_versions(store: LocalObjectStore):
    kept = store.put_object(BUCKET, "uploads/a.jpg", b"one")

    marker = store.delete_object(BUCKET, "uploads/a.jpg")

    with pytest.raises(InvalidS3ObjectException, match="was deleted"):
        store.get_bytes(BUCKET, "uploads/a.jpg")
    assert store.get_bytes(BUCKET, "uploads/a.jpg", kept.version_id) == b"one"
    assert store.list_objects(BUCKET) == []
    versions = store.list_versions(BUCKET, "uploads/a.jpg")
    assert [(v.version_id, v.is_delete_marker) for v in versions] == [
        (marker, True),
        (kept.version_id, False),
    ]


def test_delete_of_a_version_removes_it_and_its_file(store: LocalObjectStore, tmp_path: Path):
    gone = store.put_object(BUCKET, "uploads/a.jpg", b"one")

    store.delete_object(BUCKET, "uploads/a.jpg", gone.version_id)

    with pytest.raises(InvalidS3ObjectException, match="no object at"):
        store.head(BUCKET, "uploads/a.jpg", gone.version_id)
    assert list((tmp_path / "buckets" / BUCKET / "objects").iterdir()) == []


def test_missing_bucket_key_and_version_raise_rekognitions_error(store: LocalObjectStore):
    with pytest.raises(InvalidS3ObjectException, match="bucket 'nobucket' does not exist"):
        store.head("nobucket", "k.jpg")
    store.put_object(BUCKET, "k.jpg", b"x")
    with pytest.raises(InvalidS3ObjectException, match=r"no object at s3://faces-local/other"):
        store.get_bytes(BUCKET, "other.jpg")
    with pytest.raises(InvalidS3ObjectException, match="version nope"):
        store.head(BUCKET, "k.jpg", "nope")


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_keys_round_trip_and_never_become_paths(
    store: LocalObjectStore, tmp_path: Path, key: str
):
    stored = store.put_object(BUCKET, key, key.encode())

    assert store.get_bytes(BUCKET, key) == key.encode()
    assert store.list_objects(BUCKET) == [stored]
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert f"buckets/{BUCKET}/objects/{stored.version_id}" in files
    assert all(p.startswith(f"buckets/{BUCKET}/") for p in files)


@pytest.mark.parametrize(
    ("bucket", "key", "message"),
    [
        ("Bad_Bucket", "k", "bucket name 'Bad_Bucket' is not valid"),
        ("..", "k", "is not valid"),
        ("a/b", "k", "is not valid"),
        ("192.168.1.1", "k", "not an IP"),
        (BUCKET, "", "non-empty"),
        (BUCKET, "é" * 513, "1026 bytes in UTF-8; S3 allows at most 1024"),
        (BUCKET, "bad\udcffsurrogate", "not valid UTF-8"),
    ],
)
def test_bad_names_are_refused_with_the_reason(
    store: LocalObjectStore, bucket: str, key: str, message: str
):
    with pytest.raises(InvalidObjectName, match=message):
        store.put_object(bucket, key, b"x")


def test_list_objects_filters_by_prefix_and_shows_only_current_versions(store: LocalObjectStore):
    store.put_object(BUCKET, "uploads/b.jpg", b"1")
    newest_b = store.put_object(BUCKET, "uploads/b.jpg", b"2")
    a = store.put_object(BUCKET, "uploads/a.jpg", b"3")
    store.put_object(BUCKET, "other/c.jpg", b"4")

    assert store.list_objects(BUCKET, prefix="uploads/") == [a, newest_b]


def test_a_failed_write_leaves_no_object_and_no_temp_file(
    store: LocalObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store.put_object(BUCKET, "uploads/kept.jpg", b"kept")

    def write_half_then_fail(data: bytes, out: BinaryIO) -> tuple[int, str]:
        out.write(data[: len(data) // 2])  # e.g. the disk fills up mid-upload
        raise OSError("No space left on device")

    monkeypatch.setattr(objectstore, "_copy_hashing", write_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        store.put_object(BUCKET, "uploads/big.jpg", b"x" * 1_000_000)

    assert [o.key for o in store.list_objects(BUCKET)] == ["uploads/kept.jpg"]
    assert list((tmp_path / "buckets" / BUCKET / ".tmp").iterdir()) == []
    assert len(list((tmp_path / "buckets" / BUCKET / "objects").iterdir())) == 1


def test_new_objects_are_announced_to_the_listener(tmp_path: Path):
    heard: list[StoredObject] = []
    store = LocalObjectStore(tmp_path / "buckets", on_object_created=heard.append)

    stored = store.put_object(BUCKET, "uploads/a.jpg", b"x")
    store.delete_object(BUCKET, "uploads/a.jpg")

    assert heard == [stored]


_PUT_MANY = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from facepipe.local.objectstore import LocalObjectStore

    store = LocalObjectStore(Path(sys.argv[1]))
    for i in range(int(sys.argv[2])):
        print(store.put_object("faces-local", "uploads/same.jpg", b"%d" % i).sequencer)
    """
)


def test_sequencers_stay_unique_and_ordered_across_two_processes_and_restarts(tmp_path: Path):
    root = tmp_path / "buckets"
    LocalObjectStore(root).put_object(BUCKET, "uploads/first.jpg", b"0")
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _PUT_MANY, str(root), "40"], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0].split() for run in runs]
    assert [run.returncode for run in runs] == [0, 0]

    for sequencers in outputs:
        assert sequencers == sorted(sequencers)  # each process saw its puts in order
    everything = outputs[0] + outputs[1]
    assert len(set(everything)) == 80
    versions = LocalObjectStore(root).list_versions(BUCKET, "uploads/same.jpg")
    assert [v.sequencer for v in versions] == sorted(everything, reverse=True)
    after_restart = LocalObjectStore(root).put_object(BUCKET, "uploads/same.jpg", b"last")
    assert after_restart.sequencer > max(everything)
