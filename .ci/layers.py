#!/usr/bin/env python3
"""The layer guard: fails when a lower room of a crate names a higher one, or when the
modules of a crate (its top-level rooms, or the files of one folder) import each other in a
circle.

An edge is a `use` or a path (`crate::…`, `super::…`, `self::…`) in a file's code, outside
comments, strings and `#[cfg(test)] mod … { … }` blocks (also
`#[cfg(all(test, …))]`). A path through the crate root's
re-exports (`crate::Supervisor`) names the root, the top room. A module and its own
submodules may use each other.

    python3 .ci/layers.py            # check both crates; exit 1 on a violation
    python3 .ci/layers.py --graph    # also print every room's edges
"""
import collections
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Each crate's rooms, top to bottom: a room may name rooms of its own line or of lines
# below it, never above. Every top-level module must be listed.
CRATES = {
    "atasker-core/src": [
        ["lib", "__private", "static_api"],  # the faces
        ["node"],  # a cluster node (serve_cluster, zero set-up)
        ["worker", "collection"],  # workers (Client of the supervisor); collections
        ["supervisor"],  # every way in to an executor (spawn/), stop, watchdog
        ["remote"],  # the cluster's producer side: broker, link, wire
        ["process_pool"],  # children, their protocol, the registry of static fns
        ["thread_pool"],  # the pool kind whose threads run closures
        ["pool"],  # the pool skeleton: ladder, crew, timers
        ["locker"],  # Locker: a named lock (names only task's panic containment, sync)
        ["task"],  # Task<T>, its cell and the Schedule trait
        ["stats"],  # counters and snapshots
        ["metrics"],  # the `metrics` facade calls
        ["kind"],  # PoolKind, Outcome
        ["backoff", "context", "error", "init", "priority", "sync"],  # the ground types
    ],
    "atasker-macros/src": [
        ["lib"],
        ["tests"],
        ["expand"],
        ["validate"],
        ["model"],
        ["args", "item"],
        ["ctxt"],
    ],
}


def strip(src):
    """The code of a file, without comments, strings and test modules."""
    src = re.sub(r"//[^\n]*", "", src)
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    src = re.sub(r'r#*"(?:.|\n)*?"#*', '""', src)
    src = re.sub(r'"(?:\\.|[^"\\])*"', '""', src)
    out, i = [], 0
    test_mod = re.compile(
        r"#\[cfg\((?:all\()?test\b[^\]]*\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{"
    )
    while True:
        m = test_mod.search(src, i)
        if not m:
            out.append(src[i:])
            break
        out.append(src[i : m.start()])
        j, depth = m.end(), 1
        while depth and j < len(src):
            depth += {"{": 1, "}": -1}.get(src[j], 0)
            j += 1
        i = j
    return "".join(out)


def module_path(rel):
    parts = rel[:-3].split("/")
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def use_paths(tree):
    """`a::{b, c::{d}}` → `a::b`, `a::c::d`."""
    tree = re.sub(r"\s+", "", tree)
    paths = []

    def walk(prefix, t):
        items, depth, cur = [], 0, ""
        for ch in t:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if ch == "," and depth == 0:
                items.append(cur)
                cur = ""
            else:
                cur += ch
        if cur:
            items.append(cur)
        for it in items:
            if "{" in it:
                k = it.index("{")
                walk(prefix + it[:k], it[k + 1 : -1])
            else:
                paths.append(prefix + it)

    walk("", tree)
    return paths


def file_edges(src_root):
    files = {}
    for dirpath, _, names in os.walk(src_root):
        for n in names:
            if n.endswith(".rs"):
                p = os.path.join(dirpath, n)
                files[os.path.relpath(p, src_root)] = strip(open(p, encoding="utf-8").read())
    by_path = {tuple(module_path(r)): r for r in files}
    edges = collections.defaultdict(set)
    for rel, code in files.items():
        me = module_path(rel)
        paths = []
        for m in re.finditer(r"\buse\s+([^;]+);", code):
            paths += use_paths(m.group(1))
        paths += re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", code)
        for p in paths:
            segs = [s for s in p.split("::") if s]
            if not segs:
                continue
            if segs[0] == "crate":
                base, segs = [], segs[1:]
            elif segs[0] == "super":
                base, segs = me[:-1], segs[1:]
                while segs and segs[0] == "super":
                    base, segs = base[:-1], segs[1:]
            elif segs[0] == "self":
                base, segs = me, segs[1:]
            elif not me:
                base = []  # the crate root names its modules bare
            else:
                continue
            target = base + segs
            while target and tuple(target) not in by_path:
                target = target[:-1]
            found = by_path.get(tuple(target))
            if found and found != rel:
                edges[rel].add(found)
    return files, edges


def top(rel):
    mp = module_path(rel)
    return mp[0] if mp else "lib"


def circles(graph, nodes):
    index, low, stack, on, found, n = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def check(src_dir, layers, show):
    files, edges = file_edges(os.path.join(ROOT, src_dir))
    rank = {m: i for i, line in enumerate(layers) for m in line}
    errors = []
    rooms = sorted({top(r) for r in files})
    for r in rooms:
        if r not in rank:
            errors.append(f"{src_dir}: room `{r}` is not in the layer list of .ci/layers.py")
    graph = collections.defaultdict(set)
    for a, targets in sorted(edges.items()):
        for b in sorted(targets):
            ta, tb = top(a), top(b)
            if ta == tb:
                continue
            graph[ta].add(tb)
            if ta in rank and tb in rank and rank[tb] < rank[ta]:
                errors.append(f"{src_dir}/{a} names `{tb}` ({src_dir}/{b}), a higher room than `{ta}`")
    for c in circles(graph, rooms):
        errors.append(f"{src_dir}: rooms import each other in a circle: {' ↔ '.join(c)}")
    # The child modules of each folder (`f/x.rs`, or a folder `f/x/`), without the folder's
    # own `mod.rs`: they must not import each other in a circle.
    children = collections.defaultdict(lambda: collections.defaultdict(set))
    for r in files:
        parts = r.split("/")
        for depth, part in enumerate(parts):
            if part in ("mod.rs", "lib.rs"):
                break
            children["/".join(parts[:depth])][part.removesuffix(".rs")].add(r)
    for folder, members in sorted(children.items()):
        owner = {r: m for m, rs in members.items() for r in rs}
        g = collections.defaultdict(set)
        for a, m in owner.items():
            for b in edges[a]:
                if b in owner and owner[b] != m:
                    g[m].add(owner[b])
        if folder == "":
            continue  # the rooms, checked above
        for c in circles(g, members):
            errors.append(f"{src_dir}/{folder}: modules import each other in a circle: {' ↔ '.join(c)}")
    if show:
        print(f"# {src_dir}")
        for line in layers:
            for m in line:
                if m in graph or m in rooms:
                    print(f"  {m:14} → {', '.join(sorted(graph.get(m, ()))) or '-'}")
    return errors


def main():
    show = "--graph" in sys.argv
    errors = []
    for src_dir, layers in CRATES.items():
        errors += check(src_dir, layers, show)
    for e in errors:
        print(f"layers: {e}")
    if errors:
        print(f"layers: {len(errors)} violation(s); the order is in .ci/layers.py")
        return 1
    print("layers: every room names only its own line or lower ones; no circles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
