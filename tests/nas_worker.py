"""A search worker for the kill tests (tests/test_nas_search.py, tests/test_nas_postgres.py):
a small search whose score sleeps ``--delay`` seconds and, at its ``HANG_AT``-th call, writes
the candidate's key to ``HANG_FILE`` and hangs there, so a kill lands mid-trial every time.

    python tests/nas_worker.py OUT --name k --trials 10 --seed 5 [--storage URL]
        [--heartbeat-s 1 --grace-s 2] [--delay 0.05]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.scoring import params_score
from nas.search import SearchConfig, run_search
from nas.space import SpaceConfig

SPACE = SpaceConfig(channels=(4, 8), hidden=(16, 32), timesteps=(1, 2), modules=(1, 4))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--name", required=True)
    p.add_argument("--trials", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--storage")
    p.add_argument("--heartbeat-s", type=int, default=10)
    p.add_argument("--grace-s", type=int, default=30)
    p.add_argument("--delay", type=float, default=0.05)
    args = p.parse_args()
    calls: list[str] = []

    def slow(candidate, network):
        calls.append(candidate.key)
        if len(calls) == int(os.environ.get("HANG_AT", "0")):  # signal, then hang mid-trial
            Path(os.environ["HANG_FILE"]).write_text(candidate.key)
            time.sleep(600)
        time.sleep(args.delay)
        return params_score(candidate, network)

    config = SearchConfig(
        name=args.name,
        trials=args.trials,
        seed=args.seed,
        space=SPACE,
        storage=args.storage,
        heartbeat_s=args.heartbeat_s,
        grace_s=args.grace_s,
    )
    run_search(config, args.out, slow, progress=False)


if __name__ == "__main__":
    main()
