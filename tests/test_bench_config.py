"""Run configuration: files, validation, hashing and seeds."""

from __future__ import annotations

import hashlib

import pytest

from agentsim.bench.config import RunConfig, build_config, config_hash, diff_fields, load_config_file
from agentsim.bench.seeds import derive_seed, seed_table
from agentsim.errors import ConfigError


def test_seed_is_sha256_derived_and_stable():
    expected = int.from_bytes(hashlib.sha256(b"agentsim:7:case-1:2").digest()[:8], "big") % (2**31 - 1)
    assert derive_seed(7, "case-1", 2) == expected
    assert derive_seed(7, "case-1", 2) != derive_seed(7, "case-1", 3) != derive_seed(8, "case-1", 3)
    # A trial's seed does not depend on how many trials the run has, so runs can be extended.
    assert seed_table(0, ["a"], 5)["a"][:3] == seed_table(0, ["a"], 3)["a"]


def test_yaml_and_toml_files_with_shorthand(tmp_path):
    y = tmp_path / "run.yaml"
    y.write_text("scenarios: dev\nout: runs/x\ndoctor: gpt-test\nbase_url: http://127.0.0.1:9/v1\ntrials: 3\n"
                 "judge: {model: judge-m, temperature: 0}\nconcurrency: 16\n")
    cfg = build_config(load_config_file(y))
    assert cfg.backend == "openai" and cfg.doctor.model == "gpt-test"
    assert cfg.patient.model == "gpt-test" and cfg.patient.base_url == "http://127.0.0.1:9/v1"
    assert cfg.judge.base_url == "http://127.0.0.1:9/v1"
    assert cfg.out == str((tmp_path / "runs" / "x").resolve())  # relative to the run file
    t = tmp_path / "run.toml"
    t.write_text('scenarios = "test"\nout = "o"\ntrials = 2\nmax_turns = 12\n[doctor]\nmodel = "m"\n')
    cfg2 = build_config(load_config_file(t))
    assert cfg2.max_turns == 12 and cfg2.doctor.model == "m"


def test_bad_fields_name_the_file_and_field(tmp_path):
    y = tmp_path / "run.yaml"
    y.write_text("scenarios: dev\ntrails: 3\n")
    with pytest.raises(ConfigError, match=r"run.yaml: field 'trails'"):
        build_config(load_config_file(y), source=str(y))
    with pytest.raises(ConfigError, match="concurrency"):
        build_config({"concurrency": 0})
    with pytest.raises(ConfigError, match="needs a doctor model"):
        build_config({"backend": "openai"})
    (tmp_path / "run.ini").write_text("x")
    with pytest.raises(ConfigError, match=r"\.yaml, \.yml or \.toml"):
        load_config_file(tmp_path / "run.ini")


def test_later_layers_win_and_none_is_ignored():
    cfg = build_config({"trials": 2, "seed": 5}, {"trials": 4, "seed": None})
    assert cfg.trials == 4 and cfg.seed == 5


def test_hash_covers_results_not_execution():
    base = RunConfig(doctor={"model": "m", "base_url": "http://a/v1"}, out="x")
    h = config_hash(base.result_fields(), {"c": "1"}, "cat")
    same = base.model_copy(update={"concurrency": 64, "trials": 9, "max_errors": 3, "cache": "c.sqlite"})
    assert config_hash(same.result_fields(), {"c": "1"}, "cat") == h
    assert config_hash(RunConfig(doctor={"model": "m", "base_url": "http://b/v1", "timeout_s": 5}).result_fields(),
                       {"c": "1"}, "cat") == h
    for changed in (RunConfig(doctor={"model": "m2", "base_url": "http://a/v1"}),
                    RunConfig(doctor={"model": "m", "base_url": "http://a/v1"}, max_turns=5),
                    RunConfig(doctor={"model": "m", "base_url": "http://a/v1"}, seed=1)):
        assert config_hash(changed.result_fields(), {"c": "1"}, "cat") != h
    assert config_hash(base.result_fields(), {"c": "2"}, "cat") != h
    assert config_hash(base.result_fields(), {"c": "1"}, "other prices") != h


def test_diff_fields_is_readable():
    a = RunConfig(doctor={"model": "m"}).result_fields()
    b = RunConfig(doctor={"model": "m"}, max_turns=5).result_fields()
    assert diff_fields(a, b) == ["max_turns: 20 -> 5"]
