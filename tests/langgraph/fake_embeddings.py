"""A deterministic embedding model for the LangGraph store tests: no network, no
weights, the same vectors in every process and run."""

from __future__ import annotations

import collections
import hashlib

import numpy as np
from langchain_core.embeddings import Embeddings


class CharacterEmbeddings(Embeddings):
    """Each text's character frequencies, projected onto ``dims`` dimensions by one
    fixed random vector per character (seeded by a hash of the character), then
    normalised. Equal texts embed equally (cosine 1); texts made of the same
    characters in like proportions score close; unrelated texts score near 0 but not
    exactly 0 (the projections are not orthogonal). The empty text embeds as a zero
    vector. ``calls`` counts the texts embedded, query or document."""

    def __init__(self, dims: int = 500) -> None:
        self.dims = dims
        self.calls = 0
        self._projections: dict[str, np.ndarray] = {}

    def _projection(self, char: str) -> np.ndarray:
        found = self._projections.get(char)
        if found is None:
            seed = int.from_bytes(hashlib.blake2b(char.encode(), digest_size=8).digest())
            found = np.random.default_rng(seed).standard_normal(self.dims)
            self._projections[char] = found
        return found

    def embed_text(self, text: str) -> list[float]:
        """The vector of one text."""
        self.calls += 1
        vector = np.zeros(self.dims)
        for char, count in collections.Counter(text).items():
            vector += count * self._projection(char)
        norm = float(np.linalg.norm(vector))
        return (vector / norm if norm else vector).tolist()  # type: ignore[no-any-return]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_text(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_text(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_text(text)


def cosine(one: list[float], other: list[float]) -> float:
    """The cosine similarity of two vectors (0 if either is zero)."""
    first, second = np.asarray(one), np.asarray(other)
    norms = float(np.linalg.norm(first) * np.linalg.norm(second))
    return float(first @ second) / norms if norms else 0.0
