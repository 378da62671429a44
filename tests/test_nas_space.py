"""The search space: canonical cells against an independent enumeration, candidates as IR
networks priced by the cost model, and memory checked by hand."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import numpy as np
import optuna
import pytest

from hdl.cost import estimate
from hdl.hwconfig import HardwareConfig
from hdl.ir import load_network, save_network
from nas.budget import cost_metrics
from nas.cell import EDGES, OPS, Cell, enumerate_cells
from nas.errors import NASError
from nas.space import Candidate, HardwareSpace, SearchSpace, SpaceConfig


def _unfolded(genotype: tuple[str, ...]) -> str:
    """Independent reference: node 3 as an expression tree. Every node is a LIF of the
    multiset of its non-zero incoming operations applied to their sources' expressions; a node
    with no current is '0' and contributes nothing. Two genotypes compute the same function
    exactly when these strings are equal; '0' means no input->output path."""
    expr = {0: "x"}
    for node in (1, 2, 3):
        terms = sorted(
            f"{op}({expr[s]})"
            for (s, t), op in zip(EDGES, genotype, strict=True)
            if t == node and op != "zero" and expr[s] != "0"
        )
        expr[node] = f"LIF[{','.join(terms)}]" if terms else "0"
    return expr[3]


@pytest.mark.parametrize(
    "ops", [OPS, tuple(o for o in OPS if o != "avgpool3x3"), ("skip", "conv1x1", "conv3x3")]
)
def test_distinct_valid_cells_match_brute_force(ops):
    classes: dict[str, set[str]] = {}
    for g in itertools.product(ops, repeat=len(EDGES)):
        e = _unfolded(g)
        if e != "0":
            classes.setdefault(e, set()).add(Cell(g).canonical().key)
    # every functional class maps to exactly one canonical form, and vice versa
    assert all(len(keys) == 1 for keys in classes.values())
    cells = enumerate_cells(ops)
    assert len(cells) == len(classes)
    assert {c.key for c in cells} == {next(iter(k)) for k in classes.values()}


def test_counts_of_snasnet_space():
    assert len(enumerate_cells(OPS)) == 8764  # of 5^6 = 15625 genotypes
    assert len(enumerate_cells(tuple(o for o in OPS if o != "avgpool3x3"))) == 1947  # of 4096


def test_equivalent_cells_share_a_key():
    a = Cell(("conv3x3", "conv1x1", "zero", "skip", "skip", "avgpool3x3"))
    b = Cell(("conv1x1", "conv3x3", "zero", "skip", "avgpool3x3", "skip"))  # nodes 1, 2 swapped
    assert a.canonical() == b.canonical()
    # node 2 never reaches the output: its edges are pruned
    c = Cell(("conv3x3", "conv3x3", "zero", "skip", "skip", "zero"))
    d = Cell(("conv3x3", "zero", "zero", "skip", "skip", "zero"))
    assert c.canonical() == d.canonical()
    base = dict(channels=8, down_channels=16, hidden=32, timesteps=2, weight_bits=4)
    ca = Candidate(cells=(a, c), **base)
    cb = Candidate(cells=(b, d), **base)
    assert ca.key == cb.key
    assert Candidate(cells=(a, d), **base, dropout_p=0.0, modules=4).key == ca.key
    assert Candidate(cells=(a, d), **base, dropout_p=0.1).key != ca.key
    assert not Cell(("conv3x3", "skip", "zero", "zero", "zero", "zero")).valid


def test_every_sampled_candidate_validates_and_is_priced():
    space = SearchSpace(
        SpaceConfig(hardware=HardwareSpace(tile_rows=(64, 128), columns_per_adc=(4, 8)))
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen_pool = False
    for _ in range(40):
        trial = study.ask()
        cand = space.sample(trial)
        if not cand.valid:
            study.tell(trial, 0.0)
            continue
        net = cand.network((1, 8, 8), 10, 8)
        report = estimate(net, cand.hardware())
        assert report.memory_bits["weights"] > 0 and report.energy_uj > 0
        assert net.metadata["nas_candidate"] == cand.key
        for name in net.metadata["pool_edges"]:
            layer, index = name.rsplit(".", 1)
            edge = net.layer(layer).edges[int(index)]
            assert (edge.kind, edge.kernel, edge.padding, edge.weight_bits) == ("conv2d", 3, 1, 2)
            assert edge.dropout is None
            seen_pool = True
        for layer in net.layers:
            for e in layer.edges:
                if e.kind == "linear" and e.dropout is not None:
                    assert e.dropout.granularity == "row"
        study.tell(trial, 0.0)
    assert seen_pool
    rng = np.random.default_rng(0)
    for _ in range(30):
        cand = space.draw(rng)
        assert cand.valid
        cand.network((3, 12, 10), 5, 4)


def test_memory_is_weight_bits_times_weights_by_hand():
    cell1 = Cell(("conv3x3", "zero", "zero", "skip", "skip", "zero"))  # n3 = x0 + n1
    cell2 = Cell(("zero", "zero", "zero", "avgpool3x3", "zero", "zero"))  # n3 = pool(x0)
    cand = Candidate(
        cells=(cell1, cell2), channels=4, down_channels=8, hidden=16, timesteps=2, weight_bits=4
    )
    net = cand.network((1, 8, 8), 10, 8)
    names = [layer.name for layer in net.layers]
    assert names == ["stem", "cell1_n1", "cell1_n3", "down", "cell2_n3", "fc", "out"]
    assert net.metadata["pool_edges"] == ["cell2_n3.0"]
    # weights by hand: stem 4*1*9, cell1 conv3x3 4*4*9, down 8*4*9, fc 16*(8*4*4), out 10*16
    trained = 4 * 9 + 4 * 4 * 9 + 8 * 4 * 9 + 16 * 128 + 10 * 16
    pool = 8 * 8 * 9
    report = estimate(net, HardwareConfig())
    assert report.memory_bits["weights"] == 4 * trained + 2 * pool
    metrics = cost_metrics(report, net)
    assert metrics["params"] == trained + pool
    assert metrics["memory_bits"] == 4 * trained + 2 * pool
    assert metrics["latency_ms"] == pytest.approx(report.seconds * 1e3)


def test_round_trips_and_network_file(tmp_path):
    rng = np.random.default_rng(5)
    space = SearchSpace(SpaceConfig(shared_cells=False))
    for _ in range(10):
        cand = space.draw(rng)
        again = Candidate.from_dict(json.loads(json.dumps(cand.to_dict())))
        assert again == cand and again.key == cand.key
    net = cand.network((1, 8, 8), 10)
    save_network(net, tmp_path)
    assert load_network(tmp_path).metadata == net.metadata


def test_stream_is_reproducible_and_seeded():
    space = SearchSpace()
    assert [space.stream(7, i) for i in range(5)] == [space.stream(7, i) for i in range(5)]
    assert space.stream(7, 0) != space.stream(8, 0) or space.stream(7, 1) != space.stream(8, 1)


def test_ops_subset_and_fixed_dimensions():
    space = SearchSpace(SpaceConfig(ops=("zero", "conv3x3"), channels=(16,), weight_bits=(8,)))
    rng = np.random.default_rng(1)
    for _ in range(20):
        cand = space.draw(rng)
        assert set(cand.cells[0].ops) <= {"zero", "conv3x3"}
        assert (cand.channels, cand.weight_bits) == (16, 8)
    assert "channels" not in space.distributions()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"ops": ("zero",)}, "space.ops"),
        ({"ops": ("conv5x5",)}, "unknown operations"),
        ({"weight_bits": (0, 1)}, "space.weight_bits"),
        ({"dropout_p": (1.0,)}, "space.dropout_p"),
        ({"granularity": ("column",)}, "space.granularity"),
        ({"channels": ()}, "space.channels"),
    ],
)
def test_bad_space_names_the_key(kwargs, words):
    with pytest.raises(NASError, match=words):
        SpaceConfig(**kwargs)


def test_bad_hardware_space_names_the_key():
    with pytest.raises(NASError, match="columns_per_adc choice 3 does not divide"):
        HardwareSpace(tile_cols=(128,), columns_per_adc=(3,))
    with pytest.raises(NASError, match="adc_bits"):
        HardwareSpace(adc_bits=(8, 0))


def test_double_buffered_masks_are_a_hardware_choice() -> None:
    """mask_double_buffer is searchable: [false, true] reaches both chips, each priced with its
    own schedule (with dropout and several samples the double buffer takes fewer cycles); by
    default the chip has two mask banks."""
    from nas.config import search_config

    space = SearchSpace(SpaceConfig(hardware=HardwareSpace(mask_double_buffer=(False, True))))
    assert space.distributions()["hw.mask_double_buffer"] == (False, True)
    rng = np.random.default_rng(6)
    chips = {}
    for _ in range(40):
        cand = space.draw(rng)
        if cand.dropout_p > 0:
            chips.setdefault(cand.hardware().mask_double_buffer, cand)
    assert set(chips) == {False, True}
    cand = chips[True]
    net = cand.network((1, 8, 8), 10, 8)
    single = estimate(net, replace(cand.hardware(), mask_double_buffer=False), samples=4)
    assert estimate(net, cand.hardware(), samples=4).cycles < single.cycles
    assert Candidate.from_dict(cand.to_dict()) == cand
    assert "hw.mask_double_buffer" not in SearchSpace().distributions()
    assert SearchSpace().stream(3, 1).hardware().mask_double_buffer is True  # the default
    cfg = search_config({}, ["search.space.hardware.mask_double_buffer=[false, true]"])
    assert cfg.space.hardware.mask_double_buffer == (False, True)
    with pytest.raises(NASError, match="mask_double_buffer"):
        HardwareSpace(mask_double_buffer=(1,))  # type: ignore[arg-type]


def test_overlapped_reads_are_a_hardware_choice() -> None:
    """overlap_reads is searchable: [false, true] reaches both chips, each priced with its own
    schedule (the candidate networks read the 8-bit direct input in 8 bit-planes, so the
    overlapped chip takes fewer cycles); by default the reads are overlapped."""
    from nas.config import search_config

    space = SearchSpace(SpaceConfig(hardware=HardwareSpace(overlap_reads=(False, True))))
    assert space.distributions()["hw.overlap_reads"] == (False, True)
    rng = np.random.default_rng(6)
    chips = {}
    for _ in range(40):
        cand = space.draw(rng)
        chips.setdefault(cand.hardware().overlap_reads, cand)
    assert set(chips) == {False, True}
    cand = chips[True]
    net = cand.network((1, 8, 8), 10, 8)
    plain = estimate(net, replace(cand.hardware(), overlap_reads=False))
    assert estimate(net, cand.hardware()).cycles < plain.cycles
    assert Candidate.from_dict(cand.to_dict()) == cand
    assert "hw.overlap_reads" not in SearchSpace().distributions()
    assert SearchSpace().stream(3, 1).hardware().overlap_reads is True  # the default
    cfg = search_config({}, ["search.space.hardware.overlap_reads=[false, true]"])
    assert cfg.space.hardware.overlap_reads == (False, True)
    with pytest.raises(NASError, match="overlap_reads"):
        HardwareSpace(overlap_reads=("yes",))  # type: ignore[arg-type]


def test_pipelined_layers_are_a_hardware_choice() -> None:
    """pipeline_layers is searchable: [false, true] reaches both chips, each priced with its own
    schedule (the candidates' layers of several timesteps overlap: the pipelined chip takes
    fewer cycles); by default the layers are pipelined."""
    from nas.config import search_config

    space = SearchSpace(SpaceConfig(hardware=HardwareSpace(pipeline_layers=(False, True))))
    assert space.distributions()["hw.pipeline_layers"] == (False, True)
    rng = np.random.default_rng(7)
    chips = {}
    for _ in range(60):
        cand = space.draw(rng)
        if cand.timesteps > 1:  # with one timestep there is nothing to pipeline
            chips.setdefault(cand.hardware().pipeline_layers, cand)
    assert set(chips) == {False, True}
    cand = chips[True]
    net = cand.network((1, 8, 8), 10, 8)
    plain = estimate(net, replace(cand.hardware(), pipeline_layers=False))
    assert estimate(net, cand.hardware()).cycles < plain.cycles
    assert Candidate.from_dict(cand.to_dict()) == cand
    assert "hw.pipeline_layers" not in SearchSpace().distributions()
    assert SearchSpace().stream(3, 1).hardware().pipeline_layers is True  # the default
    cfg = search_config({}, ["search.space.hardware.pipeline_layers=[false, true]"])
    assert cfg.space.hardware.pipeline_layers == (False, True)
    with pytest.raises(NASError, match="pipeline_layers"):
        HardwareSpace(pipeline_layers=(0,))  # type: ignore[arg-type]


def test_pipelined_adcs_are_a_hardware_choice() -> None:
    """adc_pipelined is searchable: [false, true] reaches both chips, each priced with its own
    schedule (pipelined ADCs take fewer cycles); by default the chip has pipelined ADCs."""
    from nas.config import search_config

    space = SearchSpace(SpaceConfig(hardware=HardwareSpace(adc_pipelined=(False, True))))
    assert space.distributions()["hw.adc_pipelined"] == (False, True)
    rng = np.random.default_rng(5)
    chips = {}
    for _ in range(30):
        cand = space.draw(rng)
        chips.setdefault(cand.hardware().adc_pipelined, cand)
    assert set(chips) == {False, True}
    cand = chips[True]
    net = cand.network((1, 8, 8), 10, 8)
    serial = estimate(net, replace(cand.hardware(), adc_pipelined=False))
    assert estimate(net, cand.hardware()).cycles < serial.cycles
    assert Candidate.from_dict(cand.to_dict()) == cand
    assert "hw.adc_pipelined" not in SearchSpace().distributions()
    assert SearchSpace().stream(3, 1).hardware().adc_pipelined is True  # the default
    cfg = search_config({}, ["search.space.hardware.adc_pipelined=[false, true]"])
    assert cfg.space.hardware.adc_pipelined == (False, True)
    with pytest.raises(NASError, match="adc_pipelined"):
        HardwareSpace(adc_pipelined=(1,))  # type: ignore[arg-type]
    with pytest.raises(NASError, match="adc_pipelined"):
        search_config({}, ["search.space.hardware.adc_pipelined=1"])


def test_pixels_per_transfer_is_a_hardware_choice() -> None:
    """pixels_per_transfer is searchable: [1, 8, 64] reaches every port width, each priced both
    ways (an 8x8 input: 64, 8 and 1 transfer cycles; 8, 64 and 512 port lanes of 8-bit pixels);
    by default the chip takes 8 pixels per transfer."""
    from nas.config import search_config

    space = SearchSpace(SpaceConfig(hardware=HardwareSpace(pixels_per_transfer=(1, 8, 64))))
    assert space.distributions()["hw.pixels_per_transfer"] == (1, 8, 64)
    rng = np.random.default_rng(3)
    chips = {}
    for _ in range(60):
        cand = space.draw(rng)
        chips.setdefault(cand.hardware().pixels_per_transfer, cand)
    assert set(chips) == {1, 8, 64}
    net = chips[8].network((1, 8, 8), 10, 8)
    reports = {k: estimate(net, replace(chips[8].hardware(), pixels_per_transfer=k)) for k in chips}
    assert reports[1].cycles - reports[8].cycles == 64 - 8
    assert reports[8].cycles - reports[64].cycles == 8 - 1
    assert reports[64].area_um2["input"] > reports[8].area_um2["input"]  # the lanes
    assert Candidate.from_dict(chips[1].to_dict()) == chips[1]
    assert "hw.pixels_per_transfer" not in SearchSpace().distributions()
    assert SearchSpace().stream(3, 1).hardware().pixels_per_transfer == 8  # the default
    cfg = search_config({}, ["search.space.hardware.pixels_per_transfer=[1, 3, 8]"])
    assert cfg.space.hardware.pixels_per_transfer == (1, 3, 8)
    with pytest.raises(NASError, match=r"hardware\.pixels_per_transfer"):
        HardwareSpace(pixels_per_transfer=(0, 8))
