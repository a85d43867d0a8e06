r"""Regression by classification: bins over the target, soft targets, decoding and companding.

A network can regress a real target :math:`y` by predicting a categorical law over :math:`K`
bins that cover the target's range, as WaveNet does for audio samples (van den Oord et al.,
2016). Training is the categorical cross-entropy with the bin that holds :math:`y` (one-hot), with
the two bins whose centres surround :math:`y` (two-hot, MuZero and DreamerV3), or with the mass
a normal law centred on :math:`y` puts in each bin (HL-Gauss, Imani & White 2018; Farebrother
et al. 2024). A prediction is read back from the :math:`K` probabilities by :meth:`Bins.decode`.

The categorical cross-entropy is a negative log-*probability*. To compare it with the negative
log-*density* of a continuous law (a Gaussian head, say), spread each bin's probability evenly
over the bin: the density inside bin :math:`k` is :math:`p_k / w_k`, so

.. math::

    -\log q(y) = -\log p_{k(y)} + \log w_{k(y)},

which is :meth:`Bins.density_nll`. Without the :math:`\log w` term the two numbers differ by
an amount that depends only on the bin width, not on the model.

:func:`mu_law_encode` and :func:`mu_law_decode` are WaveNet's continuous companding on
:math:`[-1, 1]`; :func:`symlog` and :func:`symexp` are DreamerV3's squashing of unbounded
targets. Everything here follows the device and dtype of its input. Used in
https://cebook.github.io/cross-entropy-regression/book/classification/bins.html
and https://cebook.github.io/cross-entropy-regression/book/classification/soft_targets.html.

References
----------
.. [1] A. van den Oord et al., "WaveNet: A generative model for raw audio", arXiv:1609.03499,
   2016.
.. [2] E. Imani and M. White, "Improving regression performance with distributional losses",
   ICML 2018.
.. [3] J. Farebrother et al., "Stop regressing: Training value functions via classification for
   scalable deep RL", ICML 2024.
.. [4] D. Hafner et al., "Mastering diverse domains through world models" (DreamerV3),
   arXiv:2301.04104, 2023.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from cebook._validation import (
    DecodeMethod,
    Reduction,
    _as_tensors,
    _broadcast_to_target,
    _check_kind,
    _check_nonempty,
    _check_number,
    _check_reduction,
    _Checks,
    _Constraint,
    _reduce,
    _show,
    _work_dtype,
    not_nan,
    positive,
    validation_enabled,
)

__all__ = [
    "Bins",
    "DecodeMethod",
    "Reduction",
    "mu_law_encode",
    "mu_law_decode",
    "symlog",
    "symexp",
]

_SIGNED_UNIT = _Constraint("in [-1, 1]", lambda v: (v >= -1) & (v <= 1), lambda v: -1 <= v <= 1)

_SQRT2 = math.sqrt(2.0)


# --------------------------------------------------------------------------------------------
# helpers


def _float_tensor(
    caller: str, name: str, x: torch.Tensor | float | Sequence[float]
) -> torch.Tensor:
    """``x`` as a floating tensor, by the package's one conversion rule."""
    return _as_tensors(caller, **{name: x})[0]


def _check_mu(mu: float, caller: str) -> float:
    if isinstance(mu, bool) or not isinstance(mu, (int, float)) or not 0 < mu < math.inf:
        raise ValueError(f"{caller}: mu must be a positive finite number, got {mu!r}")
    return float(mu)


def _check_unit(x: torch.Tensor, name: str, caller: str) -> None:
    if validation_enabled():
        _Checks(caller).check(name, x, _SIGNED_UNIT).raise_first()


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate on the whole range (Maechler, 2012)."""
    return torch.where(x > -math.log(2.0), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


# --------------------------------------------------------------------------------------------
# companding


def mu_law_encode(x: torch.Tensor | float, mu: float = 255.0) -> torch.Tensor:
    r"""WaveNet's μ-law companding of ``x`` in :math:`[-1, 1]`, continuous (not quantised).

    .. math::

        f(x) = \operatorname{sign}(x)\,\frac{\ln(1 + \mu |x|)}{\ln(1 + \mu)},

    which maps :math:`[-1, 1]` onto itself, stretching the values near 0 and compressing the
    large ones, so that uniform bins in :math:`f(x)` are fine near 0 and coarse near
    :math:`\pm 1`. Quantising :math:`f(x)` into 256 levels is WaveNet's 8-bit audio; here the
    quantisation is :meth:`Bins.mu_law`. Used in
    https://cebook.github.io/cross-entropy-regression/book/classification/bins.html.

    Parameters
    ----------
    x : Tensor or float
        Values in :math:`[-1, 1]` (checked when validation is on).
    mu : float
        The compression parameter :math:`\mu > 0` (255 for 8-bit audio).

    Returns
    -------
    Tensor
        :math:`f(x)`, same shape, device and (floating) dtype as ``x``.

    Raises
    ------
    ValueError
        If ``mu`` is not positive, or (validation on) a value of ``x`` lies outside
        :math:`[-1, 1]`.

    Examples
    --------
    >>> import torch
    >>> from cebook.bins import mu_law_encode
    >>> mu_law_encode(torch.tensor([-1.0, -0.01, 0.0, 0.01, 1.0]))
    tensor([-1.0000, -0.2285,  0.0000,  0.2285,  1.0000])
    """
    caller = "mu_law_encode"
    mu = _check_mu(mu, caller)
    x = _float_tensor(caller, "x", x)
    _check_unit(x, "x", caller)
    return torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)


def mu_law_decode(y: torch.Tensor | float, mu: float = 255.0) -> torch.Tensor:
    r"""Inverse of :func:`mu_law_encode`: :math:`f^{-1}(y) = \operatorname{sign}(y)\,
    \frac{(1 + \mu)^{|y|} - 1}{\mu}` for ``y`` in :math:`[-1, 1]`.

    Used in https://cebook.github.io/cross-entropy-regression/book/classification/bins.html.

    Parameters
    ----------
    y : Tensor or float
        Companded values in :math:`[-1, 1]` (checked when validation is on).
    mu : float
        The compression parameter :math:`\mu > 0`.

    Returns
    -------
    Tensor
        :math:`f^{-1}(y)`, same shape, device and (floating) dtype as ``y``.

    Raises
    ------
    ValueError
        If ``mu`` is not positive, or (validation on) a value of ``y`` lies outside
        :math:`[-1, 1]`.

    Examples
    --------
    >>> import torch
    >>> from cebook.bins import mu_law_decode, mu_law_encode
    >>> x = torch.tensor([-0.5, 0.001, 0.9])
    >>> torch.allclose(mu_law_decode(mu_law_encode(x)), x)
    True
    """
    caller = "mu_law_decode"
    mu = _check_mu(mu, caller)
    y = _float_tensor(caller, "y", y)
    _check_unit(y, "y", caller)
    return torch.sign(y) * torch.expm1(y.abs() * math.log1p(mu)) / mu


def symlog(x: torch.Tensor | float) -> torch.Tensor:
    r"""DreamerV3's symmetric logarithm :math:`\operatorname{sign}(x)\ln(1 + |x|)`.

    It squashes targets of any size into a range where a fixed set of bins can cover them, is the
    identity near 0 (slope 1) and is inverted by :func:`symexp`. DreamerV3 predicts rewards and
    values over 255 bins equally spaced on :math:`[-20, 20]` in symlog space. Used in
    https://cebook.github.io/cross-entropy-regression/book/classification/soft_targets.html.

    Parameters
    ----------
    x : Tensor or float
        Any real values.

    Returns
    -------
    Tensor
        Same shape, device and (floating) dtype as ``x``.

    Examples
    --------
    >>> import torch
    >>> from cebook.bins import symlog
    >>> symlog(torch.tensor([-99.0, 0.0, 0.5, 1e6]))
    tensor([-4.6052,  0.0000,  0.4055, 13.8155])
    """
    x = _float_tensor("symlog", "x", x)
    # x * log1p(|x|)/|x| rather than sign(x) log1p(|x|): the same values, and slope 1 at 0
    magnitude = x.abs()
    safe = torch.where(magnitude > 0, magnitude, torch.ones_like(magnitude))
    return x * torch.where(magnitude > 0, torch.log1p(safe) / safe, torch.ones_like(safe))


def symexp(x: torch.Tensor | float) -> torch.Tensor:
    r"""Inverse of :func:`symlog`: :math:`\operatorname{sign}(x)(e^{|x|} - 1)`.

    Used in https://cebook.github.io/cross-entropy-regression/book/classification/soft_targets.html.

    Parameters
    ----------
    x : Tensor or float
        Any real values (``inf`` above about 88.7 in float32).

    Returns
    -------
    Tensor
        Same shape, device and (floating) dtype as ``x``.

    Examples
    --------
    >>> import torch
    >>> from cebook.bins import symexp, symlog
    >>> x = torch.tensor([-99.0, 0.0, 0.5, 1000.0])
    >>> symexp(torch.tensor(2.0))  # e^2 - 1
    tensor(6.3891)
    >>> torch.allclose(symexp(symlog(x)), x)
    True
    """
    x = _float_tensor("symexp", "x", x)
    # x * expm1(|x|)/|x|: slope 1 at 0 (sign(x) expm1(|x|) would have slope 0 in autograd)
    magnitude = x.abs()
    safe = torch.where(magnitude > 0, magnitude, torch.ones_like(magnitude))
    ratio = torch.where(magnitude > 0, torch.expm1(safe) / safe, torch.ones_like(safe))
    return torch.where(torch.isinf(ratio), torch.sign(x) * ratio, x * ratio)


# --------------------------------------------------------------------------------------------
# bins


class Bins:
    r"""Contiguous bins :math:`[b_0, b_1), [b_1, b_2), \dots, [b_{K-1}, b_K]` over a real target.

    Bin :math:`k` is :math:`[b_k, b_{k+1})`; the last bin also holds its upper edge
    :math:`b_K`. A Bins object holds only its edges (and centres); its methods follow the device
    and dtype of the tensors they are given, so the same object serves CPU and GPU code. Used in
    https://cebook.github.io/cross-entropy-regression/book/classification/bins.html
    and https://cebook.github.io/cross-entropy-regression/book/classification/soft_targets.html.

    Parameters
    ----------
    edges : Tensor or sequence of float
        The :math:`K + 1` edges, one-dimensional, finite and strictly increasing (:math:`K \ge 1`).
    centers : Tensor or sequence of float, optional
        The :math:`K` points that represent the bins (what :meth:`decode` and :meth:`two_hot`
        use). Each must lie in its bin and they must increase strictly. The default is the
        midpoints :math:`(b_k + b_{k+1})/2`; :meth:`mu_law` passes the decoded midpoints of
        its companded bins.

    Raises
    ------
    ValueError
        If the edges are not one-dimensional, fewer than two, not finite or not strictly
        increasing, or if the centres do not fit the bins.

    Examples
    --------
    >>> import torch
    >>> from cebook.bins import Bins
    >>> bins = Bins([0.0, 0.5, 1.0, 2.0])
    >>> bins.n, bins.centers, bins.widths
    (3, tensor([0.2500, 0.7500, 1.5000]), tensor([0.5000, 0.5000, 1.0000]))
    >>> bins.index(torch.tensor([-3.0, 0.0, 0.5, 1.99, 2.0, 7.0]))
    tensor([0, 0, 1, 2, 2, 2])
    """

    def __init__(
        self,
        edges: torch.Tensor | Sequence[float],
        *,
        centers: torch.Tensor | Sequence[float] | None = None,
    ) -> None:
        caller = "Bins"
        given = edges if isinstance(edges, torch.Tensor) else None
        try:
            edges64 = torch.as_tensor(edges, dtype=torch.float64, device="cpu")
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(f"{caller}: edges must be numbers, got {edges!r}") from error
        if edges64.dim() != 1 or edges64.numel() < 2:
            raise ValueError(
                f"{caller}: edges must be one-dimensional with at least 2 entries, got shape "
                f"{tuple(edges64.shape)}"
            )
        if not bool(torch.isfinite(edges64).all()):
            raise ValueError(f"{caller}: edges must be finite, got {_show(edges64, 10)}")
        steps = edges64.diff()
        if not bool((steps > 0).all()):
            k = int(torch.nonzero(steps <= 0)[0])
            raise ValueError(
                f"{caller}: edges must be strictly increasing, got edges[{k}] = "
                f"{float(edges64[k]):.6g} and edges[{k + 1}] = {float(edges64[k + 1]):.6g}"
            )
        if centers is None:
            centers64 = 0.5 * (edges64[:-1] + edges64[1:])
        else:
            centers64 = torch.as_tensor(centers, dtype=torch.float64, device="cpu")
            if centers64.shape != (edges64.numel() - 1,):
                raise ValueError(
                    f"{caller}: centers must have shape ({edges64.numel() - 1},), one per bin, "
                    f"got {tuple(centers64.shape)}"
                )
            outside = (centers64 < edges64[:-1]) | (centers64 > edges64[1:])
            if bool(outside.any()):
                raise ValueError(
                    f"{caller}: each centre must lie in its bin, got centers "
                    f"{_show(centers64[outside])}"
                )
            if not bool((centers64.diff() > 0).all()):
                raise ValueError(
                    f"{caller}: centers must be strictly increasing, got {_show(centers64, 10)}"
                )
        if given is not None and given.is_floating_point():
            self._dtype, self._device = given.dtype, given.device
        else:
            self._dtype, self._device = torch.get_default_dtype(), torch.device("cpu")
        # Contiguous copies: torch.bucketize copies (and warns about) strided boundaries.
        self._edges64 = edges64.contiguous()
        self._centers64 = centers64.contiguous()
        self._cache: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, ...]] = {}

    # ---------------------------------------------------------------- constructors

    @classmethod
    def uniform(cls, low: float, high: float, n: int) -> Bins:
        r"""``n`` bins of equal width :math:`(\text{high} - \text{low})/n` on
        :math:`[\text{low}, \text{high}]`.

        Used in
        https://cebook.github.io/cross-entropy-regression/book/classification/bins.html
        and https://cebook.github.io/cross-entropy-regression/book/classification/soft_targets.html.

        Parameters
        ----------
        low, high : float
            The range, ``low < high``, both finite.
        n : int
            The number of bins :math:`K \ge 1`.

        Returns
        -------
        Bins

        Examples
        --------
        >>> from cebook.bins import Bins
        >>> bins = Bins.uniform(0.0, 1.0, 4)
        >>> bins.edges
        tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
        >>> bins.centers
        tensor([0.1250, 0.3750, 0.6250, 0.8750])
        """
        caller = "Bins.uniform"
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{caller}: n must be a positive int, got {n!r}")
        low_, high_ = float(low), float(high)
        if not (math.isfinite(low_) and math.isfinite(high_) and low_ < high_):
            raise ValueError(
                f"{caller}: low and high must be finite with low < high, got low={low!r}, "
                f"high={high!r}"
            )
        edges = torch.linspace(low_, high_, n + 1, dtype=torch.float64)
        edges[0], edges[-1] = low_, high_
        return cls._from64(edges)

    @classmethod
    def mu_law(cls, n: int = 256, mu: float = 255.0) -> Bins:
        r"""``n`` bins on :math:`[-1, 1]` that are uniform after μ-law companding, as WaveNet
        quantises audio.

        The edges are :math:`f^{-1}(-1 + 2k/n)`, :math:`k = 0, \dots, n`, with :math:`f` the
        μ-law (:func:`mu_law_encode`), so the bins are narrow near 0 and wide near
        :math:`\pm 1`. **The centres are the decoded midpoints** :math:`f^{-1}(-1 + (2k+1)/n)`,
        not the arithmetic midpoints of the edges (they lie a little closer to 0). WaveNet's paper
        specifies no decoder; torchaudio's ``mu_law_decoding`` returns the levels
        :math:`f^{-1}(-1 + 2q/(n-1))` instead, which are not the centres of these bins.
        Used in https://cebook.github.io/cross-entropy-regression/book/classification/bins.html.

        Parameters
        ----------
        n : int
            The number of bins (256 for 8-bit audio).
        mu : float
            The compression parameter :math:`\mu > 0`.

        Returns
        -------
        Bins

        Examples
        --------
        >>> from cebook.bins import Bins
        >>> bins = Bins.mu_law(8, mu=255.0)
        >>> bins.edges
        tensor([-1.0000, -0.2471, -0.0588, -0.0118,  0.0000,  0.0118,  0.0588,  0.2471,
                 1.0000])
        >>> round(float(bins.widths[3] / bins.widths[0]), 4)  # near 0 vs near -1
        0.0156
        """
        caller = "Bins.mu_law"
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{caller}: n must be a positive int, got {n!r}")
        mu = _check_mu(mu, caller)
        grid = torch.linspace(-1.0, 1.0, 2 * n + 1, dtype=torch.float64)
        grid[0], grid[n], grid[-1] = -1.0, 0.0, 1.0
        with torch.no_grad():
            points = mu_law_decode(grid, mu)
        points[0], points[-1] = -1.0, 1.0
        bins = cls._from64(points[0::2], points[1::2])
        return bins

    @classmethod
    def _from64(cls, edges64: torch.Tensor, centers64: torch.Tensor | None = None) -> Bins:
        # Public properties in the default dtype, exact float64 edges kept for the methods.
        bins = cls(edges64, centers=centers64)
        bins._dtype = torch.get_default_dtype()
        return bins

    # ---------------------------------------------------------------- properties

    def _tables(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        """edges, centers, widths, log widths on ``device`` in ``dtype`` (cached)."""
        key = (torch.device(device), dtype)
        tables = self._cache.get(key)
        if tables is None:
            widths64 = self._edges64.diff()
            tables = tuple(
                t.to(device=device, dtype=dtype)
                for t in (self._edges64, self._centers64, widths64, widths64.log())
            )
            self._cache[key] = tables
        return tables

    @property
    def edges(self) -> torch.Tensor:
        """The :math:`K + 1` edges, shape ``(K + 1,)``."""
        return self._tables(self._device, self._dtype)[0]

    @property
    def centers(self) -> torch.Tensor:
        """The :math:`K` centres, shape ``(K,)`` (midpoints unless given)."""
        return self._tables(self._device, self._dtype)[1]

    @property
    def widths(self) -> torch.Tensor:
        """The :math:`K` widths :math:`b_{k+1} - b_k`, shape ``(K,)``."""
        return self._tables(self._device, self._dtype)[2]

    @property
    def n(self) -> int:
        """The number of bins :math:`K`."""
        return self._centers64.numel()

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        low, high = float(self._edges64[0]), float(self._edges64[-1])
        return f"Bins(n={self.n}, low={low:.6g}, high={high:.6g})"

    # ---------------------------------------------------------------- targets

    def _target(self, y: torch.Tensor | float, caller: str) -> torch.Tensor:
        y_ = _float_tensor(caller, "y", y)
        if validation_enabled():
            _Checks(caller).check("y", y_, not_nan).raise_first()
        return y_.contiguous()

    def index(self, y: torch.Tensor | float) -> torch.Tensor:
        r"""The bin that holds each value of ``y``: :math:`k` with :math:`b_k \le y < b_{k+1}`.

        A value on an inner edge :math:`b_k` belongs to bin :math:`k` (the bin it opens), the
        upper edge :math:`b_K` to the last bin, and values outside :math:`[b_0, b_K]` to the end
        bins (the index is clamped to :math:`[0, K - 1]`). Used in
        https://cebook.github.io/cross-entropy-regression/book/classification/bins.html.

        Parameters
        ----------
        y : Tensor or float
            Target values, any shape.

        Returns
        -------
        Tensor
            ``torch.long`` indices, same shape and device as ``y``.

        Examples
        --------
        >>> import torch
        >>> from cebook.bins import Bins
        >>> Bins.uniform(0.0, 1.0, 4).index(torch.tensor([-1.0, 0.0, 0.25, 0.3, 1.0, 2.0]))
        tensor([0, 0, 1, 1, 3, 3])
        """
        y = self._target(y, "Bins.index")
        edges = self._tables(y.device, y.dtype)[0]
        # Counting the inner edges <= y gives an index already clamped to [0, K - 1].
        return torch.bucketize(y, edges[1:-1], right=True)

    def two_hot(self, y: torch.Tensor | float) -> torch.Tensor:
        r"""Two-hot target: mass on the two centres that surround ``y``, with mean ``y``.

        For :math:`c_k \le y \le c_{k+1}` the weights are :math:`1 - t` on :math:`c_k` and
        :math:`t = (y - c_k)/(c_{k+1} - c_k)` on :math:`c_{k+1}`, so that
        :math:`\sum_i p_i c_i = y` (MuZero, DreamerV3). Values below :math:`c_0` or above
        :math:`c_{K-1}` (including the half bins at the ends) put all their mass on the end
        centre. With a single bin the target is ``[1.0]``. Used in
        https://cebook.github.io/cross-entropy-regression/book/classification/soft_targets.html.

        Parameters
        ----------
        y : Tensor or float
            Target values, shape ``(...)``.

        Returns
        -------
        Tensor
            Probabilities of shape ``(..., K)``, same device and (floating) dtype as ``y``.

        Examples
        --------
        >>> import torch
        >>> from cebook.bins import Bins
        >>> bins = Bins(torch.arange(-0.5, 5.0))  # centres 0, 1, 2, 3, 4
        >>> bins.two_hot(torch.tensor(3.7))
        tensor([0.0000, 0.0000, 0.0000, 0.3000, 0.7000])
        """
        y = self._target(y, "Bins.two_hot")
        centers = self._tables(y.device, y.dtype)[1]
        k = centers.numel()
        if k == 1:
            return torch.ones(*y.shape, 1, dtype=y.dtype, device=y.device)
        clamped = torch.minimum(torch.maximum(y, centers[0]), centers[-1])
        low = (torch.bucketize(clamped, centers, right=True) - 1).clamp(0, k - 2)
        c_low, c_high = centers[low], centers[low + 1]
        upper = ((clamped - c_low) / (c_high - c_low)).clamp(0.0, 1.0)
        probs = torch.zeros(*y.shape, k, dtype=y.dtype, device=y.device)
        probs.scatter_add_(-1, low.unsqueeze(-1), (1.0 - upper).unsqueeze(-1))
        probs.scatter_add_(-1, (low + 1).unsqueeze(-1), upper.unsqueeze(-1))
        return probs

    def hl_gauss(
        self, y: torch.Tensor | float, sigma: torch.Tensor | float | None = None
    ) -> torch.Tensor:
        r"""HL-Gauss target: the mass of :math:`\mathcal N(y, \sigma^2)` in each bin, renormalised
        to the bins' range.

        .. math::

            p_k = \frac{\Phi\!\left(\frac{b_{k+1} - y}{\sigma}\right)
                        - \Phi\!\left(\frac{b_k - y}{\sigma}\right)}
                       {\Phi\!\left(\frac{b_K - y}{\sigma}\right)
                        - \Phi\!\left(\frac{b_0 - y}{\sigma}\right)}

        (Imani & White 2018; Farebrother et al. 2024). The default
        :math:`\sigma = 0.75 \times` the width of ``y``'s bin is the ratio Farebrother et al.
        recommend (it spreads the mass over about six bins); lucidrains' ``hl-gauss-pytorch``
        uses 2.0 instead. Each difference is taken in the normal's lower tail (by symmetry) and in
        log space (``log_ndtr``), in float64 on devices that have it, so targets far outside the
        range give a one-hot on the end bin instead of ``0/0``. Used in
        https://cebook.github.io/cross-entropy-regression/book/classification/soft_targets.html.

        Parameters
        ----------
        y : Tensor or float
            Target values, shape ``(...)``.
        sigma : Tensor or float, optional
            Standard deviation of the smoothing normal, positive; a tensor broadcasts against
            ``y``.

        Returns
        -------
        Tensor
            Probabilities of shape ``(..., K)``, summing to 1, same device and (floating) dtype
            as ``y``.

        Raises
        ------
        ValueError
            If ``sigma`` is not positive (checked for tensors when validation is on).

        Examples
        --------
        >>> import torch
        >>> from cebook.bins import Bins
        >>> bins = Bins.uniform(0.0, 1.0, 10)
        >>> probs = bins.hl_gauss(torch.tensor(0.5), sigma=0.075)  # Farebrother et al.'s example
        >>> [round(p, 6) for p in probs.tolist()]
        [0.0, 3.2e-05, 0.003799, 0.087381, 0.408789, 0.408789, 0.087381, 0.003799, 3.2e-05, 0.0]
        >>> round(float(probs.sum()), 6)
        1.0
        """
        caller = "Bins.hl_gauss"
        y = self._target(y, caller)
        work = _work_dtype(y.device)
        edges, _, widths, _ = self._tables(y.device, work)
        y_ = y.to(work)
        if sigma is None:
            sigma_ = 0.75 * widths[self.index(y)]
        else:
            if isinstance(sigma, torch.Tensor):
                sigma_ = sigma.to(device=y.device, dtype=work)
                if validation_enabled():
                    _Checks(caller).positive("sigma", sigma_).raise_first()
            else:
                _check_kind(caller, "sigma", sigma)
                _check_number(caller, "sigma", float(sigma), positive)
                sigma_ = torch.tensor(float(sigma), dtype=work, device=y.device)
            try:
                sigma_ = sigma_.broadcast_to(y_.shape)
            except RuntimeError as error:
                raise ValueError(
                    f"{caller}: sigma of shape {tuple(sigma_.shape)} must broadcast to y's shape "
                    f"{tuple(y_.shape)}"
                ) from error
        # Beyond `reach` from the range the result is one-hot to float64 precision: clamping
        # there changes nothing and keeps infinities and huge values out of the arithmetic.
        w_min = float(self._edges64.diff().min())
        reach = 1000.0 * sigma_ * sigma_ / w_min + 40.0 * sigma_
        y_ = torch.minimum(torch.maximum(y_, edges[0] - reach), edges[-1] + reach)
        u = (edges - y_.unsqueeze(-1)) / sigma_.unsqueeze(-1)  # (..., K + 1)
        a, b = u[..., :-1], u[..., 1:]
        # Phi(b) - Phi(a) = Phi(-a) - Phi(-b): use whichever pair lies in the lower tail.
        upper = (a + b) > 0
        hi = torch.where(upper, -a, b)
        lo = torch.where(upper, -b, a)
        log_hi = torch.special.log_ndtr(hi)
        log_mass = log_hi + _log1mexp(torch.clamp(torch.special.log_ndtr(lo) - log_hi, max=0.0))
        log_z = torch.logsumexp(log_mass, dim=-1, keepdim=True)
        probs = torch.exp(log_mass - log_z)
        # Last resort (all masses underflowed): the bin that holds y.
        fallback = F.one_hot(self.index(y_), self.n).to(work)
        probs = torch.where(torch.isfinite(log_z), probs, fallback)
        return probs.to(y.dtype)

    # ---------------------------------------------------------------- predictions

    def _check_logits(self, logits: torch.Tensor, caller: str) -> torch.Tensor:
        if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
            raise ValueError(f"{caller}: logits must be a floating tensor, got {type(logits)}")
        if logits.dim() == 0 or logits.shape[-1] != self.n:
            raise ValueError(
                f"{caller}: logits must have {self.n} entries (one per bin) in the last "
                f"dimension, got shape {tuple(logits.shape)}"
            )
        return logits

    def decode(self, logits: torch.Tensor, method: DecodeMethod = "mean") -> torch.Tensor:
        r"""A point prediction of the target from logits over the bins.

        * ``"mean"``: the expectation :math:`\sum_k p_k c_k` with :math:`p =
          \operatorname{softmax}(\text{logits})` — the HL-Gauss and two-hot prediction, and the
          least-squares choice; it can fall between two modes of a multimodal law.
        * ``"mode"``: the centre of the most probable bin — one of the modes, but only to the
          bins' resolution.
        * ``"interpolate"``: the vertex of the parabola through the logits of the most probable
          bin and its two neighbours, plotted against their centres (parabolic peak
          interpolation). It is exact when the logits are a quadratic in :math:`y` near the peak
          (a discretised normal law), stays within half a bin of the mode's centre on uniform
          bins, and falls back to the mode's centre at the end bins, with fewer than three bins,
          and where the three logits are collinear.

        On bins of unequal widths (:meth:`mu_law`) the most probable *bin* is not the mode of the
        *density*: wide bins collect more mass. For the density's mode pass the log-density
        ``logits - bins.widths.log()`` to ``"mode"`` and ``"interpolate"`` (``"mean"`` wants the
        logits themselves). Used in
        https://cebook.github.io/cross-entropy-regression/book/classification/bins.html.

        Parameters
        ----------
        logits : Tensor
            Shape ``(..., K)``.
        method : {"mean", "mode", "interpolate"}
            How to decode.

        Returns
        -------
        Tensor
            Shape ``(...)``, in the dtype and on the device of ``logits``.

        Examples
        --------
        >>> import torch
        >>> from cebook.bins import Bins
        >>> bins = Bins.uniform(0.0, 1.0, 10)
        >>> logits = -((bins.centers - 0.33) / 0.1) ** 2 / 2  # a normal law at 0.33
        >>> for method in ("mean", "mode", "interpolate"):
        ...     print(method, round(float(bins.decode(logits, method)), 4))
        mean 0.3301
        mode 0.35
        interpolate 0.33
        """
        caller = "Bins.decode"
        logits = self._check_logits(logits, caller)
        centers = self._tables(logits.device, logits.dtype)[1]
        if method == "mean":
            return torch.softmax(logits, dim=-1) @ centers
        if method not in ("mode", "interpolate"):
            raise ValueError(
                f"{caller}: method must be 'mean', 'mode' or 'interpolate', got {method!r}"
            )
        k = logits.argmax(dim=-1)
        mode = centers[k]
        if method == "mode" or self.n < 3:
            return mode
        left = (k - 1).clamp(0, self.n - 1)
        right = (k + 1).clamp(0, self.n - 1)

        def take(i: torch.Tensor) -> torch.Tensor:
            return logits.gather(-1, i.unsqueeze(-1)).squeeze(-1)

        fa, fb, fc = take(left), take(k), take(right)
        a, b, c = centers[left], mode, centers[right]
        # Vertex of the parabola through (a, fa), (b, fb), (c, fc) (Numerical Recipes §10.3).
        p = (b - a) * (fb - fc)
        q = (b - c) * (fb - fa)
        numerator = (b - a) * p - (b - c) * q
        denominator = 2.0 * (p - q)
        interior = (k > 0) & (k < self.n - 1) & (denominator != 0)
        safe = torch.where(interior, denominator, torch.ones_like(denominator))
        vertex = (b - numerator / safe).clamp(min=a, max=c)
        return torch.where(interior, vertex, mode)

    def density_nll(
        self, logits: torch.Tensor, target: torch.Tensor, *, reduction: Reduction = "mean"
    ) -> torch.Tensor:
        r"""Negative log-density of ``target`` under the piecewise-constant density of the bins.

        .. math::

            -\log q(y) = -\log \operatorname{softmax}(\text{logits})_{k(y)} + \log w_{k(y)},

        the categorical cross-entropy of the target's bin plus the log of its width: the number
        to compare with a continuous law's negative log-likelihood (for instance
        :func:`cebook.losses.gaussian_nll`) on the same targets. Used in
        https://cebook.github.io/cross-entropy-regression/book/classification/bins.html
        and https://cebook.github.io/cross-entropy-regression/book/foundations/cross_entropy.html.

        Parameters
        ----------
        logits : Tensor
            Shape ``(..., K)``.
        target : Tensor
            Shape ``(...)`` = ``logits.shape[:-1]``, inside :math:`[b_0, b_K]`.
        reduction : {"mean", "sum", "none"}
            How to reduce over the examples.

        Returns
        -------
        Tensor
            In nats; shape ``(...)`` for ``"none"``, else a scalar.

        Raises
        ------
        ValueError
            If the shapes do not match, or (validation on) a target lies outside the bins' range.

        Examples
        --------
        >>> import torch
        >>> from cebook.bins import Bins
        >>> bins = Bins.uniform(0.0, 2.0, 4)  # widths 0.5
        >>> logits = torch.zeros(1, 4)  # uniform: density 1/2 on [0, 2]
        >>> bins.density_nll(logits, torch.tensor([1.3]))  # -log(1/2)
        tensor(0.6931)
        """
        caller = "Bins.density_nll"
        logits = self._check_logits(logits, caller)
        _check_reduction(reduction, caller)
        # The target is converted alone: the result keeps the logits' dtype, and a CPU target
        # beside CUDA logits is fine (index() moves it).
        (target,) = _as_tensors(caller, target=target)
        _broadcast_to_target(
            caller, [("logits without their bin dimension", logits.shape[:-1])], target.shape
        )
        _check_nonempty(caller, reduction, target.shape)
        if logits.shape[:-1] != target.shape:
            logits = logits.expand(*target.shape, self.n)
        if validation_enabled():
            low, high = float(self._edges64[0]), float(self._edges64[-1])
            inside = (target >= low) & (target <= high)
            requirement = f"target must be within the bins' range [{low:.6g}, {high:.6g}]"
            _Checks(caller).add(requirement, target, inside).raise_first()
        log_widths = self._tables(logits.device, logits.dtype)[3]
        k = self.index(target.to(logits.device, logits.dtype))  # a CPU target is fine
        log_p = torch.log_softmax(logits, dim=-1).gather(-1, k.unsqueeze(-1)).squeeze(-1)
        return _reduce(log_widths[k] - log_p, reduction, caller)
