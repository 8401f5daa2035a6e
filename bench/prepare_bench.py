#!/usr/bin/python3
"""hllm_prepare at the paper's scale: generates a Books-shaped input in HLLM's CSV layout
(bench/make_books_input.py: by default 10 M interactions, 700 k users, 700 k items, Amazon-like text lengths)
and prepares it with --train_tokenizer and with --tokenizer on a tokenizer.json, at --threads 1 and 2, side
by side in one run. Prints, for each run: the wall time, interactions/s end to end, items tokenized/s, the
peak resident memory (hllm_prepare's own summary, from getrusage) and each phase's seconds; then the
2-thread / 1-thread speed-ups. Checks that both thread counts wrote the same files.

usage: prepare_bench.py BUILD_BIN_DIR WORK_DIR [--interactions N] [--users N] [--items N]
                        [--tokenizer PATH] [--vocab N] [--threads 1,2] [--baseline OTHER_BIN_DIR]
--baseline: also run another build's hllm_prepare (e.g. an older commit's, which may have no --threads) on
the same input, in the same run, for a before/after ratio.
The input is generated once into WORK_DIR/input-N (kept for the next run); the datasets are removed.
"""
import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_prepare(binary, input_dir, out, tokenizer_args, threads):
    """threads None: a baseline build, run without --threads; its peak memory from /usr/bin/time."""
    start = time.monotonic()
    command = [binary, "--format", "hllm_csv", "--interactions", os.path.join(input_dir, "interactions.csv"),
               "--items", os.path.join(input_dir, "items.csv"), "--out", out] + tokenizer_args
    if threads is None:
        command = ["/usr/bin/time", "-f", "maxrss_kb %M"] + command
    else:
        command += ["--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - start
    if done.returncode != 0:
        sys.exit("hllm_prepare failed (%d):\n%s%s" % (done.returncode, done.stdout, done.stderr))
    wrote = re.search(r"wrote .*: (\d+) users, (\d+) items, (\d+) interactions", done.stdout)
    if threads is None:
        peak = int(re.search(r"maxrss_kb (\d+)", done.stderr).group(1)) * 1024 / 1e9
        return {"wall": wall, "phases": {}, "peak_gb": peak, "peak_phase": "-", "items": int(wrote.group(2)),
                "interactions": int(wrote.group(3))}
    summary = re.search(r"time: (.*); peak memory ([0-9.]+) GB \(reached in (.*)\)", done.stdout)
    phases = {}
    for part in summary.group(1).split(", "):  # "reading 8.1 s"
        name, seconds, _ = part.rsplit(" ", 2)
        phases[name] = float(seconds)
    return {"wall": wall, "phases": phases, "peak_gb": float(summary.group(2)), "peak_phase": summary.group(3),
            "items": int(wrote.group(2)), "interactions": int(wrote.group(3))}


def same_files(a, b):
    names = sorted(os.listdir(a))
    return names == sorted(os.listdir(b)) and all(filecmp.cmp(os.path.join(a, n), os.path.join(b, n), shallow=False)
                                                  for n in names)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin")
    parser.add_argument("work")
    parser.add_argument("--interactions", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=700_000)
    parser.add_argument("--items", type=int, default=700_000)
    parser.add_argument("--tokenizer", default=os.path.join(HERE, "..", "..", "shared", "models", "llama3-tokenizer",
                                                            "tokenizer.json"))
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--baseline", help="another build's bin directory, run on the same input")
    args = parser.parse_args()
    binary = os.path.join(args.bin, "hllm_prepare")
    input_dir = os.path.join(args.work, "input-%d-%d-%d" % (args.interactions, args.users, args.items))
    if not os.path.exists(os.path.join(input_dir, "items.csv")):
        subprocess.run([sys.executable, os.path.join(HERE, "make_books_input.py"), input_dir, str(args.interactions),
                        str(args.users), str(args.items)], check=True)
    size = sum(os.path.getsize(os.path.join(input_dir, f)) for f in ("interactions.csv", "items.csv"))
    print("input: %d interactions, %d users, %d items, %.0f MB of CSV" % (args.interactions, args.users, args.items,
                                                                          size / 1e6))
    modes = [("train_tokenizer %d" % args.vocab, ["--train_tokenizer", str(args.vocab)])]
    if os.path.exists(args.tokenizer):
        modes.append(("tokenizer.json", ["--tokenizer", args.tokenizer]))
    else:
        print("skipped: --tokenizer %s is absent" % args.tokenizer)
    thread_counts = [int(t) for t in args.threads.split(",")]
    print("| tokenizer | threads | wall s | interactions/s | items tokenized/s | peak RSS GB (phase) | phases (s) |")
    print("|---|---|---|---|---|---|---|")
    rates = {}
    for name, tokenizer_args in modes:
        if args.baseline:
            out = os.path.join(args.work, "dataset-baseline")
            shutil.rmtree(out, ignore_errors=True)
            result = run_prepare(os.path.join(args.baseline, "hllm_prepare"), input_dir, out, tokenizer_args, None)
            shutil.rmtree(out, ignore_errors=True)
            rates[(name, "baseline")] = result["interactions"] / result["wall"]
            print("| %s | baseline | %.1f | %.0fk | | %.2f | |" % (name, result["wall"], rates[(name, "baseline")] / 1e3,
                                                            result["peak_gb"]), flush=True)
        outs = []
        for threads in thread_counts:
            out = os.path.join(args.work, "dataset-%d" % threads)
            shutil.rmtree(out, ignore_errors=True)
            result = run_prepare(binary, input_dir, out, tokenizer_args, threads)
            outs.append(out)
            rate = result["interactions"] / result["wall"]
            rates[(name, threads)] = rate
            tokenizing = result["phases"].get("tokenizing", 0)
            print("| %s | %d | %.1f | %.0fk | %.0fk | %.2f (%s) | %s |" % (
                name, threads, result["wall"], rate / 1e3, result["items"] / tokenizing / 1e3 if tokenizing else 0,
                result["peak_gb"], result["peak_phase"],
                ", ".join("%s %.1f" % (phase, seconds) for phase, seconds in result["phases"].items()
                          if phase != "loading the tokenizer")), flush=True)
        if len(outs) > 1:
            same = all(same_files(outs[0], other) for other in outs[1:])
            print("| %s | same files at threads %s: %s | | | | | |" % (name, args.threads, "yes" if same else "NO"))
            if not same:
                sys.exit("the datasets differ between thread counts")
        for out in outs:
            shutil.rmtree(out, ignore_errors=True)
    if len(thread_counts) > 1:
        first, last = thread_counts[0], thread_counts[-1]
        for name, _ in modes:
            print("%s: %d threads / %d thread(s) = %.2fx interactions/s" % (
                name, last, first, rates[(name, last)] / rates[(name, first)]))
    if args.baseline:
        for name, _ in modes:
            best = max(rates[(name, t)] for t in thread_counts)
            print("%s: this build (best thread count) / baseline = %.2fx interactions/s" % (
                name, best / rates[(name, "baseline")]))


if __name__ == "__main__":
    main()
