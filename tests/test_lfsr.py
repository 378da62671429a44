"""Fibonacci LFSRs (docs/hardware-model.md section 4) against a bit-by-bit reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from hdl.ir import LFSR_TAPS, DropoutSpec, IRError, LFSRSpec
from hdl.lfsr import (
    LFSRError,
    drop_threshold,
    dropout_drop_bits,
    lfsr_next,
    lfsr_states,
    lfsr_streams,
    module_seeds,
    rate_spikes,
)


def reference_states(seed: int, width: int, n: int) -> list[int]:
    """The register as a list of bits ``cells[p - 1]`` = bit position ``p`` (1 = LSB): every
    cell moves one position up, the XOR of the tap cells enters position 1."""
    cells = [(seed >> p) & 1 for p in range(width)]
    out = []
    for _ in range(n):
        feedback = 0
        for tap in LFSR_TAPS[width]:
            feedback ^= cells[tap - 1]
        cells = [feedback, *cells[:-1]]
        out.append(sum(bit << p for p, bit in enumerate(cells)))
    return out


# --- GF(2) polynomials as Python ints (bit i = coefficient of x**i) ---------------------------


def _polymulmod(a: int, b: int, modulus: int, degree: int) -> int:
    result = 0
    while b:
        if b & 1:
            result ^= a
        b >>= 1
        a <<= 1
        if (a >> degree) & 1:
            a ^= modulus
    return result


def _x_power(exponent: int, modulus: int, degree: int) -> int:
    result, base = 1, 0b10
    while exponent:
        if exponent & 1:
            result = _polymulmod(result, base, modulus, degree)
        base = _polymulmod(base, base, modulus, degree)
        exponent >>= 1
    return result


def _prime_factors(n: int) -> set[int]:
    factors, d = set(), 2
    while d * d <= n:
        while n % d == 0:
            factors.add(d)
            n //= d
        d += 1
    if n > 1:
        factors.add(n)
    return factors


@pytest.mark.parametrize("width", sorted(LFSR_TAPS))
def test_feedback_polynomial_is_primitive(width: int) -> None:
    """new bit b_k = XOR_t b_(k-t): characteristic polynomial x^w + Σ_t x^(w-t); it is
    primitive (period 2^w - 1) iff x has order exactly 2^w - 1 modulo it."""
    poly = 1 << width
    for tap in LFSR_TAPS[width]:
        poly ^= 1 << (width - tap)
    order = 2**width - 1
    assert _x_power(order, poly, width) == 1
    for q in _prime_factors(order):
        assert _x_power(order // q, poly, width) != 1, f"width {width}: order divides {order}/{q}"


@pytest.mark.parametrize("width", sorted(LFSR_TAPS))
@pytest.mark.parametrize("seed", [1, 2, 0b1011])
def test_states_match_bit_by_bit_reference(width: int, seed: int) -> None:
    n = 300
    np.testing.assert_array_equal(
        lfsr_states(LFSRSpec(width, seed), n), reference_states(seed, width, n)
    )


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 1000, 16384, 16385, 40000])
def test_block_boundaries(n: int) -> None:
    expected = reference_states(0xACE1, 16, n)
    np.testing.assert_array_equal(lfsr_states(LFSRSpec(16, 0xACE1), n), expected)


def test_streams_vectorised_over_seeds() -> None:
    seeds = [1, 7, 200, 2**12 - 1]
    states = lfsr_streams(12, seeds, 500)
    assert states.shape == (4, 500) and states.dtype == np.int64
    for row, seed in zip(states, seeds, strict=True):
        np.testing.assert_array_equal(row, reference_states(seed, 12, 500))


@pytest.mark.parametrize("width", [w for w in sorted(LFSR_TAPS) if w <= 16])
def test_maximal_period_and_never_zero(width: int) -> None:
    period = 2**width - 1
    seed = 5 % period + 1
    states = lfsr_states(LFSRSpec(width, seed), period + 1)
    assert np.all(states > 0)
    assert len(np.unique(states[:period])) == period  # every non-zero state once
    assert states[period - 1] == seed  # back at the seed after exactly 2^w - 1 steps
    assert states[period] == states[0]
    if width <= 12:
        np.testing.assert_array_equal(states, reference_states(seed, width, period + 1))


def test_scalar_step() -> None:
    assert lfsr_next(1, 4) == reference_states(1, 4, 1)[0]
    assert lfsr_next(0b1000, 4) == 0b0001  # tap 4 set: feedback 1, bit 4 shifted out
    with pytest.raises(LFSRError, match=r"state must be in 1\.\.15"):
        lfsr_next(0, 4)


def test_zero_seed_refused() -> None:
    with pytest.raises(IRError, match=r"lfsr.seed must be in 1..65535"):
        LFSRSpec(16, 0)
    with pytest.raises(LFSRError, match=r"seeds must be in 1\.\.255"):
        lfsr_streams(8, [3, 0], 10)
    with pytest.raises(LFSRError, match="width must be one of"):
        lfsr_streams(3, [1], 10)


def test_module_seeds_wrap_into_non_zero_states() -> None:
    np.testing.assert_array_equal(module_seeds(LFSRSpec(8, 5), 3), [5, 6, 7])
    np.testing.assert_array_equal(module_seeds(LFSRSpec(8, 254), 4), [254, 255, 1, 2])
    np.testing.assert_array_equal(module_seeds(LFSRSpec(4, 15), 17)[-3:], [14, 15, 1])


def test_drop_threshold() -> None:
    assert drop_threshold(0.5, 16) == 32768
    assert drop_threshold(0.1, 8) == round(25.6)
    assert drop_threshold(3 / 512, 8) == 2  # 1.5 rounds half to even
    with pytest.raises(LFSRError, match=r"in \[0, 1\]"):
        drop_threshold(1.5, 8)


def test_drop_bits_follow_documented_module_order() -> None:
    spec = DropoutSpec(0.3, source="lfsr", modules=3, lfsr=LFSRSpec(10, 17))
    units, masks = 7, 4
    cycles = 3  # ceil(7 / 3)
    bits = dropout_drop_bits(spec, units, masks)
    per_module = [reference_states(17 + m, 10, masks * cycles) for m in range(3)]
    threshold = round(0.3 * 1024)
    for q in range(masks):
        for r in range(units):
            u = per_module[r % 3][q * cycles + r // 3]
            assert bits[q, r] == (u < threshold), (q, r)
    # prefix property: the registers run continuously from reset
    np.testing.assert_array_equal(dropout_drop_bits(spec, units, 2), bits[:2])


def test_full_period_drop_count_is_exact() -> None:
    """Over a full period each non-zero state appears once: exactly threshold - 1 drops."""
    spec = DropoutSpec(0.37, source="lfsr", modules=1, lfsr=LFSRSpec(8, 99))
    bits = dropout_drop_bits(spec, 255, 1)
    assert int(bits.sum()) == drop_threshold(0.37, 8) - 1


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_drop_rate_close_to_p(p: float) -> None:
    spec = DropoutSpec(p, source="lfsr", modules=16, lfsr=LFSRSpec(16, 1234))
    bits = dropout_drop_bits(spec, 784, 64)
    k, n = int(bits.sum()), bits.size
    ci = binomtest(k, n).proportion_ci(confidence_level=0.999, method="exact")
    assert ci.low <= p <= ci.high, f"{k}/{n} = {k / n:.4f}, p = {p}"


def test_dropout_needs_lfsr_source() -> None:
    with pytest.raises(LFSRError, match="source must be 'lfsr'"):
        dropout_drop_bits(DropoutSpec(0.2), 10, 1)


def test_rate_spikes_documented_order() -> None:
    spec = LFSRSpec(8, 77)
    bits, samples, steps = 4, 2, 3
    x = np.array([[0, 15, 7, 3, 9], [1, 2, 14, 15, 0]])
    spikes = rate_spikes(x, bits, spec, samples, steps)
    assert spikes.shape == (samples, 2, steps, 5) and spikes.dtype == np.uint8
    u = reference_states(77, 8, 2 * samples * steps * 5)
    for n in range(2):
        for m in range(samples):
            for t in range(steps):
                for i in range(5):
                    state = u[((n * samples + m) * steps + t) * 5 + i]
                    assert spikes[m, n, t, i] == int((state >> 4) < x[n, i])
    assert not spikes[:, 0, :, 0].any()  # x = 0 never spikes


def test_rate_spikes_errors() -> None:
    with pytest.raises(LFSRError, match=r"width \(4\) must be >= input bits \(8\)"):
        rate_spikes(np.zeros((1, 3), dtype=int), 8, LFSRSpec(4, 1), 1, 1)
    with pytest.raises(LFSRError, match=r"shape \(N, P\)"):
        rate_spikes(np.zeros(3, dtype=int), 4, LFSRSpec(8, 1), 1, 1)
