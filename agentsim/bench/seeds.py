"""Per-episode seeds derived by hashing.

Python's ``hash()`` of a string is salted per process, so it cannot make reruns reproducible;
SHA-256 of a canonical string is the same on every machine and in every process.
"""

from __future__ import annotations

import hashlib

#: OpenAI-compatible servers take a signed 64-bit seed; some local servers only take 32 bits.
SEED_MODULUS = 2**31 - 1


def derive_seed(base_seed: int, case_id: str, trial: int) -> int:
    """The seed of one (case, trial) episode: stable across processes, machines and run orders."""
    digest = hashlib.sha256(f"agentsim:{base_seed}:{case_id}:{trial}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SEED_MODULUS


def seed_table(base_seed: int, case_ids: list[str], trials: int) -> dict[str, list[int]]:
    """Seeds of every episode of a run, for the manifest."""
    return {cid: [derive_seed(base_seed, cid, t) for t in range(trials)] for cid in case_ids}
