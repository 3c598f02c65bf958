"""One benchmark in two checkouts, run alternately in one session: before and after a change.

Each checkout runs its own copy of the script with its own interpreter
(`CHECKOUT/.venv/bin/python CHECKOUT/bench/SCRIPT ARGS`, from the checkout: `make install`
there first), so each side measures its own code. The two sides take turns, and swap who
goes first every round (A B, B A, A B, ...), so a machine that gets busier or quieter
during the session weighs on both alike. Every run's figures (the JSON last line every
bench script prints) are shown side by side, then per figure the median of each side,
its spread (min-max) and the change from before to after.

    .venv/bin/python bench/compare.py /tmp/before . commit.py --rounds 5 -- -n 5000

`make compare BEFORE=/tmp/before` runs the four benches of issue 12 this way.

The last line is JSON: {"script": ..., "rounds": ..., "before": {figure: median},
"after": {figure: median}}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

Figures = dict[str, float]

HIGHER_IS_BETTER = ("_per_s", "ratio")  # a name ending so (or starting "ratio")
LOWER_IS_BETTER = ("_ms", "_s", "_mb")
MACHINE = ("baseline", "floor")  # figures of the machine, not of the code: no verdict


def run_once(checkout: Path, script: str, args: list[str], timeout: float) -> Figures:
    """One run of `bench/script` in `checkout`: the numbers of its JSON last line, and the
    run's wall time (`wall_s`, start-up included)."""
    python = checkout / ".venv" / "bin" / "python"
    if not python.exists():
        sys.exit(f"{python} missing: run `make install` in {checkout}")
    start = time.perf_counter()
    done = subprocess.run([str(python), str(checkout / "bench" / script), *args], cwd=checkout,
                          capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        sys.exit(f"{script} failed in {checkout} (exit {done.returncode}):\n"
                 f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    figures = {k: float(v) for k, v in json.loads(lines[-1]).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    figures["wall_s"] = wall
    return figures


def direction(name: str) -> int:
    """+1 when a larger figure is better, -1 when smaller is, 0 when neither (a count, or
    a baseline the bench measures beside the code)."""
    if any(word in name for word in MACHINE):
        return 0
    if name.startswith("rss"):
        return -1
    if name.endswith(HIGHER_IS_BETTER) or name.startswith("ratio"):
        return 1
    if name.endswith(LOWER_IS_BETTER):
        return -1
    return 0


def show(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def report(script: str, before: list[Figures], after: list[Figures]) -> dict[str, Figures]:
    """Print each run and the medians side by side; return the medians."""
    names = [n for n in before[0] if all(n in run for run in [*before, *after])]
    width = max(len(n) for n in names)
    medians: dict[str, Figures] = {"before": {}, "after": {}}
    print(f"\n{script}: {len(before)} runs a side, before | after "
          f"(median [min-max]; change after/before)")
    for name in names:
        b = [run[name] for run in before]
        a = [run[name] for run in after]
        mb, ma = statistics.median(b), statistics.median(a)
        medians["before"][name], medians["after"][name] = mb, ma
        change = f"{(ma / mb - 1) * 100:+.1f}%" if mb else "n/a"
        sign = direction(name) * ((ma > mb) - (ma < mb))
        verdict = {1: "better", -1: "worse", 0: ""}[sign] if direction(name) else ""
        if verdict and max(a) >= min(b) and max(b) >= min(a):
            verdict += " (spreads overlap)"
        print(f"  {name:<{width}}  {show(mb):>9} [{show(min(b))}-{show(max(b))}]"
              f"  | {show(ma):>9} [{show(min(a))}-{show(max(a))}]  {change:>7} {verdict}")
        print(f"  {'':<{width}}  runs: {' '.join(show(v) for v in b)}"
              f"  | {' '.join(show(v) for v in a)}")
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="checkout of the code before the change")
    parser.add_argument("after", type=Path, help="checkout of the code after the change")
    parser.add_argument("script", help="a script in bench/ of both, e.g. commit.py")
    parser.add_argument("--rounds", type=int, default=3, help="runs a side [3]")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a run may take")
    parser.epilog = "Arguments after `--` go to the script, the same for both sides."
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    options, args = parser.parse_args(argv[:cut]), argv[cut + 1:]
    sides = {"before": options.before.resolve(), "after": options.after.resolve()}
    runs: dict[str, list[Figures]] = {"before": [], "after": []}
    for r in range(options.rounds):
        order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
        for side in order:
            figures = run_once(sides[side], options.script, args, options.timeout)
            runs[side].append(figures)
            print(f"round {r + 1} {side:<6} " + " ".join(
                f"{k}={show(v)}" for k, v in figures.items()), flush=True)
    medians = report(options.script, runs["before"], runs["after"])
    print(json.dumps({"script": options.script, "rounds": options.rounds,
                      "before_checkout": str(sides["before"]),
                      "after_checkout": str(sides["after"]), **medians}))


if __name__ == "__main__":
    main()
