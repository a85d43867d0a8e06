"""The README's idioms as a user writes them, checked by ``mypy --strict`` (``make lint``).

``assert_type`` fails the type check if a head's call or a loss is typed ``Any`` again (the idiom
``gaussian_nll(*head(h), y)`` only checks when ``head(h)`` is a tuple of known length).
tests/test_typed_usage.py also runs this file, so every line must work as well as type-check.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from typing_extensions import assert_type

import cebook
from cebook.bins import Bins, DecodeMethod
from cebook.heads import CategoricalHead, GaussianHead, PoissonHead, StudentTHead
from cebook.losses import Reduction, gaussian_nll, poisson_nll, student_t_nll
from cebook.metrics import crps_gaussian


class MLP(nn.Module):
    """A trunk and a Gaussian head, with the call typed like the heads' own."""

    def __init__(self, in_features: int, hidden: int) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh())
        self.head = GaussianHead(hidden)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.head(self.trunk(x))

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return super().__call__(x)  # type: ignore[no-any-return]


def main() -> None:
    features = torch.randn(128, 16)
    y = torch.randn(128)

    head = GaussianHead(16)
    assert_type(head(features), tuple[Tensor, Tensor])
    loc, scale = head(features)
    loss = gaussian_nll(*head(features), y)  # the README's and DESIGN's idiom
    assert_type(loss, Tensor)
    loss.backward()

    counts = y.abs().round()
    assert_type(poisson_nll(*PoissonHead(16)(features), counts), Tensor)
    assert_type(student_t_nll(*StudentTHead(16)(features), y), Tensor)

    reduction: Reduction = "sum"  # a mode held in a variable, typed with the exported alias
    assert_type(gaussian_nll(loc, scale, y, reduction=reduction), Tensor)
    assert_type(crps_gaussian(loc, scale, y, reduction="none"), Tensor)

    bins = Bins.uniform(-3.0, 3.0, 8)
    method: DecodeMethod = "mode"
    (logits,) = CategoricalHead(16, bins)(features)
    assert_type(bins.decode(logits, method=method), Tensor)
    assert_type(bins.density_nll(logits, y.clamp(-2.9, 2.9)), Tensor)

    # fit passes the model's output type on to the loss: out is tuple[Tensor, Tensor]
    x = torch.randn(64, 1)
    target = 2 * x[:, 0]
    history = cebook.fit(
        GaussianHead(1), lambda out, t: gaussian_nll(*out, t), x, target, epochs=3, progress=False
    )
    assert_type(history, cebook.History)
    cebook.fit(MLP(1, 8), lambda out, t: gaussian_nll(*out, t), x, target, epochs=3, progress=False)
    assert len(history) == 3

    # the submodules load on first access
    assert_type(cebook.losses.laplace_nll(loc, scale, y), Tensor)


if __name__ == "__main__":
    main()
