#!/usr/bin/python3
"""Hostile inputs on every surface a user feeds the tools, run as a user runs them.

Each surface gets hand-made hostile cases (each with the exit code and the words its refusal must show) and a
seeded run of mutated inputs (structural mutations of the JSON, HDF5 and CSV a user gives, plus byte flips and
cuts of the text files). Every case runs in its own process under `timeout` and a 4 GiB address-space limit.
A case fails when the tool
  - crashes (a signal) or times out,
  - exits 1 (an internal error: bad input must exit 2, naming the file, line or key),
  - refuses with a message of more than 4 KB (a refusal quotes a short prefix of a bad value, not all of it)
    or with LibTorch's "index out of range in self",
  - or leaves its output file behind after a refusal.
Prints the counts per surface and exits 1 on any failure.

usage: hostile_inputs.py BUILD_BIN_DIR SOURCE_DIR [--cases N] [--seed S] [--jobs J] [--only SURFACE,...]
                         [--timeout SECONDS] [--keep DIR] [--no_memory_limit]
A failing case is reproduced alone by its surface, seed and number (--only SURFACE --seed S --keep DIR).
"""
import argparse
import concurrent.futures
import copy
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

MEMORY_LIMIT = 4 << 30
MAX_REFUSAL_BYTES = 4096

# ----------------------------------------------------------------------------------------------- mutations

def deep(depth, leaf=0):
    return "[" * depth + json.dumps(leaf) + "]" * depth


HOSTILE_VALUES = [None, True, False, 0, -1, 1, 2**31 - 1, 2**31, -2**31 - 1, 2**63 - 1, 2**64 - 1, -2**63,
                  1e308, -1e-300, 0.5, "", "x" * 3000, "\u00e9\u0000\ud7ff", [], {}, [1, "a", None],
                  {"a": {"b": {"c": []}}}]


def json_paths(value, prefix=()):
    """Every (path) to a node of a JSON value, the root included."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from json_paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value[:50]):  # long lists: their head is enough
            yield from json_paths(child, prefix + (index,))


def set_path(root, path, value):
    if not path:
        return value
    node = root
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return root


def get_path(root, path):
    for key in path:
        root = root[key]
    return root


def mutate_json_value(value, rng):
    """One structural change: a node replaced, removed, renamed or repeated; returns the new value."""
    value = copy.deepcopy(value)
    paths = list(json_paths(value))
    path = rng.choice(paths)
    kind = rng.randrange(6)
    if kind <= 2 or not path:
        replacement = rng.choice(HOSTILE_VALUES)
        if rng.random() < 0.15:
            replacement = json.loads(deep(rng.choice([40, 70, 200])))
        return set_path(value, path, copy.deepcopy(replacement))
    parent = get_path(value, path[:-1])
    if kind == 3:  # remove
        del parent[path[-1]]
    elif kind == 4 and isinstance(parent, dict):  # rename
        parent[path[-1] + "_x"] = parent.pop(path[-1])
    elif isinstance(parent, list):  # repeat
        parent.insert(path[-1], copy.deepcopy(parent[path[-1]]))
    else:  # a numeric node nudged
        node = parent[path[-1]]
        parent[path[-1]] = node * rng.choice([-1, 1 << 20, 0]) + rng.choice([-1, 1]) if isinstance(node, int) else node
    return value


def mutate_bytes(data, rng):
    """Byte-level damage to a text file: flips, cuts, inserted garbage or doubled lines."""
    data = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0 and data:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1 and data:
        del data[rng.randrange(len(data)):]
    elif kind == 2:
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.choice([b"\x00", b"\xff\xfe", b"{", b"]]]]", b'"', b"\n", b"\\u", "\u2028".encode(),
                                  b"9" * 400])
    else:
        lines = bytes(data).split(b"\n")
        if lines:
            index = rng.randrange(len(lines))
            lines.insert(index, lines[index] * rng.choice([2, 50]))
        data = bytearray(b"\n".join(lines))
    return bytes(data)


def mutate_json_text(text, rng):
    if rng.random() < 0.75:
        return json.dumps(mutate_json_value(json.loads(text), rng)).encode()
    return mutate_bytes(text.encode(), rng)


def read_h5(path):
    arrays, attrs = {}, {}
    with h5py.File(path, "r") as f:
        for name in f:
            arrays[name] = f[name][()]
        attrs = dict(f.attrs)
    return arrays, attrs


def write_h5(path, arrays, attrs):
    with h5py.File(path, "w") as f:
        for name, data in arrays.items():
            f.create_dataset(name, data=data)
        for name, value in attrs.items():
            f.attrs[name] = value


def mutate_h5(source, target, rng):
    """A structural change to one dataset or attribute of an HDF5 file a tool reads."""
    arrays, attrs = read_h5(source)
    kind = rng.randrange(10)
    if kind == 9 and attrs:
        name = rng.choice(sorted(attrs))
        choice = rng.randrange(3)
        if choice == 0:
            del attrs[name]
        else:
            attrs[name] = rng.choice([-1, 0, 2**40, attrs[name] + 1])
        write_h5(target, arrays, attrs)
        return
    name = rng.choice(sorted(arrays))
    data = arrays[name]
    if data.dtype.kind in "SOU":  # strings
        values = [v.decode() if isinstance(v, bytes) else str(v) for v in data]
        choice = rng.randrange(5)
        if values and choice == 0:
            values[rng.randrange(len(values))] = ""
        elif len(values) > 1 and choice == 1:
            values[rng.randrange(1, len(values))] = values[rng.randrange(1, len(values))]
        elif values and choice == 2:
            values[rng.randrange(len(values))] = "n" * 5000
        elif choice == 3:
            values = values[:rng.randrange(len(values) + 1)]
        else:
            values = values + values[-1:]
        arrays[name] = np.array(values, dtype=h5py.string_dtype())
    else:
        data = data.copy()
        choice = rng.randrange(8)
        if data.size and choice <= 2:
            flat = data.reshape(-1)
            hostile = [-1, -(2**31), 2**31 - 1, 10**6, flat.max() + 1 if flat.size else 1, 0]
            if data.dtype.kind == "f":
                hostile += [np.nan, np.inf, -np.inf, 1e38]
            flat[rng.randrange(flat.size)] = rng.choice(hostile)
            arrays[name] = data
        elif choice == 3 and data.size > 1:
            rng.shuffle(data.reshape(-1))
            arrays[name] = data
        elif choice == 4:
            arrays[name] = data.reshape(-1)[:rng.randrange(max(1, data.size))]
        elif choice == 5:
            arrays[name] = np.concatenate([data.reshape(-1), data.reshape(-1)[:3]])
        elif choice == 6:
            arrays[name] = data.astype(np.float64)
        else:
            del arrays[name]
    write_h5(target, arrays, attrs)


def mutate_csv(data, rng):
    lines = data.decode().split("\n")
    header, rows = lines[0], [line for line in lines[1:] if line]
    kind = rng.randrange(7)
    if kind == 0 and rows:
        fields = rows[0].split(",")
        fields[0] = ""
        rows[0] = ",".join(fields)
    elif kind == 1 and rows:
        rows.append(rows[0])  # the same id twice
    elif kind == 2 and rows:
        rows[0] = rows[0].split(",")[0] + "," + "word " * 100000  # a text of 100,000 words
    elif kind == 3 and rows:
        rows[0] = rows[0] + ',"unclosed'
    elif kind == 4:
        header = header.replace("item_id", "item")
    elif kind == 5 and rows:
        rows = rows[:1] + ["x" * 300 + ",t,d,c,b"]  # a 300-character id
    else:
        return mutate_bytes(data, rng)
    return ("\n".join([header] + rows) + "\n").encode()


# ----------------------------------------------------------------------------------------------- the cases

class Case:
    def __init__(self, surface, name, files, command, out=None, want_rc=None, want_text=None, stdin=b""):
        self.surface, self.name, self.files, self.command = surface, name, files, command
        self.out, self.want_rc, self.want_text, self.stdin = out, want_rc, want_text, stdin


def limit_resources(memory_limit):
    def apply():
        if memory_limit:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        os.setsid()
    return apply


def run_case(case, work, timeout, memory_limit):
    directory = tempfile.mkdtemp(dir=work)
    for name, content in case.files.items():
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if callable(content):
            content(path)
        else:
            with open(path, "wb") as f:
                f.write(content)
    command = [part.replace("{dir}", directory) for part in case.command]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", GLOG_minloglevel="1")
    start = time.time()
    try:
        result = subprocess.run(command, input=case.stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                timeout=timeout, preexec_fn=limit_resources(memory_limit), env=env, cwd=directory)
        rc, output, errors = result.returncode, result.stdout[-20000:] + result.stderr, result.stderr
    except subprocess.TimeoutExpired:
        rc, output, errors = "timeout", b"", b""
    seconds = time.time() - start
    verdict = judge(case, rc, output, errors, directory)
    if verdict == "ok":
        shutil.rmtree(directory, ignore_errors=True)
    return case, rc, verdict, output, seconds, directory


def judge(case, rc, output, errors, directory):
    text = output.decode(errors="replace")
    if rc == "timeout":
        return "timeout"
    if rc < 0 or rc >= 128:
        return "crash (signal %d)" % (-rc if rc < 0 else rc - 128)
    if case.want_rc is not None and rc != case.want_rc:
        return "exit %d, wanted %d" % (rc, case.want_rc)
    if case.want_text is not None and case.want_text not in text:
        return "the output lacks %r" % case.want_text
    if rc not in (0, 2):
        return "exit %d (bad input must exit 2, naming the file, line or key)" % rc
    if rc == 2:
        # What the tool said on standard error, less its INFO and WARNING log lines.
        refusal = [line for line in errors.decode(errors="replace").splitlines() if not line.startswith(("I1", "W1"))]
        if len("\n".join(refusal)) > MAX_REFUSAL_BYTES:
            return "a refusal of %d bytes" % len("\n".join(refusal))
        if "index out of range in self" in text or "Exception raised from" in text:
            return "a refusal with LibTorch's internals"
        if case.out and os.path.exists(os.path.join(directory, case.out)):
            return "output left behind after a refusal"
    return "ok"


# ----------------------------------------------------------------------------------------------- fixtures

def tiny_tokenizer():
    """A byte-level BPE tokenizer.json of 256 byte pieces and a few merges, with a config naming BOS/EOS."""
    def byte_char(b):
        printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
        if b in printable:
            return chr(b)
        return chr(256 + [c for c in range(256) if c not in printable].index(b))
    vocab = {byte_char(b): b for b in range(256)}
    merges = [["h", "e"], ["l", "l"], ["he", "ll"], ["Ġ", "w"]]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    tokenizer = {
        "version": "1.0",
        "added_tokens": [{"id": len(vocab), "content": "<s>", "special": True},
                         {"id": len(vocab) + 1, "content": "</s>", "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated", "invert": False},
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "model": {"type": "BPE", "dropout": None, "vocab": vocab, "merges": merges},
    }
    config = {"bos_token": "<s>", "eos_token": {"content": "</s>"}, "pad_token": None}
    return json.dumps(tokenizer, ensure_ascii=False), json.dumps(config)


def run(command, **kwargs):
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)
    if result.returncode != 0:
        sys.exit("setup failed: %s\n%s" % (" ".join(command), result.stdout.decode(errors="replace")[-3000:]))


def make_fixtures(bin_dir, src, work):
    """A dataset, a trained debug run with its item table, and the files each surface mutates."""
    f = {}
    f["dataset"] = os.path.join(work, "dataset")
    run([bin_dir + "/hllm_prepare", "--synthetic", "users=60,items=40,seed=3", "--out", f["dataset"],
         "--train_tokenizer", "120", "--max_text_len", "12"])
    config = json.load(open(os.path.join(src, "configs/demo.json")))
    config["model"].update({"item": "debug", "user": "debug"})
    config["data"].update({"path": f["dataset"], "num_negatives": 8})
    config["train"].update({"max_steps": 2, "eval_interval": 2, "log_interval": 1})
    config["parallel"] = {"pp": 1, "intra_op_threads": 1}
    f["config_text"] = json.dumps(config, indent=1)
    f["config"] = os.path.join(work, "base.json")
    with open(f["config"], "w") as out:
        out.write(f["config_text"])
    f["run"] = os.path.join(work, "run")
    run([bin_dir + "/hllm_launch", "--config", f["config"], "--set", "run.dir=" + f["run"]])
    run([bin_dir + "/hllm_embed", f["run"]])
    f["embeddings"] = os.path.join(f["run"], "item_embeddings.h5")
    f["new_items_csv"] = ("item_id,title,description,category,brand\n"
                          "newA,A new lamp,Bright light,home,lux\n"
                          "newB,A new chair,Soft seat,home,sit\n"
                          "newC,Old book,Many pages 1234,books,pub\n").encode()
    with open(os.path.join(work, "new_items.csv"), "wb") as out:
        out.write(f["new_items_csv"])
    f["new_items"] = os.path.join(work, "new_items.h5")
    run([bin_dir + "/hllm_prepare", "--new_items", os.path.join(work, "new_items.csv"), "--format", "hllm_csv",
         "--like", f["dataset"], "--out", f["new_items"]])
    with h5py.File(os.path.join(f["dataset"], "items.h5"), "r") as items:
        ids = items["ids"].asstr()[1:]
    with h5py.File(os.path.join(f["dataset"], "users-00000-of-00001.h5"), "r") as users:
        offsets, items_of = users["offsets"][:], users["items"][:]
        times = users["timestamps"][:]
    lines = []
    for u in range(3):
        history = items_of[offsets[u]:offsets[u + 1]]
        lines.append(json.dumps({"user": "u%d" % u, "items": [ids[i - 1] for i in history],
                                 "timestamps": [int(t) for t in times[offsets[u]:offsets[u + 1]]]}))
    f["users_text"] = "\n".join(lines) + "\n"
    f["tokenizer_json"], f["tokenizer_config"] = tiny_tokenizer()
    f["texts"] = [json.dumps(t, ensure_ascii=False) for t in ["hello world", "café 🤗 12345", "  spaced  out ", ""]]
    shape = lambda width: {"hidden_size": width, "num_layers": 1, "num_heads": 2}
    f["ladder_text"] = json.dumps({"set": {"train.max_steps": 1},
                                   "points": [{"name": "d16", "set": {"model.item": shape(16), "model.user": shape(16)}},
                                              {"name": "d32", "set": {"model.item": shape(32), "model.user": shape(32)}}]})
    return f


# ----------------------------------------------------------------------------------------------- surfaces

def surfaces(bin_dir, f):
    """name -> (a command for files in {dir}, what a case writes, the output it may leave, a mutator)."""
    b = lambda tool: os.path.join(bin_dir, tool)
    texts = "\n".join(f["texts"]).encode() + b"\n"
    tokenizer_files = lambda tok, cfg: {"tok/tokenizer.json": tok, "tok/tokenizer_config.json": cfg}

    return {
        "tokenizer_json": dict(
            command=[b("hllm_tokenize"), "--tokenizer", "{dir}/tok"], out=None, stdin=texts,
            files=lambda rng: tokenizer_files(mutate_json_text(f["tokenizer_json"], rng), f["tokenizer_config"].encode())),
        "tokenizer_config": dict(
            command=[b("hllm_tokenize"), "--tokenizer", "{dir}/tok", "--info"], out=None, stdin=texts,
            files=lambda rng: tokenizer_files(f["tokenizer_json"].encode(), mutate_json_text(f["tokenizer_config"], rng))),
        "tokenize_stdin": dict(
            command=[b("hllm_tokenize"), "--tokenizer", "{dir}/tok"], out=None,
            files=lambda rng: tokenizer_files(f["tokenizer_json"].encode(), f["tokenizer_config"].encode()),
            stdin=lambda rng: b"\n".join(mutate_json_text(t, rng) if rng.random() < 0.5 else t.encode()
                                         for t in f["texts"]) + b"\n"),
        "users_lines": dict(
            command=[b("hllm_recommend"), f["run"], "--k", "5", "--users", "{dir}/users.jsonl", "--out",
                     "{dir}/out.jsonl"], out="out.jsonl",
            files=lambda rng: {"users.jsonl": b"\n".join(
                mutate_json_text(line, rng) if rng.random() < 0.5 else line.encode()
                for line in f["users_text"].splitlines()) + b"\n"}),
        "new_items_csv": dict(
            command=[b("hllm_prepare"), "--new_items", "{dir}/items.csv", "--format", "hllm_csv", "--like",
                     f["dataset"], "--out", "{dir}/out.h5"], out="out.h5",
            files=lambda rng: {"items.csv": mutate_csv(f["new_items_csv"], rng)}),
        "ladder": dict(
            command=[b("hllm_sweep"), "--config", f["config"], "--ladder", "{dir}/ladder.json", "--out", "{dir}/sweep",
                     "--mode", "list"], out="sweep/sweep.json",
            files=lambda rng: {"ladder.json": mutate_json_text(f["ladder_text"], rng)}),
        "config": dict(
            command=[b("hllm_launch"), "--config", "{dir}/config.json", "--dry_run"], out=None,
            files=lambda rng: {"config.json": mutate_json_text(f["config_text"], rng)}),
        "new_items_h5": dict(
            command=[b("hllm_embed"), f["run"], "--items", "{dir}/items.h5", "--out", "{dir}/out.h5"], out="out.h5",
            files=lambda rng: {"items.h5": lambda path: mutate_h5(f["new_items"], path, rng)}),
        "embeddings_h5": dict(
            command=[b("hllm_recommend"), f["run"], "--k", "5", "--embeddings", "{dir}/table.h5", "--out",
                     "{dir}/out.jsonl"], out="out.jsonl",
            files=lambda rng: {"table.h5": lambda path: mutate_h5(f["embeddings"], path, rng)}),
    }


def hand_made_cases(bin_dir, f):
    """The hostile cases found from outside, each with its exit code and the words its refusal shows."""
    b = lambda tool: os.path.join(bin_dir, tool)
    cases = []
    tok = json.loads(f["tokenizer_json"])
    tok_files = lambda t, c=f["tokenizer_config"]: {"tok/tokenizer.json": json.dumps(t).encode(),
                                                   "tok/tokenizer_config.json": c.encode() if isinstance(c, str) else c}
    tokenize = [b("hllm_tokenize"), "--tokenizer", "{dir}/tok"]
    texts = "\n".join(f["texts"]).encode() + b"\n"

    def tokenizer_case(name, change, want_rc, want_text, config=None):
        t = copy.deepcopy(tok)
        change(t)
        files = tok_files(t) if config is None else tok_files(t, config)
        cases.append(Case("tokenizer_json", name, files, tokenize, want_rc=want_rc, want_text=want_text, stdin=texts))

    deep_rstrip = json.loads(deep(100))
    tokenizer_case("an added token's rstrip nested 100 deep", lambda t: t["added_tokens"][0].update(rstrip=deep_rstrip),
                   2, "nested deeper than 64 levels")
    cases.append(Case("tokenizer_json", "an added token's rstrip nested 100,000 deep",
                      {"tok/tokenizer.json": f["tokenizer_json"].replace('"special": true', '"rstrip": ' + deep(100000), 1).encode(),
                       "tok/tokenizer_config.json": f["tokenizer_config"].encode()},
                      tokenize, want_rc=2, want_text="nested deeper than 64 levels", stdin=texts))
    cases.append(Case("tokenizer_json", "20,000 nested Sequence pre-tokenizers",
                      {"tok/tokenizer.json": lambda path: write_nested_sequences(path, f["tokenizer_json"], 20000),
                       "tok/tokenizer_config.json": f["tokenizer_config"].encode()},
                      tokenize, want_rc=2, want_text="nested deeper than 64 levels", stdin=texts))
    tokenizer_case("a negative token id", lambda t: t["model"]["vocab"].update({"h": -3}), 2, "outside [0, 16777216)")
    tokenizer_case("a token id of 2^31 - 1", lambda t: t["model"]["vocab"].update({"h": 2**31 - 1}), 2,
                   "outside [0, 16777216)")
    tokenizer_case("an added token id of 2^64 - 1", lambda t: t["added_tokens"][0].update(id=2**64 - 1), 2,
                   "outside [0, 16777216)")
    cases.append(Case("tokenizer_config", "bos_token nested 100,000 deep",
                      tok_files(tok, '{"bos_token": ' + deep(100000, "<s>") + "}"), tokenize + ["--info"],
                      want_rc=2, want_text="nested deeper than 64 levels", stdin=texts))
    cases.append(Case("tokenize_stdin", "a line nested 100,000 deep", tok_files(tok), tokenize, want_rc=2,
                      want_text="stdin line 2: not JSON", stdin=b'"ok"\n' + deep(100000).encode() + b"\n"))
    cases.append(Case("tokenize_stdin", "a 2 MB line that is not a string", tok_files(tok), tokenize, want_rc=2,
                      want_text="stdin line 1: expected a JSON string", stdin=json.dumps([1] * 700000).encode() + b"\n"))

    users = [b("hllm_recommend"), f["run"], "--k", "5", "--users", "{dir}/users.jsonl", "--out", "{dir}/out.jsonl"]
    first = json.loads(f["users_text"].splitlines()[0])
    def users_case(name, line, want_text, command=users, want_rc=2):
        cases.append(Case("users_lines", name, {"users.jsonl": line.encode() + b"\n"}, command, out="out.jsonl",
                          want_rc=want_rc, want_text=want_text))
    users_case("a history item nested 100,000 deep", '{"user": "u", "items": [%s]}' % deep(100000, "x"),
               "users.jsonl:1: not a JSON object (JSON nested deeper than 64 levels)")
    users_case("a timestamp nested 100,000 deep",
               '{"user": "u", "items": [%s], "timestamps": [%s]}' % (json.dumps(first["items"][0]), deep(100000)),
               "users.jsonl:1: not a JSON object (JSON nested deeper than 64 levels)")
    for name, stamp in [("2^64 - 1", 2**64 - 1), ("2^63", 2**63), ("-2^63", -2**63)]:
        line = dict(first, timestamps=[stamp] + first["timestamps"][1:])
        users_case("a timestamp of " + name, json.dumps(line), "is out of range (at most 2^53")
    line = dict(first, timestamps=list(reversed(sorted(first["timestamps"]))))
    if len(set(first["timestamps"])) > 1:
        users_case("timestamps going backwards", json.dumps(line), "'timestamps' go backwards")
    users_case("a 2 MB line of unknown items", json.dumps({"user": "u", "items": ["nope" * 500000]}),
               "is neither in the run's dataset")
    users_case("--k 2^63 - 1", f["users_text"].splitlines()[0],
               "--k 9223372036854775807: the item table holds 40 items",
               command=[b("hllm_recommend"), f["run"], "--k", "9223372036854775807", "--users", "{dir}/users.jsonl",
                        "--out", "{dir}/out.jsonl"])

    ladder = [b("hllm_sweep"), "--config", f["config"], "--ladder", "{dir}/ladder.json", "--out", "{dir}/sweep",
              "--mode", "list"]
    cases.append(Case("ladder", "a set value nested 100,000 deep",
                      {"ladder.json": ('{"points": [{"name": "a", "set": {"train.max_steps": %s}}]}' % deep(100000)).encode()},
                      ladder, out="sweep/sweep.json", want_rc=2, want_text="nested deeper than 64 levels"))
    cases.append(Case("ladder", "a point named with 300 characters",
                      {"ladder.json": json.dumps({"points": [{"name": "p" * 300}]}).encode()}, ladder,
                      out="sweep/sweep.json", want_rc=2, want_text="at most 100 (it names a directory)"))
    shape = lambda width: {"hidden_size": width, "num_layers": 1, "num_heads": 2}
    cases.append(Case("ladder", "towers of different widths",
                      {"ladder.json": json.dumps({"points": [{"name": "w", "set": {"model.item": shape(16),
                                                                                  "model.user": shape(32)}}]}).encode()},
                      ladder, out="sweep/sweep.json", want_rc=2, want_text="the widths must match"))

    launch = [b("hllm_launch"), "--config", "{dir}/config.json", "--dry_run"]
    cases.append(Case("config", "a config value nested 100,000 deep",
                      {"config.json": f["config_text"].replace('"max_steps": 2', '"max_steps": ' + deep(100000)).encode()},
                      launch, want_rc=2, want_text="nested deeper than 64 levels"))
    cases.append(Case("config", "model.item of 300 characters by --set", {"config.json": f["config_text"].encode()},
                      launch + ["--set", "model.item=" + "m" * 300], want_rc=2,
                      want_text="--set model.item: key 'model.item' = 'mmm"))
    cases.append(Case("config", "a bad shape by --set is blamed on --set, not a line of the file",
                      {"config.json": f["config_text"].encode()},
                      launch + ["--set", 'model.item={"hidden_size": 30, "num_layers": 1, "num_heads": 4}'],
                      want_rc=2, want_text="--set model.item: key 'model.item.num_heads'"))

    embed = [b("hllm_embed"), f["run"], "--items", "{dir}/items.h5", "--out", "{dir}/out.h5"]
    def new_items_case(name, change, want_rc, want_text):
        def write(path):
            arrays, attrs = read_h5(f["new_items"])
            change(arrays, attrs)
            write_h5(path, arrays, attrs)
        cases.append(Case("new_items_h5", name, {"items.h5": write}, embed, out="out.h5", want_rc=want_rc,
                          want_text=want_text))
    def offsets_past_end(a, _):
        a["offsets"] = a["offsets"].copy(); a["offsets"][2] = a["offsets"][-1] + 50
    def offsets_down(a, _):
        a["offsets"] = a["offsets"].copy(); a["offsets"][1], a["offsets"][2] = a["offsets"][2], a["offsets"][1]
    def ids(change):
        def apply(a, _):
            values = [v.decode() for v in a["ids"]]
            change(values)
            a["ids"] = np.array(values, dtype=h5py.string_dtype())
        return apply
    def long_item(a, _):
        extra = np.full(200000, 5, np.int32)
        a["tokens"] = np.concatenate([a["tokens"], extra])
        a["offsets"] = a["offsets"].copy(); a["offsets"][-1] += extra.size
    def token(value):
        def apply(a, _):
            a["tokens"] = a["tokens"].copy(); a["tokens"][0] = value
        return apply
    new_items_case("offsets past the end of the tokens", offsets_past_end, 2, "'offsets' decrease at index 3")
    new_items_case("offsets going down", offsets_down, 2, "'offsets' decrease at index 2")
    new_items_case("a duplicate new-item id", ids(lambda v: v.__setitem__(2, v[1])), 2, "is listed twice")
    new_items_case("an empty new-item id", ids(lambda v: v.__setitem__(2, "")), 2, "new item 2 has an empty id")
    new_items_case("a negative token id", token(-7), 2, "has the id -7, outside the tokenizer's vocabulary")
    new_items_case("a new item of 200,000 tokens is cut to max_text_len", long_item, 0, "(hllm; 3 new)")

    recommend = [b("hllm_recommend"), f["run"], "--k", "5", "--embeddings", "{dir}/table.h5", "--out", "{dir}/out.jsonl"]
    def nan_table(path):
        arrays, attrs = read_h5(f["embeddings"])
        arrays["embeddings"] = arrays["embeddings"].copy()
        arrays["embeddings"][3, 1] = np.nan
        write_h5(path, arrays, attrs)
    cases.append(Case("embeddings_h5", "a NaN in the item table", {"table.h5": nan_table}, recommend,
                      out="out.jsonl", want_rc=2, want_text="every value must be finite"))
    return cases


def write_nested_sequences(path, tokenizer_json, depth):
    head = '{"type": "Sequence", "pretokenizers": [' * depth
    tail = "]}" * depth
    t = json.loads(tokenizer_json)
    inner = json.dumps(t["pre_tokenizer"])
    t["pre_tokenizer"] = "@@"
    with open(path, "w") as out:
        out.write(json.dumps(t).replace('"@@"', head + inner + tail))


# ----------------------------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bin_dir")
    parser.add_argument("src")
    parser.add_argument("--cases", type=int, default=12, help="mutated inputs per surface")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated surfaces")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--keep", default="", help="keep the work directory here")
    parser.add_argument("--no_memory_limit", action="store_true",
                        help="no address-space limit (AddressSanitizer reserves terabytes of it)")
    args = parser.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    work = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="hllm-hostile-")
    os.makedirs(work, exist_ok=True)
    try:
        start = time.time()
        f = make_fixtures(bin_dir, args.src, work)
        table = surfaces(bin_dir, f)
        only = set(filter(None, args.only.split(",")))
        cases = [c for c in hand_made_cases(bin_dir, f) if not only or c.surface in only]
        for name, surface in table.items():
            if only and name not in only:
                continue
            for index in range(args.cases):
                rng = random.Random("%d/%s/%d" % (args.seed, name, index))  # each case reproducible alone
                stdin = surface.get("stdin", b"")
                stdin = stdin(rng) if callable(stdin) else stdin
                cases.append(Case(name, "mutation %d" % index, surface["files"](rng), surface["command"],
                                  out=surface["out"], stdin=stdin))
        print("hostile inputs: %d cases (seed %d, %d mutations per surface), fixtures in %.0f s" %
              (len(cases), args.seed, args.cases, time.time() - start), flush=True)
        counts, failures = {}, []
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for case, rc, verdict, output, seconds, directory in pool.map(
                    lambda c: run_case(c, work, args.timeout, not args.no_memory_limit), cases):
                row = counts.setdefault(case.surface, {"cases": 0, "accepted": 0, "refused": 0, "failed": 0,
                                                        "seconds": 0.0})
                row["cases"] += 1
                row["seconds"] += seconds
                if verdict != "ok":
                    row["failed"] += 1
                    failures.append((case, rc, verdict, output, directory))
                else:
                    row["accepted" if rc == 0 else "refused"] += 1
        print("%-18s %6s %9s %8s %7s %8s" % ("surface", "cases", "accepted", "refused", "failed", "seconds"))
        for name, row in counts.items():
            print("%-18s %6d %9d %8d %7d %8.1f" % (name, row["cases"], row["accepted"], row["refused"], row["failed"],
                                                   row["seconds"]))
        total = {k: sum(r[k] for r in counts.values()) for k in ("cases", "accepted", "refused", "failed")}
        crashes = sum(1 for _, _, v, _, _ in failures if v.startswith("crash"))
        timeouts = sum(1 for _, _, v, _, _ in failures if v == "timeout")
        print("total: %d cases, %d accepted, %d refused (exit 2), %d failed: %d crashes, %d timeouts (%.0f s)" %
              (total["cases"], total["accepted"], total["refused"], total["failed"], crashes, timeouts,
               time.time() - start))
        for case, rc, verdict, output, directory in failures:
            print("FAIL: %s: %s: %s" % (case.surface, case.name, verdict))
            for line in output.decode(errors="replace").splitlines()[-6:]:
                print("    " + line[:300])
        return 1 if failures else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
