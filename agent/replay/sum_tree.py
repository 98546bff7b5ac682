"""Proportional prioritized sampling (Schaul et al., 2016): a sum tree over priorities,
vectorized over batches of leaves, and the importance-sampling weights of what it draws."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


class SumTree:
    """Sums of priorities over a binary tree, vectorized over batches of leaves: set leaves,
    and find the leaves where running sums reach given targets (proportional sampling)."""

    def __init__(self, size: int) -> None:
        self.leaf_start = 1 << max(1, int(np.ceil(np.log2(max(size, 2)))))
        self.depth = int(np.log2(self.leaf_start))
        self.tree = np.zeros(2 * self.leaf_start, dtype=np.float64)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def leaves(self, indices: np.ndarray) -> np.ndarray:
        return self.tree[indices + self.leaf_start]

    def set(self, indices: np.ndarray, values: np.ndarray | float) -> None:
        nodes = np.asarray(indices, dtype=np.int64) + self.leaf_start
        self.tree[nodes] = values
        if nodes.size == 1:  # the common case of one env: plain scalar walk, no array overhead
            tree, node = self.tree, int(nodes[0])
            while node > 1:
                node //= 2
                tree[node] = tree[2 * node] + tree[2 * node + 1]
            return
        for _ in range(self.depth):
            nodes = np.unique(nodes // 2)
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]

    def set_all(self, leaves: np.ndarray) -> None:
        """Every leaf at once (the rest are 0), and the sums above them."""
        self.tree[:] = 0.0
        self.tree[self.leaf_start : self.leaf_start + len(leaves)] = leaves
        start = self.leaf_start
        while start > 1:
            parents = np.arange(start // 2, start)
            self.tree[parents] = self.tree[2 * parents] + self.tree[2 * parents + 1]
            start //= 2

    def find(self, targets: np.ndarray) -> np.ndarray:
        nodes = np.ones(len(targets), dtype=np.int64)
        targets = np.array(targets, dtype=np.float64)
        for _ in range(self.depth):
            left = self.tree[2 * nodes]
            go_right = (targets >= left) & (self.tree[2 * nodes + 1] > 0)
            targets -= np.where(go_right, left, 0.0)
            nodes = 2 * nodes + go_right
        return nodes - self.leaf_start


def proportional_targets(
    count: int, total: float, batch_size: int, stratified: bool, rng: np.random.Generator
) -> np.ndarray:
    """Running-sum targets for ``find``: one draw from each of ``batch_size`` equal slices of
    the total (``stratified``), or anywhere (redraws, where a slice held nothing sampleable)."""
    if stratified:
        return (np.arange(count) + rng.random(count)) * total / batch_size
    return rng.random(count) * total


def importance_weights(probabilities: ArrayT, population: int | ArrayT, beta: float) -> ArrayT:
    """Weights that undo the sampling bias (``beta`` 1 = fully), scaled so the largest is 1
    (NumPy arrays or tensors, in the caller's precision)."""
    weights = (population * probabilities) ** -beta
    return weights / weights.max()
