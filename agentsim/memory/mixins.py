"""Behaviour shared by the memory classes: a lazily loaded text embedder and a write switch.

Kept free of torch and chromadb so that in-process stores (e.g.
:class:`agentsim.strategies.learning.InMemoryExperience`) can reuse it cheaply.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Self


class LazyTextEmbedder:
    """Mixin providing :attr:`text_embedder`; subclasses set ``self._text`` (an embedder or None)."""

    _text: Any | None = None

    @property
    def text_embedder(self) -> Any:
        """The embedder passed at construction, else the bundled one, loaded on first use."""
        if self._text is None:
            # Loading the bundled model is slow; stores that never embed text must not pay for it.
            from agentsim.textembed import load_text_embedder

            self._text = load_text_embedder()
        return self._text


class WriteSwitch:
    """Mixin providing :meth:`frozen`; subclasses honour ``self.writes_enabled`` when writing."""

    writes_enabled: bool = True

    @contextlib.contextmanager
    def frozen(self) -> Iterator[Self]:
        """Disable writes for the duration of a block (e.g. an evaluation run)."""
        before = self.writes_enabled
        self.writes_enabled = False
        try:
            yield self
        finally:
            self.writes_enabled = before
