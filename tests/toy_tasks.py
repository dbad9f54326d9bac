"""Two-dimensional classification tasks of different difficulty, for learning tests."""

import math

import torch


def two_moons(n: int, generator: torch.Generator, noise: float = 0.1):
    t = torch.rand(n, generator=generator) * math.pi
    y = torch.randint(0, 2, (n,), generator=generator)
    upper = torch.stack([torch.cos(t), torch.sin(t)], 1)
    lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], 1)
    x = torch.where(y[:, None] == 1, lower, upper)
    return x + noise * torch.randn(n, 2, generator=generator), y


def spiral(n: int, generator: torch.Generator, turns: float = 2.0, noise: float = 0.02):
    """Two interleaved arms, each winding ``turns`` times around the origin."""
    y = torch.randint(0, 2, (n,), generator=generator)
    radius = torch.rand(n, generator=generator)
    angle = radius * turns * 2 * math.pi + y * math.pi
    x = 2 * torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], 1)
    return x + noise * torch.randn(n, 2, generator=generator), y
