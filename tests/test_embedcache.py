"""The per-phrase embedding cache: only new phrases are encoded, bad files are ignored, '' disables it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from offline_fixtures import HashingEmbedder

from agentsim.offline import embedcache
from agentsim.offline.embedcache import PhraseVectorStore, open_store, read_store_file, store_path
from agentsim.offline.findings import embed_phrases


class CountingEmbedder(HashingEmbedder):
    """The hashing test embedder, recording every batch it is asked to encode."""

    dim = 64

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        self.calls.append(list(texts))
        return super().encode(texts, batch_size)


PHRASES = ["chest pain", "shortness of breath", "fever", "productive cough", "night sweats"]


def fresh(phrases: Sequence[str]) -> np.ndarray:
    return HashingEmbedder.encode(CountingEmbedder(), list(phrases))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTSIM_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_second_call_encodes_only_the_new_phrase(cache: Path) -> None:
    emb = CountingEmbedder()
    first = embed_phrases(emb, PHRASES, "kb")
    assert emb.calls == [PHRASES]
    assert first.dtype == np.float32 and first.shape == (len(PHRASES), emb.dim)
    np.testing.assert_allclose(first, fresh(PHRASES), atol=1e-3)

    more = [*PHRASES[:2], "weight loss", *PHRASES[2:], "fever"]
    second = embed_phrases(emb, more, "another-tag")
    assert emb.calls[1:] == [["weight loss"]]
    np.testing.assert_allclose(second, fresh(more), atol=1e-3)
    assert np.array_equal(second[[0, 1, 3, 4, 5]], first)  # cached rows come back unchanged

    assert embed_phrases(emb, list(reversed(more)), "kb").shape == (len(more), emb.dim)
    assert len(emb.calls) == 2


def test_a_new_process_reads_the_file(cache: Path) -> None:
    emb = CountingEmbedder()
    first = embed_phrases(emb, PHRASES, "kb")
    path = store_path(cache, emb.name, emb.dim)
    assert path.is_file()
    store = PhraseVectorStore(path, emb.dim)  # what another process would load
    assert len(store) == len(PHRASES)
    other = CountingEmbedder()
    assert np.array_equal(store.get(PHRASES, other.encode), first)
    assert other.calls == []


def test_rows_written_by_another_process_are_merged(cache: Path) -> None:
    emb = CountingEmbedder()
    path = store_path(cache, emb.name, emb.dim)
    mine, theirs = PhraseVectorStore(path, emb.dim), PhraseVectorStore(path, emb.dim)
    mine.get(PHRASES[:2], emb.encode)
    theirs.get(PHRASES[2:], emb.encode)  # merges mine's rows before writing
    assert sorted(read_store_file(path, emb.dim)[0]) == sorted(PHRASES)
    mine.get(PHRASES, emb.encode)  # the rows theirs added are picked up from disk, not re-encoded
    assert emb.calls == [PHRASES[:2], PHRASES[2:]]


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", b"PK\x03\x04garbage"])
def test_a_corrupt_file_is_ignored(cache: Path, content: bytes) -> None:
    emb = CountingEmbedder()
    path = store_path(cache, emb.name, emb.dim)
    path.write_bytes(content)
    out = embed_phrases(emb, PHRASES, "kb")
    assert emb.calls == [PHRASES]
    np.testing.assert_allclose(out, fresh(PHRASES), atol=1e-3)
    assert read_store_file(path, emb.dim)[0] == PHRASES  # rewritten whole


def test_a_file_of_another_dimension_is_ignored(cache: Path) -> None:
    emb = CountingEmbedder()
    embed_phrases(emb, PHRASES, "kb")
    path = store_path(cache, emb.name, emb.dim)
    assert read_store_file(path, emb.dim)[0] == PHRASES
    phrases, vecs = read_store_file(path, emb.dim + 1)
    assert phrases == [] and vecs.shape == (0, emb.dim + 1)


def test_empty_cache_dir_disables_the_disk_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSIM_CACHE_DIR", "")
    monkeypatch.chdir(tmp_path)
    emb = CountingEmbedder()
    out = embed_phrases(emb, PHRASES, "kb")
    np.testing.assert_allclose(out, fresh(PHRASES), atol=1e-3)
    embed_phrases(emb, PHRASES, "kb")
    assert len(emb.calls) == 2  # nothing remembered
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_folder_still_gives_vectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("AGENTSIM_CACHE_DIR", str(blocker / "sub"))
    emb = CountingEmbedder()
    np.testing.assert_allclose(embed_phrases(emb, PHRASES, "kb"), fresh(PHRASES), atol=1e-3)


def test_empty_list_and_oversized_store(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    emb = CountingEmbedder()
    assert embed_phrases(emb, [], "kb").shape == (0, emb.dim)
    assert emb.calls == []
    monkeypatch.setattr(embedcache, "MAX_ROWS", 6)
    path = store_path(cache, emb.name, emb.dim)
    embed_phrases(emb, PHRASES, "kb")
    embed_phrases(emb, ["a", "b"], "kb")  # 7 rows: compacted to this request's phrases
    assert read_store_file(path, emb.dim)[0] == ["a", "b"]
    assert len(open_store(path, emb.dim)) == 2
