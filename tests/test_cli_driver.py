"""The MTJ drive a network was trained with reaches the commands, and --pulse-ns overrides it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from hdl.cost import estimate
from hdl.driver import MTJDriver
from hdl.hwconfig import HardwareConfig
from hdl.ir import DropoutSpec, load_network, save_network
from hdl.mtj import MTJDevice
from neurocim.cli import main
from sim.netgen import conv_example


@pytest.fixture
def trained_with_20ns(tmp_path):
    device = MTJDevice(delta=45.0)
    net = replace(
        conv_example(DropoutSpec(p=0.3, modules=4)), mtj_driver=MTJDriver(device, 20.0)
    ).validate()
    save_network(net, tmp_path / "network")
    return tmp_path / "network", device


def test_estimate_prices_the_trained_pulse(trained_with_20ns, tmp_path, capsys):
    path, device = trained_with_20ns
    out = tmp_path / "cost.json"
    assert main(["estimate", str(path), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["mtj_driver"]["pulse_ns"] == 20.0
    assert report["mtj_driver"]["device"]["delta"] == 45.0
    net = load_network(path)
    want = estimate(net, HardwareConfig(), driver=MTJDriver(device, 20.0))
    default = estimate(net, HardwareConfig(), driver=MTJDriver())
    assert report["energy"]["uj"] == pytest.approx(want.energy_uj)
    assert report["energy"]["uj"] != pytest.approx(default.energy_uj)
    # --pulse-ns keeps the trained device and changes the pulse only
    assert main(["estimate", str(path), "--out", str(out), "--pulse-ns", "10"]) == 0
    report = json.loads(out.read_text())
    assert report["mtj_driver"]["pulse_ns"] == 10.0
    assert report["mtj_driver"]["device"]["delta"] == 45.0
    assert report["energy"]["uj"] == pytest.approx(
        estimate(net, HardwareConfig(), driver=MTJDriver(device, 10.0)).energy_uj
    )


def test_a_bad_pulse_is_one_line(trained_with_20ns, capsys):
    path, _ = trained_with_20ns
    assert main(["estimate", str(path), "--pulse-ns", "-5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurocim: error: --pulse-ns -5: mtj_driver.pulse_ns must be a finite")
    assert "\n" not in err
