"""Store and image memory, in embedded mode and against a real `chroma run` server (same tests)."""

from __future__ import annotations

import shutil

import pytest
from memory_fixtures import (  # noqa: F401 - fixtures
    MRI,
    chroma_server_fixture,
    make_labelled_folder,
    memory_config_fixture,
    pattern_image,
    write_png,
)

from agentsim.errors import ConfigError, MemoryStoreError
from agentsim.memory.encoders import ClassicalImageEncoder
from agentsim.memory.images import ImageMemory, ImageRecord, read_sidecar, records_from_paths
from agentsim.memory.store import HnswParams, MemoryConfig, MemoryStore


class FakeEncoder:
    """Another embedding space of the same dimension as the classical one."""

    supports_text = False

    def __init__(self, name: str, dim: int):
        self.name, self.dim = name, dim


def test_collection_created_with_our_hnsw_settings_and_no_embedding_function(memory_config):
    cfg = memory_config.model_copy(update={"hnsw": HnswParams(ef_construction=64, max_neighbors=12, ef_search=40)})
    col = MemoryStore(cfg).collection("images", "enc-a", 8)
    hnsw = col.configuration["hnsw"]
    assert (hnsw["space"], hnsw["ef_construction"], hnsw["max_neighbors"], hnsw["ef_search"]) == (
        "cosine", 64, 12, 40)
    assert col.configuration.get("embedding_function") is None
    # Text queries need our vectors: Chroma has no function of its own to embed them.
    with pytest.raises(Exception, match="embedding function"):
        col.query(query_texts=["hello"], n_results=1)


def test_encoder_mismatch_is_refused(memory_config):
    MemoryStore(memory_config).collection("images", "enc-a", 8)
    with pytest.raises(MemoryStoreError) as err:
        MemoryStore(memory_config).collection("images", "enc-b", 8)
    msg = str(err.value)
    assert "enc-a" in msg and "enc-b" in msg and "not comparable" in msg
    with pytest.raises(MemoryStoreError, match="16-d"):
        MemoryStore(memory_config).collection("images", "enc-a", 16)
    # Through the image memory: a classical-indexed store refuses another encoder.
    store = MemoryStore(memory_config.model_copy(update={"prefix": memory_config.prefix + "x"}))
    ImageMemory(store, ClassicalImageEncoder())
    with pytest.raises(MemoryStoreError, match="classical-v1"):
        ImageMemory(MemoryStore(store.config), FakeEncoder("other-encoder", ClassicalImageEncoder().dim))


def test_index_is_idempotent_and_queryable(memory_config, tmp_path):
    folder = make_labelled_folder(tmp_path / "gallery")
    mem = ImageMemory(MemoryStore(memory_config), ClassicalImageEncoder())
    first = mem.index_paths([folder])
    assert (first.added, first.failed, first.unlabelled) == (12, [], 0)
    again = mem.index_paths([folder])
    assert (again.added, again.unchanged) == (0, 12) and mem.count() == 12
    # A byte-identical copy under another name is folded into the same record.
    shutil.copyfile(folder / "blob-00.png", folder / "copy of blob.png")
    third = mem.index_paths([folder])
    assert third.added == 0 and mem.count() == 12

    query = write_png(tmp_path / "q.png", pattern_image("blob", 999))
    hits = mem.query_image(query, k=3)
    assert [h.label for h in hits] == ["mass lesion"] * 3
    assert hits[0].score >= hits[-1].score and hits[0].modality == "MRI" and hits[0].path.endswith(".png")
    text_hits = mem.query_text("banded artefact", k=3)
    assert {h.label for h in text_hits} == {"striated pattern"}
    assert mem.query_text("banded artefact", k=3, modality="ct") == []
    assert len(mem.query_text("banded artefact", k=3, modality="mri", body_part="Brain")) == 3


def test_changed_sidecar_updates_without_duplicating(memory_config, tmp_path):
    folder = make_labelled_folder(tmp_path / "g", per_kind=2)
    mem = ImageMemory(MemoryStore(memory_config), ClassicalImageEncoder())
    mem.index_paths([folder])
    csv = (folder / "labels.csv").read_text().replace("mass lesion", "tumour")
    (folder / "labels.csv").write_text(csv)
    rep = mem.index_paths([folder])
    assert (rep.added, rep.updated) == (0, 2) and mem.count() == 4
    assert {h.label for h in mem.query_text("tumour", k=2)} == {"tumour"}


def test_missing_caption_row_is_repaired(memory_config, tmp_path):
    folder = make_labelled_folder(tmp_path / "g", per_kind=1)
    mem = ImageMemory(MemoryStore(memory_config), ClassicalImageEncoder())
    mem.index_paths([folder])
    victim = mem.images.get(include=[])["ids"][0]
    mem.captions.delete(ids=[victim])  # as if a run had stopped between the two writes
    rep = mem.index_paths([folder])
    assert (rep.added, rep.updated, rep.unchanged) == (0, 1, 1)
    assert victim in mem.captions.get(include=[])["ids"]


def test_corrupt_file_is_reported_and_others_indexed(memory_config, tmp_path):
    folder = make_labelled_folder(tmp_path / "g", per_kind=2)
    good = (folder / "blob-00.png").read_bytes()
    (folder / "zz broken.png").write_bytes(good[:60])
    mem = ImageMemory(MemoryStore(memory_config), ClassicalImageEncoder())
    rep = mem.index_paths([folder])
    assert rep.added == 4 and len(rep.failed) == 1 and "zz broken.png" in rep.failed[0]


def test_query_never_returns_itself_or_excluded_case(memory_config, tmp_path):
    mem = ImageMemory(MemoryStore(memory_config), ClassicalImageEncoder())
    folder = make_labelled_folder(tmp_path / "g", per_kind=3)
    mem.index_paths([folder])
    case_img = write_png(tmp_path / "case" / "scan.png", pattern_image("blob", 4242))
    mem.index([ImageRecord(path=str(case_img), label="answer-of-case-x", case_id="case-x", image_id="img1")])
    # The case image would be its own best match; it is excluded by content and by case id.
    hits = mem.query_image(case_img, k=10)
    assert all(h.label != "answer-of-case-x" for h in hits)
    assert all(h.label != "answer-of-case-x" for h in mem.query_text("answer-of-case-x", k=10,
                                                                     exclude_case_id="case-x"))
    other = write_png(tmp_path / "q.png", pattern_image("blob", 4243))
    assert any(h.label == "answer-of-case-x" for h in mem.query_image(other, k=10))
    assert all(h.label != "answer-of-case-x" for h in mem.query_image(other, k=10, exclude_case_id="case-x"))


def test_reference_copy_indexed_before_the_case_is_excluded_too(memory_config, tmp_path):
    """Gallery first, scenario image later: the earlier gallery copy gets flagged with the case."""
    mem = ImageMemory(MemoryStore(memory_config), ClassicalImageEncoder())
    mem.index_paths([make_labelled_folder(tmp_path / "g", per_kind=2)])
    copy = write_png(tmp_path / "ref" / "copy.png", pattern_image("blob", 777))
    mem.index([ImageRecord(path=str(copy), label="revealing label")])
    case_img = tmp_path / "case" / "img.png"
    case_img.parent.mkdir()
    shutil.copyfile(copy, case_img)
    mem.index([ImageRecord(path=str(case_img), label="answer", case_id="case-y", image_id="i1")])
    query = write_png(tmp_path / "q.png", pattern_image("blob", 778))
    labels = {h.label for h in mem.query_image(query, k=10, exclude_case_id="case-y")}
    assert labels and not labels & {"revealing label", "answer"}
    assert {"revealing label", "answer"} <= {h.label for h in mem.query_image(query, k=10)}
    assert not {h.label for h in mem.query_text("revealing label", k=10, exclude_case_id="case-y")} & {
        "revealing label", "answer"}


def test_scenario_images_are_indexed_with_case_ids(memory_config, tmp_path):
    from agentsim.memory.images import records_from_scenarios
    from agentsim.scenario import load_scenario

    case = tmp_path / "cases" / "neuro-1.json"
    case.parent.mkdir()
    shutil.copyfile(MRI / "brain-mri-0005.jpg", tmp_path / "cases" / "mri.jpg")
    import json

    case.write_text(json.dumps({
        "id": "neuro-1", "specialty": "neurology", "opening_line": "I have headaches.",
        "patient": {"demographics": "50-year-old woman"}, "diagnosis": {"name": "Meningioma"},
        "images": [{"id": "mri1", "path": "mri.jpg", "modality": "MRI", "body_part": "brain"}],
        "tests": [{"name": "MRI brain", "result": "Extra-axial mass.", "images": ["mri1"]}]}))
    loaded = load_scenario(case)
    recs = records_from_scenarios([loaded])
    assert recs[0].case_id == "neuro-1" and recs[0].label == "Meningioma" and recs[0].image_id == "mri1"
    mem = ImageMemory(MemoryStore(memory_config), ClassicalImageEncoder())
    assert mem.index_scenarios([loaded]).added == 1
    assert mem.index_scenarios([loaded]).added == 0
    assert mem.case_hashes("neuro-1") and mem.query_image(MRI / "brain-mri-0006.jpg", k=5)[0].label == "Meningioma"
    assert mem.query_image(MRI / "brain-mri-0006.jpg", k=5, exclude_case_id="neuro-1") == []


def test_sidecar_formats_and_errors(tmp_path):
    write_png(tmp_path / "a.png", pattern_image("blob", 1))
    write_png(tmp_path / "b.png", pattern_image("blob", 2))
    (tmp_path / "meta.json").write_text('{"a.png": {"label": "x", "modality": "CT"}, "b.png": "y"}')
    side = read_sidecar(tmp_path / "meta.json")
    assert side[(tmp_path / "a.png").resolve()]["modality"] == "CT"
    recs = records_from_paths([tmp_path], tmp_path / "meta.json", body_part="chest")
    assert [(r.label, r.modality, r.body_part) for r in recs] == [("x", "CT", "chest"), ("y", "", "chest")]
    (tmp_path / "bad.csv").write_text("name,label\na.png,x\n")
    with pytest.raises(ConfigError, match="no file column"):
        read_sidecar(tmp_path / "bad.csv")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="bad.json"):
        read_sidecar(tmp_path / "bad.json")


def test_unreachable_server_is_a_clear_error():
    from memory_fixtures import _free_port

    cfg = MemoryConfig(chroma_url=f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(MemoryStoreError, match="cannot reach the Chroma server"):
        MemoryStore(cfg)


def test_config_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTSIM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AGENTSIM_IMAGE_ENCODER", "classical")
    cfg = MemoryConfig.from_env(prefix="abc")
    assert cfg.resolved_data_dir() == tmp_path and cfg.image_encoder == "classical" and cfg.prefix == "abc"
    with pytest.raises(ConfigError, match="chroma_url"):
        MemoryConfig.from_env(chroma_url="localhost:8000")
