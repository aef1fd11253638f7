"""Headless benchmark harness: concurrent, resumable runs with honest statistics and reports.

Modules: :mod:`.config` (run configuration and its hash), :mod:`.seeds` (per-episode seeds),
:mod:`.runner` (the async runner), :mod:`.cache` (SQLite response cache and the rate-limited chat
model), :mod:`.metrics` (accuracy, pass^k, bootstrap CIs), :mod:`.report` (HTML and terminal).
Nothing heavy is imported here, so ``agentsim --help`` stays fast.
"""
