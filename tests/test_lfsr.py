"""Fibonacci LFSRs (docs/hardware-model.md sections 3 and 4) against a bit-by-bit reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from hdl.ir import LFSR_TAPS, DropoutSpec, IRError, LFSRSpec
from hdl.lfsr import (
    LFSRError,
    drop_threshold,
    dropout_drop_bits,
    jump_columns,
    lfsr_advance,
    lfsr_next,
    lfsr_states,
    lfsr_streams,
    module_offsets,
    module_seeds,
    rate_spikes,
)


def reference_states(seed: int, width: int, n: int) -> list[int]:
    """The register as a list of bits ``cells[p - 1]`` = bit position ``p`` (1 = LSB): every
    cell moves one position up, the XOR of the tap cells enters position 1. Returns the states
    after single steps 1 .. n."""
    cells = [(seed >> p) & 1 for p in range(width)]
    out = []
    for _ in range(n):
        feedback = 0
        for tap in LFSR_TAPS[width]:
            feedback ^= cells[tap - 1]
        cells = [feedback, *cells[:-1]]
        out.append(sum(bit << p for p, bit in enumerate(cells)))
    return out


def reference_draws(seed: int, width: int, n: int, offset: int = 0) -> list[int]:
    """Draws 1 .. n of a stream starting ``offset`` single steps after ``seed``: draw ``k`` is
    the state ``offset + k * width`` single steps after the seed."""
    states = reference_states(seed, width, offset + n * width)
    return states[offset + width - 1 :: width]


def reference_advance(seed: int, width: int, steps: int) -> int:
    return seed if steps == 0 else reference_states(seed, width, steps)[-1]


def conditional(first: np.ndarray, then: np.ndarray) -> tuple[float, int]:
    """``P(then | first)`` over paired bool arrays, and the number of conditioning events."""
    first, then = first.reshape(-1), then.reshape(-1)
    return float(then[first].mean()), int(first.sum())


def assert_independent(first: np.ndarray, then: np.ndarray, rate: float, what: str) -> None:
    """P(then | first) within 5 standard errors (plus 0.002) of the marginal ``rate``; the
    single-step streams gave about 0.5 for rate 0.1."""
    got, n = conditional(first, then)
    bound = 5 * math.sqrt(rate * (1 - rate) / n) + 0.002
    assert abs(got - rate) < bound, f"{what}: P = {got:.4f} vs {rate:.4f} (bound {bound:.4f})"


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


# --- single steps, leaps, jumps ------------------------------------------------------------------


@pytest.mark.parametrize("width", sorted(LFSR_TAPS))
@pytest.mark.parametrize("seed", [1, 2, 0b1011])
def test_single_steps_match_bit_by_bit_reference(width: int, seed: int) -> None:
    n = 300
    np.testing.assert_array_equal(
        lfsr_states(LFSRSpec(width, seed), n), reference_states(seed, width, n)
    )


@pytest.mark.parametrize("width", sorted(LFSR_TAPS))
@pytest.mark.parametrize("seed", [1, 0b1011])
def test_draw_is_width_single_steps(width: int, seed: int) -> None:
    """Leap-forward: one draw equals ``width`` single steps of the bit-by-bit reference."""
    n = 200
    want = reference_draws(seed, width, n)
    np.testing.assert_array_equal(lfsr_streams(width, [seed], n)[0], want)
    np.testing.assert_array_equal(lfsr_states(LFSRSpec(width, seed), n, stride=width), want)


@pytest.mark.parametrize("width", [5, 8, 16, 32])
def test_jump_columns_are_the_leap_xor_network(width: int) -> None:
    """New bit i = XOR of the old bits j whose column has bit i set: w single steps."""
    cols = jump_columns(width, width)
    assert cols.shape == (width,) and cols.dtype == np.int64
    rng = np.random.default_rng(width)
    for state in rng.integers(1, 2**width, 20).tolist():
        new = 0
        for i in range(width):
            bit = 0
            for j in range(width):
                bit ^= ((state >> j) & 1) & ((int(cols[j]) >> i) & 1)
            new |= bit << i
        assert new == reference_states(state, width, width)[-1]


@pytest.mark.parametrize("width", [4, 8, 12])
def test_advance_matches_reference(width: int) -> None:
    period = 2**width - 1
    steps = [0, 1, width, 37 % period, period - 1, period, period + 5, 3 * period + 2]
    for seed in (1, 6):
        got = lfsr_advance(seed, width, steps)
        want = [reference_advance(seed, width, s % period) for s in steps]
        np.testing.assert_array_equal(got, want)
    states = np.array([[1], [5], [9]])
    got = lfsr_advance(states, width, [2, 7])  # broadcast (3, 1) x (2,) -> (3, 2)
    assert got.shape == (3, 2)
    assert got[2, 1] == reference_advance(9, width, 7)
    with pytest.raises(LFSRError, match="steps must be integers >= 0"):
        lfsr_advance(1, width, -1)


@pytest.mark.parametrize(
    ("n", "stride"),
    [(n, 1) for n in (0, 1, 63, 64, 65, 1000, 16384, 16385, 40000)]
    + [(n, 16) for n in (0, 1, 2, 3, 1000, 16384, 16385, 20000)],
)
def test_block_boundaries(n: int, stride: int) -> None:
    expected = reference_states(0xACE1, 16, n * stride)[stride - 1 :: stride]
    np.testing.assert_array_equal(lfsr_states(LFSRSpec(16, 0xACE1), n, stride), expected)


def test_streams_vectorised_over_starts() -> None:
    starts = [1, 7, 200, 2**12 - 1]
    draws = lfsr_streams(12, starts, 500)
    assert draws.shape == (4, 500) and draws.dtype == np.int64
    for row, start in zip(draws, starts, strict=True):
        np.testing.assert_array_equal(row, reference_draws(start, 12, 500))
    np.testing.assert_array_equal(
        lfsr_streams(12, starts, 500, stride=1)[2], reference_states(200, 12, 500)
    )


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
    # draws: a full cycle of all states when gcd(w, P) = 1, a third of them for w = 6, 12
    draws = lfsr_streams(width, [seed], period)[0]
    g = math.gcd(width, period)
    assert len(np.unique(draws)) == period // g
    assert draws[period // g - 1] == seed


def test_scalar_step() -> None:
    assert lfsr_next(1, 4) == reference_states(1, 4, 1)[0]
    assert lfsr_next(0b1000, 4) == 0b0001  # tap 4 set: feedback 1, bit 4 shifted out
    with pytest.raises(LFSRError, match=r"state must be in 1\.\.15"):
        lfsr_next(0, 4)


def test_zero_seed_refused() -> None:
    with pytest.raises(IRError, match=r"lfsr.seed must be an integer in 1..65535"):
        LFSRSpec(16, 0)
    with pytest.raises(LFSRError, match=r"start states must be in 1\.\.255"):
        lfsr_streams(8, [3, 0], 10)
    with pytest.raises(LFSRError, match="width must be one of"):
        lfsr_streams(3, [1], 10)
    with pytest.raises(LFSRError, match="stride must be an integer >= 1"):
        lfsr_streams(8, [1], 10, stride=0)


# --- module starts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "modules", "edge", "edges"),
    [(8, 1, 0, 1), (8, 3, 0, 1), (10, 4, 1, 2), (12, 5, 2, 3), (16, 16, 0, 1), (16, 2, 3, 4)],
)
def test_module_offsets_by_formula(width: int, modules: int, edge: int, edges: int) -> None:
    period = 2**width - 1
    gap = period // modules
    spacing = gap // (edges + 1)
    want = [(edge + 1) * spacing + m * gap for m in range(modules)]
    offsets = module_offsets(width, modules, edge, edges)
    assert offsets.tolist() == want
    assert offsets.min() > 0 and offsets.max() < period  # never the input's offset 0
    seed = 0b101
    seeds = module_seeds(LFSRSpec(width, seed), modules, edge, edges)
    checked = want if width <= 12 else want[:2]  # the bit-list reference is slow at 2^16
    assert seeds[: len(checked)].tolist() == [reference_advance(seed, width, o) for o in checked]


def test_module_starts_of_a_network_are_a_draw_apart() -> None:
    """All streams of one width (input at 0, every module of every edge) are >= w steps apart."""
    width, modules, edges = 16, 16, 3
    offsets = [0]
    for edge in range(edges):
        offsets += module_offsets(width, modules, edge, edges).tolist()
    offsets.sort()
    gaps = np.diff([*offsets, offsets[0] + 2**width - 1])
    assert len(offsets) == 1 + modules * edges and gaps.min() >= width


def test_too_many_modules_refused_with_the_fix() -> None:
    # modules larger than the period: G = 0
    with pytest.raises(LFSRError, match=r"width 4 \(period 15\).*use a wider LFSR \(width >= 9\)"):
        module_offsets(4, 16)
    # starts closer than one draw: G = 15, d = 7 < 8
    with pytest.raises(LFSRError, match=r"7 < 8 single steps.*use a wider LFSR \(width >= 9\)"):
        module_offsets(8, 17, 0, 1)
    with pytest.raises(LFSRError, match="fewer modules"):
        module_offsets(8, 2**31)
    with pytest.raises(LFSRError, match=r"edge must be in 0\.\.1"):
        module_offsets(8, 1, 2, 2)
    with pytest.raises(LFSRError, match="wider LFSR"):
        dropout_drop_bits(DropoutSpec(0.2, source="lfsr", modules=20, lfsr=LFSRSpec(5)), 40, 1)


# --- dropout bits --------------------------------------------------------------------------------


def test_drop_threshold() -> None:
    assert drop_threshold(0.5, 16) == 32768
    assert drop_threshold(0.1, 8) == round(25.6)
    assert drop_threshold(3 / 512, 8) == 2  # 1.5 rounds half to even
    with pytest.raises(LFSRError, match=r"in \[0, 1\]"):
        drop_threshold(1.5, 8)


@pytest.mark.parametrize(("edge", "edges"), [(0, 1), (1, 3)])
def test_drop_bits_follow_documented_module_order(edge: int, edges: int) -> None:
    spec = DropoutSpec(0.3, source="lfsr", modules=3, lfsr=LFSRSpec(10, 17))
    units, masks = 7, 4
    cycles = 3  # ceil(7 / 3)
    bits = dropout_drop_bits(spec, units, masks, edge, edges)
    gap = 1023 // 3
    spacing = gap // (edges + 1)
    per_module = [
        reference_draws(17, 10, masks * cycles, (edge + 1) * spacing + m * gap) for m in range(3)
    ]
    threshold = round(0.3 * 1024)
    for q in range(masks):
        for r in range(units):
            u = per_module[r % 3][q * cycles + r // 3]
            assert bits[q, r] == (u < threshold), (q, r)
    # prefix property: the registers run continuously from reset
    np.testing.assert_array_equal(dropout_drop_bits(spec, units, 2, edge, edges), bits[:2])


def test_full_period_drop_count_is_exact() -> None:
    """Over 2^w - 1 draws (gcd(8, 255) = 1) each non-zero state appears once: exactly
    threshold - 1 drops, the documented rate (threshold - 1) / (2^w - 1)."""
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


# --- the flaw of single-step streams is gone ---------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.3])
def test_successive_draws_uncorrelated_over_a_full_period(p: float) -> None:
    """Exact over all 2^16 - 1 draws: P(drop k+lag | drop k) within 0.002 of the rate for
    lags 1..8 (single steps: about 0.5 at lag 1 for p = 0.1)."""
    drops = lfsr_streams(16, [1], 2**16 - 1)[0] < drop_threshold(p, 16)
    rate = float(drops.mean())
    assert rate == (drop_threshold(p, 16) - 1) / (2**16 - 1)
    for lag in range(1, 9):
        got, _ = conditional(drops, np.roll(drops, -lag))
        assert abs(got - rate) < 0.002, (lag, got, rate)
    singles = lfsr_states(LFSRSpec(16, 1), 2**16 - 1) < drop_threshold(p, 16)
    assert conditional(singles, np.roll(singles, -1))[0] > 0.45  # the old semantics' flaw


@pytest.mark.parametrize("modules", [1, 4, 16])
def test_mask_rows_uncorrelated(modules: int) -> None:
    """p = 0.1, default LFSR: successive draws of one module (rows r, r + modules) and
    neighbouring modules (rows r, r + 1 in one cycle) are independent within 5 sigma."""
    p = 0.1
    bits = dropout_drop_bits(DropoutSpec(p, source="lfsr", modules=modules), 784, 256)
    rate = float(bits.mean())
    assert abs(rate - p) < 0.005
    assert_independent(bits[:, :-modules], bits[:, modules:], rate, "same module")
    if modules > 1:
        same_cycle = (np.arange(783) % modules) != modules - 1
        assert_independent(bits[:, :-1][:, same_cycle], bits[:, 1:][:, same_cycle], rate, "nb")


def test_two_modules_are_not_copies() -> None:
    """Two modules from the default seed: rows 0 and 1 agree as often as independent bits."""
    p = 0.1
    bits = dropout_drop_bits(DropoutSpec(p, source="lfsr", modules=2), 2, 30000)
    rate = float(bits.mean())
    assert_independent(bits[:, 0], bits[:, 1], rate, "module 0 -> 1")
    agree = float((bits[:, 0] == bits[:, 1]).mean())
    assert abs(agree - (1 - 2 * rate * (1 - rate))) < 0.01


def test_rate_spikes_uncorrelated() -> None:
    """Spike probability ~0.1 everywhere: successive inputs and timesteps are independent."""
    x = np.full((20, 784), 26)  # 8 bits: P(spike) = (26 * 256 - 1) / 65535
    spikes = rate_spikes(x, 8, LFSRSpec(), 2, 4).astype(bool)
    rate = float(spikes.mean())
    assert abs(rate - 26 / 256) < 0.005
    assert_independent(spikes[..., :-1], spikes[..., 1:], rate, "input i -> i + 1")
    assert_independent(spikes[:, :, :-1], spikes[:, :, 1:], rate, "timestep t -> t + 1")


def test_default_input_and_dropout_streams_differ() -> None:
    """Same default LFSRSpec: the input stream starts at the seed, dropout module 0 of the only
    dropout edge half a period later; their draws share no state for a long stretch."""
    spec = LFSRSpec()
    n = 2000
    input_draws = lfsr_streams(spec.width, [spec.seed], n)[0]
    module_draws = lfsr_streams(spec.width, module_seeds(spec, 1), n)[0]
    assert not set(input_draws.tolist()) & set(module_draws.tolist())
    p = 0.1
    spikes = rate_spikes(np.full((1, 784 * 8), 26), 8, spec, 1, 1)[0, 0, 0].astype(bool)
    drops = dropout_drop_bits(DropoutSpec(p, source="lfsr"), 784 * 8, 1)[0]
    assert_independent(drops, spikes, float(spikes.mean()), "input vs dropout")


# --- rate coding ---------------------------------------------------------------------------------


def test_rate_spikes_documented_order() -> None:
    spec = LFSRSpec(8, 77)
    bits, samples, steps = 4, 2, 3
    x = np.array([[0, 15, 7, 3, 9], [1, 2, 14, 15, 0]])
    spikes = rate_spikes(x, bits, spec, samples, steps)
    assert spikes.shape == (samples, 2, steps, 5) and spikes.dtype == np.uint8
    u = reference_draws(77, 8, 2 * samples * steps * 5)
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
