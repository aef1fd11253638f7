"""The doctor's retrieval tool: combined results, the leakage rule, and doctors calling it in episodes."""

from __future__ import annotations

import asyncio
import json
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

from agentsim.agents.measurement import MeasurementAgent
from agentsim.agents.scripted import ScriptedDoctor, ScriptedPatient
from agentsim.episode import EpisodeConfig, run_episode
from agentsim.memory.encoders import ClassicalImageEncoder
from agentsim.memory.experience import ExperienceMemory
from agentsim.memory.images import ImageMemory
from agentsim.memory.retrieval import MemoryRetrieval
from agentsim.memory.store import MemoryConfig, MemoryStore
from agentsim.scenario import load_scenario
from agentsim.scoring import OfflineScorer
from agentsim.tools import RetrievalQuery, RetrievalTool
from agentsim.views import build_views


def _mri_case(folder, case_id: str, image: str, diagnosis: str):
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MRI / image, folder / f"{case_id}.jpg")
    path = folder / f"{case_id}.json"
    path.write_text(json.dumps({
        "id": case_id, "specialty": "neurology", "opening_line": "I keep getting headaches and my vision is odd.",
        "patient": {"demographics": "48-year-old woman", "age_years": 48, "sex": "female"},
        "diagnosis": {"name": diagnosis},
        "images": [{"id": "mri1", "path": f"{case_id}.jpg", "modality": "MRI", "body_part": "brain",
                    "caption": "Axial post-contrast T1"}],
        "tests": [{"name": "MRI brain", "aliases": ["brain MRI"], "result": "Enhancing lesion.", "images": ["mri1"]}]}))
    return load_scenario(path)


@pytest.fixture
def filled(memory_config, tmp_path):
    """A memory with a reference gallery, two MRI cases' images and an experience of each case."""
    store = MemoryStore(memory_config)
    images = ImageMemory(store, ClassicalImageEncoder())
    images.index_paths([make_labelled_folder(tmp_path / "gallery", per_kind=3)])
    case_a = _mri_case(tmp_path / "cases", "neuro-a", "brain-mri-0012.jpg", "Pituitary adenoma")
    case_b = _mri_case(tmp_path / "cases", "neuro-b", "brain-mri-0004.jpg", "Meningioma")
    images.index_scenarios([case_a, case_b])
    # A byte-identical copy of case A's image sits in the reference gallery under a revealing label.
    copy_dir = tmp_path / "copies"
    copy_dir.mkdir()
    shutil.copyfile(MRI / "brain-mri-0012.jpg", copy_dir / "x.jpg")
    (copy_dir / "labels.csv").write_text("file,label\nx.jpg,pituitary adenoma (copy)\n")
    images.index_paths([copy_dir])
    experience = ExperienceMemory(store)
    for case, dx in ((case_a, "Pituitary adenoma"), (case_b, "Migraine")):
        doctor = ScriptedDoctor([("order_test", {"test": "MRI brain"}), ("diagnose", {"diagnosis": dx})])
        result = asyncio.run(run_episode(case, doctor, ScriptedPatient(), MeasurementAgent(use_embeddings=False),
                                         EpisodeConfig(max_turns=5), scorer=OfflineScorer()))
        asyncio.run(experience.record(result, build_views(case).doctor))
    return MemoryRetrieval(images, experience), case_a, case_b


def test_is_a_retrieval_tool_and_combines_hits(filled):
    tool, case_a, case_b = filled
    assert isinstance(tool, RetrievalTool)
    res = asyncio.run(tool.search(RetrievalQuery(query_text="headaches and odd vision in a 48-year-old woman",
                                                 image_path=str(case_b.image_path("mri1")), exclude_case_id="neuro-b",
                                                 k=5)))
    assert res.images and res.cases and res.elapsed_ms > 0
    # The other MRI case (or its gallery copy) ranks above most synthetic gallery images.
    assert {h.label for h in res.images[:3]} & {"Pituitary adenoma", "pituitary adenoma (copy)"}
    assert [c.case_id for c in res.cases] == ["neuro-a"]
    assert res.cases[0].final_diagnosis == "Pituitary adenoma" and res.cases[0].correct is True
    text = res.render()
    assert "Similar images:" in text and "Similar past cases:" in text and "similarity" in text


def test_excluded_case_never_leaks(filled):
    """Evaluating case A: nothing of A comes back, not even the gallery copy of A's image."""
    tool, case_a, _ = filled
    for q in (RetrievalQuery(image_path=str(case_a.image_path("mri1")), exclude_case_id="neuro-a", k=20),
              RetrievalQuery(query_text="pituitary adenoma", exclude_case_id="neuro-a", k=20),
              RetrievalQuery(query_text="headaches and my vision is odd", exclude_case_id="neuro-a", k=20)):
        res = tool.search_sync(q)
        dump = res.model_dump_json().lower()
        assert "pituitary adenoma" not in dump, q
        assert all(c.case_id != "neuro-a" for c in res.cases)
    # The same queries for another case do see A's records (the exclusion is what hides them).
    seen = tool.search_sync(RetrievalQuery(query_text="pituitary adenoma", exclude_case_id="neuro-b", k=20))
    assert "pituitary adenoma" in seen.model_dump_json().lower()


def test_empty_query_and_empty_memory(memory_config):
    tool = MemoryRetrieval.open(memory_config)
    res = tool.search_sync(RetrievalQuery(query_text="cough and fever", exclude_case_id="c1"))
    assert res.images == [] and res.cases == []
    assert "No similar images or cases" in res.render()
    assert "empty query" in tool.search_sync(RetrievalQuery(exclude_case_id="c1")).note


def test_open_default_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTSIM_DATA_DIR", str(tmp_path / "mem"))
    monkeypatch.setenv("AGENTSIM_IMAGE_ENCODER", "classical")
    tool = MemoryRetrieval.open_default()
    assert tool.images.encoder.name == "classical-v1"
    assert (tmp_path / "mem").is_dir()


def test_scripted_doctor_searches_by_case_image_in_an_episode(filled):
    """Through the engine: the tool message carries what was retrieved with scores, minus the case itself."""
    tool, case_a, _ = filled
    doctor = ScriptedDoctor([("order_test", {"test": "MRI brain"}),
                             ("search_similar_cases", {"query_text": "headache, visual disturbance",
                                                       "image_id": "mri1"}),
                             ("diagnose", {"diagnosis": "Pituitary adenoma"})])
    result = asyncio.run(run_episode(case_a, doctor, ScriptedPatient(), MeasurementAgent(use_embeddings=False),
                                     EpisodeConfig(max_turns=6), scorer=OfflineScorer(), retrieval=tool))
    assert result.error is None and result.searches == 1
    msg = next(m for m in result.transcript.messages if m.role == "tool" and m.name == "search_similar_cases")
    got = msg.metadata["result"]
    assert got["images"] and all(0 <= h["score"] <= 1.0001 for h in got["images"])
    assert all(c["case_id"] != "neuro-a" for c in got["cases"])
    assert "pituitary adenoma" not in msg.content.lower()
    assert doctor.received[2].content == msg.content  # the doctor received exactly this text


@pytest.mark.server
def test_llm_doctor_calls_the_tool_and_receives_results(filled):
    from agentsim.agents.doctor import LLMDoctor
    from agentsim.llm import LLMConfig
    from agentsim.testing.fake_openai import FakeOpenAIServer, FakeReply, ScriptedResponder, role_router, tool_call

    tool, _, case_b = filled
    doctor = ScriptedResponder([
        FakeReply(content=None, tool_calls=[tool_call("search_similar_cases",
                                                      {"query_text": "48-year-old woman, headaches, odd vision"},
                                                      "s1")]),
        FakeReply(content=None, tool_calls=[tool_call("diagnose", {"diagnosis": "Meningioma"}, "d1")]),
    ])
    patient = ScriptedResponder([FakeReply(content="Yes.")])
    with FakeOpenAIServer(role_router(doctor, patient)) as server:
        cfg = LLMConfig(model="fake-model", base_url=server.base_url, max_retries=0, timeout_s=10)
        result = asyncio.run(run_episode(case_b, LLMDoctor(cfg), ScriptedPatient(),
                                         MeasurementAgent(use_embeddings=False), EpisodeConfig(max_turns=5),
                                         scorer=OfflineScorer(), retrieval=tool))
        requests = [r for r in server.requests if r.get("tools")]
    assert result.error is None and result.searches == 1 and result.correct
    # The model was offered the tool and, on its next turn, got the retrieval result as the tool reply.
    assert "search_similar_cases" in {t["function"]["name"] for t in requests[0]["tools"]}
    tool_msgs = [m for m in requests[1]["messages"] if m["role"] == "tool"]
    assert tool_msgs and tool_msgs[-1]["tool_call_id"] == "s1"
    assert "Similar past cases:" in tool_msgs[-1]["content"] and "Pituitary adenoma" in tool_msgs[-1]["content"]
    assert "Meningioma" not in tool_msgs[-1]["content"]  # case B's own answer never comes back


def test_open_adopts_the_encoder_the_store_was_built_with(tmp_path):
    folder = make_labelled_folder(tmp_path / "g", per_kind=1)
    built = MemoryConfig(data_dir=tmp_path / "mem", image_encoder="classical")
    ImageMemory.open(built).index_paths([folder])
    tool = MemoryRetrieval.open(MemoryConfig(data_dir=tmp_path / "mem"))  # no encoder given
    assert tool.images.encoder.name == "classical-v1"
    assert tool.search_sync(RetrievalQuery(query_text="round enhancing mass", exclude_case_id="")).images


def test_memory_config_is_shared_shape():
    cfg = MemoryConfig(image_encoder="classical", prefix="abc")
    assert cfg.collection_name("images") == "abc-images"
    assert cfg.hnsw.configuration()["hnsw"]["space"] == "cosine"
