"""The long fuzz campaign of the reader and validator: count uncaught exceptions.

Runs the mutations of `tests/fuzzing.py` (the same ones as the short run in
`tests/test_fuzz_reader.py`, more of them, without shrinking) and counts the
inputs on which reading and checking raised anything other than the project's
InputError. The target is 0. Each crash's input and traceback are saved in
--crash-dir so that it can be minimised and kept as a regression test.

    nice -n 19 .venv/bin/python bench/fuzz_reader.py --examples 100000 --jobs 2

Inputs run in chunks of --chunk, each from its own hypothesis seed; every finished
chunk is appended to <crash-dir>/chunks.jsonl, so a campaign stopped early (Ctrl-C,
SIGTERM) still counts what it ran. Exit 0 when every input ran and none crashed,
1 otherwise. Results go to stdout as a table and, with --json, as one JSON record.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import multiprocessing
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `tests.fuzzing` lives in the source tree, not the package

PER_INPUT_SECONDS = 60  # a hang is a bug too


class InputTimeoutError(Exception):
    """One input took longer than PER_INPUT_SECONDS."""


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise InputTimeoutError(f"no answer within {PER_INPUT_SECONDS} s")


def signature(exc: BaseException) -> str:
    """Type and innermost frame of the project (or of the library if none): one bug, one key."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/exposure/" in f.filename or "/models/" in f.filename]
    frame = (ours or frames or [None])[-1]
    where = f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"
    return f"{type(exc).__name__} at {where}"


def worker(seed: int, examples: int, sheet_layer: float, crash_dir: Path) -> dict[str, object]:
    """Run one chunk: `examples` inputs from hypothesis seed `seed`; return the counts."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    from tests.fuzzing import FuzzInput, fuzz_inputs, run_one

    outcomes: collections.Counter[str] = collections.Counter()
    crashes: collections.Counter[str] = collections.Counter()
    started, cpu_started = time.perf_counter(), time.process_time()
    signal.signal(signal.SIGALRM, _on_alarm)
    with tempfile.TemporaryDirectory(prefix="fuzz-reader-") as folder:
        path = Path(folder) / "input.xlsx"

        @hypothesis_seed(seed)
        @settings(
            max_examples=examples,
            database=None,
            phases=[Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(fuzz_inputs(sheet_layer))
        def one(fuzz_input: FuzzInput) -> None:
            built: list[bytes] = []
            signal.alarm(PER_INPUT_SECONDS)
            try:
                outcomes[run_one(fuzz_input, path, built.append)] += 1
            except Exception as exc:  # the count this campaign exists for
                key = signature(exc)
                crashes[key] += 1
                outcomes["uncaught"] += 1
                if crashes[key] <= 3 and built:
                    name = hashlib.sha256(built[0]).hexdigest()[:16]
                    (crash_dir / f"{name}.xlsx").write_bytes(built[0])
                    (crash_dir / f"{name}.txt").write_text(
                        f"{key}\n{fuzz_input!r}\n\n{traceback.format_exc()}", encoding="utf-8"
                    )
            finally:
                signal.alarm(0)

        one()
    return {
        "seed": seed,
        "inputs": sum(outcomes.values()),
        "outcomes": dict(outcomes),
        "crashes": dict(crashes),
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu_started, 1),
    }


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM: summarise the chunks done, like Ctrl-C


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000, help="inputs in all")
    parser.add_argument("--seed", type=int, default=0, help="first hypothesis seed")
    parser.add_argument("--jobs", type=int, default=1, help="processes")
    parser.add_argument(
        "--chunk",
        type=int,
        default=1000,
        help="inputs per hypothesis seed; a stopped campaign keeps every finished chunk",
    )
    parser.add_argument(
        "--sheet-layer",
        type=float,
        default=0.05,
        help="share of inputs rewritten by openpyxl (slow) before the byte-level layers",
    )
    parser.add_argument("--crash-dir", type=Path, default=Path("fuzz-crashes"))
    parser.add_argument("--json", action="store_true", help="print one JSON record at the end")
    options = parser.parse_args()
    options.crash_dir.mkdir(parents=True, exist_ok=True)
    log = options.crash_dir / "chunks.jsonl"  # one line per finished chunk

    chunks, extra = divmod(options.examples, options.chunk)
    sizes = [options.chunk] * chunks + ([extra] if extra else [])
    tasks = [
        (options.seed + number, size, options.sheet_layer, options.crash_dir)
        for number, size in enumerate(sizes)
    ]
    signal.signal(signal.SIGTERM, _stop)
    started = time.perf_counter()
    results: list[dict[str, object]] = []
    interrupted = False
    pool = multiprocessing.get_context("spawn").Pool(options.jobs)
    try:
        for result in pool.imap_unordered(_run_task, tasks):
            results.append(result)
            with log.open("a", encoding="utf-8") as stream:
                stream.write(json.dumps(result) + "\n")
            done = sum(int(r["inputs"]) for r in results)  # type: ignore[call-overload]
            uncaught = sum(r["outcomes"].get("uncaught", 0) for r in results)  # type: ignore[union-attr]
            minutes = (time.perf_counter() - started) / 60
            print(
                f"{done:,} inputs, {uncaught} uncaught, {minutes:.1f} min",
                file=sys.stderr,
                flush=True,
            )
        pool.close()
    except KeyboardInterrupt:
        interrupted = True
        pool.terminate()
    finally:
        pool.join()
    return _summarise(results, time.perf_counter() - started, options, interrupted)


def _run_task(task: tuple[int, int, float, Path]) -> dict[str, object]:
    return worker(*task)


def _summarise(
    results: list[dict[str, object]], seconds: float, options: argparse.Namespace, stopped: bool
) -> int:
    outcomes: collections.Counter[str] = collections.Counter()
    crashes: collections.Counter[str] = collections.Counter()
    for result in results:
        outcomes.update(result["outcomes"])  # type: ignore[arg-type]
        crashes.update(result["crashes"])  # type: ignore[arg-type]
    inputs = sum(outcomes.values())
    summary = {
        "inputs": inputs,
        "uncaught": outcomes["uncaught"],
        "outcomes": dict(outcomes),
        "crashes": dict(crashes),
        "chunks": len(results),
        "stopped_early": stopped,
        "wall_seconds": round(seconds, 1),
        "cpu_seconds": round(sum(float(r["cpu_seconds"]) for r in results), 1),  # type: ignore[arg-type]
    }
    state = "stopped early: " if stopped else ""
    print(f"{state}inputs: {inputs:,} in {seconds / 60:.1f} min ({options.jobs} job(s))")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome:<10} {count:>8,}")
    print(f"uncaught exceptions: {outcomes['uncaught']}")
    for key, count in crashes.most_common():
        print(f"  {count:>6}  {key}")
    if crashes:
        print(f"inputs and tracebacks: {options.crash_dir}")
    if options.json:
        print(json.dumps(summary))
    return 1 if outcomes["uncaught"] or stopped else 0


if __name__ == "__main__":
    sys.exit(main())
