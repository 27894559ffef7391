"""Hashed word n-grams without Spark: MLlib's RegexTokenizer, NGram, HashingTF and IDF, replayed exactly.

Spark's HashingTF puts a term in column `murmur3_x86_32(utf-8 bytes, seed 42)` modulo the width (made
non-negative); RegexTokenizer lowercases, then splits on a Java regex whose `\\W` is ASCII-only (hence
`re.ASCII`) and keeps tokens of at least `min_token_length` UTF-16 code units; NGram joins `n` consecutive
tokens with one space. The text stages' outputs are plain numpy: token lists, then dense (rows, width) counts.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

HASH_SEED = 42  # org.apache.spark.ml.feature.FeatureHasher.seed, which HashingTF uses
_C1, _C2, _MASK = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF


def _mix_k1(k1: int) -> int:
    k1 = (k1 * _C1) & _MASK
    k1 = ((k1 << 15) | (k1 >> 17)) & _MASK
    return (k1 * _C2) & _MASK


def murmur3_32(data: bytes, seed: int = HASH_SEED) -> int:
    """MurmurHash3 x86_32 of `data` as a signed 32-bit int (Spark's `Murmur3_x86_32.hashUnsafeBytes2`)."""
    h1 = seed & _MASK
    aligned = len(data) - len(data) % 4
    for i in range(0, aligned, 4):
        h1 ^= _mix_k1(int.from_bytes(data[i : i + 4], "little"))
        h1 = ((h1 << 13) | (h1 >> 19)) & _MASK
        h1 = (h1 * 5 + 0xE6546B64) & _MASK
    h1 ^= _mix_k1(int.from_bytes(data[aligned:], "little"))  # mixK1(0) is 0: no tail, no change
    h1 ^= len(data)
    h1 ^= h1 >> 16
    h1 = (h1 * 0x85EBCA6B) & _MASK
    h1 ^= h1 >> 13
    h1 = (h1 * 0xC2B2AE35) & _MASK
    h1 ^= h1 >> 16
    return h1 - (1 << 32) if h1 & 0x80000000 else h1


def term_index(term: str, num_features: int) -> int:
    """HashingTF's column of a term: Utils.nonNegativeMod(murmur3(term), numFeatures)."""
    return murmur3_32(term.encode("utf-8")) % num_features  # Python's % is already non-negative


def _utf16_length(token: str) -> int:
    return len(token.encode("utf-16-le")) // 2  # Java's String.length()


def tokenize(stage: dict[str, Any], texts: list[str | None]) -> list[list[str]]:
    """RegexTokenizer: lowercase, split on (gaps) or find (tokens) the pattern, drop tokens too short."""
    pattern = re.compile(stage["pattern"], re.ASCII)
    out = []
    for text in texts:
        text = "" if text is None else text
        text = text.lower() if stage["to_lowercase"] else text
        tokens = pattern.split(text) if stage["gaps"] else pattern.findall(text)
        out.append([t for t in tokens if _utf16_length(t) >= stage["min_token_length"]])
    return out


def ngrams(stage: dict[str, Any], tokens: list[list[str]]) -> list[list[str]]:
    """NGram: every run of n consecutive tokens joined by a space (none for fewer than n tokens)."""
    n = stage["n"]
    return [[" ".join(t[i : i + n]) for i in range(len(t) - n + 1)] for t in tokens]


def term_frequencies(stage: dict[str, Any], terms: list[list[str]]) -> np.ndarray:
    """HashingTF: (rows, num_features) term counts (1.0 per term present when `binary`)."""
    width = stage["num_features"]
    out = np.zeros((len(terms), width))
    for row, row_terms in enumerate(terms):
        for term in row_terms:
            out[row, term_index(term, width)] += 1.0
        if stage["binary"]:
            out[row] = np.minimum(out[row], 1.0)
    return out


def apply_text(stage: dict[str, Any], cols: dict[str, Any], texts: list[str | None] | None) -> None:
    """One text stage on `cols` (stage outputs so far); `texts` is the raw column for the tokenizer."""
    kind = stage["kind"]
    if kind == "tokenizer":
        cols[stage["output"]] = tokenize(stage, texts or [])
    elif kind == "ngram":
        cols[stage["output"]] = ngrams(stage, cols[stage["input"]])
    elif kind == "hashing_tf":
        cols[stage["output"]] = term_frequencies(stage, cols[stage["input"]])
    elif kind == "idf":
        cols[stage["output"]] = cols[stage["input"]] * np.asarray(stage["idf"])
    else:
        raise ValueError(f"unknown text stage kind {kind!r}")


TEXT_KINDS = ("tokenizer", "ngram", "hashing_tf", "idf")
