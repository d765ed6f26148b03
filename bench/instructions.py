"""Instruction counts of the bench's key cases under valgrind: `make bench-instructions`.

Wall-clock ratios on a shared 2-core machine move by ±0.1-0.2 between runs. The number of
instructions a process executes does not depend on the machine's load, so it settles whether a
change made the project's share smaller. It is not time: the project's pure-Python policy code
runs more instructions per second than the SDK's allocation-heavy registration work, so an
instruction ratio reads higher than the time ratio of the same pair of processes.

Each case runs once under `valgrind --tool=cachegrind --cache-sim=no` (about 30 times slower
than normal), with a fixed hash seed; the cases run in parallel, one per CPU.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from run import FLOOR_PROGRAM, PYTHON, ROOT, plan_command, synthetic_binding_stack

_I_REFS = re.compile(r"^==\d+== I\s+refs:\s+([\d,]+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class CountedCase:
    name: str
    command: list[str]


def instruction_count(valgrind_stderr: str) -> int:
    """The "I refs" total cachegrind prints at exit."""
    found = _I_REFS.findall(valgrind_stderr)
    if len(found) != 1:
        raise ValueError("no single cachegrind 'I refs' line in valgrind's output")
    return int(found[0].replace(",", ""))


def count(case: CountedCase, valgrind: str) -> int:
    env = {key: value for key, value in os.environ.items()
           if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONHASHSEED"] = "0"  # the same dict and set layouts in every run
    done = subprocess.run(
        [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         *case.command],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{case.name} failed under valgrind:\n{done.stderr[-2000:]}")
    return instruction_count(done.stderr)


def cases(work: Path, bindings: int) -> list[CountedCase]:
    config = synthetic_binding_stack(bindings, work)
    return [
        CountedCase("floor (SDK imports)", [PYTHON, "-c", FLOOR_PROGRAM]),
        CountedCase("plan prod", plan_command("prod", work / "prod")),
        CountedCase(f"SDK floor, {bindings} bindings",
                    [PYTHON, str(ROOT / "bench" / "binding_floor.py"), str(bindings),
                     str(work / "floor")]),
        CountedCase(f"plan, {bindings} bindings",
                    plan_command(f"bindings-{bindings}", work / "bindings", config)),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bindings", type=int, default=1000,
                        help="size of the binding plan and its SDK floor (default 1000)")
    parser.add_argument("--out", default=str(ROOT / "build" / "bench-instructions.json"))
    args = parser.parse_args()
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("valgrind not found: install it (Debian/Ubuntu: apt-get install valgrind) to "
              "count instructions; `make bench` measures time without it.", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="tca-instructions-") as temporary:
        todo = cases(Path(temporary), args.bindings)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            counts = dict(zip((c.name for c in todo),
                              pool.map(lambda case: count(case, valgrind), todo), strict=True))
    floor, prod, sdk_floor, plan = (counts[c.name] for c in todo)
    for name, value in counts.items():
        print(f"{name:<28} {value / 1e9:>8.3f} G instructions")
    ratios = {"prod_to_import_floor": round(prod / floor, 3),
              "plan_to_sdk_floor": round(plan / sdk_floor, 3)}
    print(f"plan prod / import floor = {ratios['prod_to_import_floor']:.3f}; "
          f"{args.bindings} bindings: plan / same-size SDK floor = "
          f"{ratios['plan_to_sdk_floor']:.3f} (instructions, not time)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"bindings": args.bindings, "instructions": counts, **ratios},
                              indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
