#!/usr/bin/env python3
"""The include graph of core/ has no cycle (issue 10).

Reads the `#include "..."` lines of core/**/*.c and *.h, resolves each the way the compiler does
(the including file's folder, then the Makefile's CORE_INC folders in order: core/include, core,
core/config, ...), and fails naming
- every cycle among the files (only headers can be in one, unless a .c is included): no header
  of it could be read first on its own;
- every cycle among the folders of core/ (a file directly in core/ counts as a folder of its
  own): each part of the core builds on the ones below it, never back;
- every file that reaches (through any chain of includes) a header a rule below keeps it from:
  the places where a dependency was turned around by a callback or an interface.
Usage: tests/core_include_graph.py [ROOT]   (ROOT: the repository, default: this one)
"""
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def sources(root):
    core = os.path.join(root, "core")
    for folder, _, names in os.walk(core):
        for name in sorted(names):
            if name.endswith((".c", ".h")):
                yield os.path.relpath(os.path.join(folder, name), root)


def include_dirs(root):
    """The -I folders of the build, asked of the Makefile so the two cannot drift apart."""
    out = subprocess.run(["make", "-s", "--no-print-directory", "-C", root, "--eval",
                          "print-core-inc: ; @echo $(CORE_INC)", "print-core-inc"],
                         check=True, capture_output=True, text=True).stdout
    return [flag[2:] for flag in out.split() if flag.startswith("-I")]


def resolve(root, dirs, including, target):
    for base in [os.path.dirname(including)] + dirs:
        path = os.path.normpath(os.path.join(base, target))
        if os.path.isfile(os.path.join(root, path)):
            return path
    return None  # a system or generated header: not part of the graph


def graph(root):
    dirs = include_dirs(root)
    edges = {}
    for h in sources(root):
        with open(os.path.join(root, h), encoding="utf-8") as f:
            found = (INCLUDE.match(line) for line in f)
            targets = (resolve(root, dirs, h, m.group(1)) for m in found if m)
            edges[h] = sorted({t for t in targets if t})
    return edges


# (files whose path starts with this, header they must not reach, why)
RULES = [
    ("core/session/session", "core/session/udp_assoc.h",
     "a session keeps a UDP relay as a companion (session.h); the server hands the runtime "
     "its opener"),
    ("core/control/", "core/server/server.h",
     "the control socket reaches the server only through the table it is started with "
     "(control.h)"),
]


def folder_of(path):
    folder = os.path.dirname(path)
    return path if folder == "core" else folder


def folder_graph(edges):
    folders = {}
    for src, targets in edges.items():
        for t in targets:
            if folder_of(src) != folder_of(t):
                folders.setdefault(folder_of(src), set()).add(folder_of(t))
    return {f: sorted(t) for f, t in folders.items()}


def reach(edges, start):
    seen, todo = set(), [start]
    while todo:
        for nxt in edges.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def broken_rules(edges):
    found = []
    for prefix, header, why in RULES:
        for src in sorted(edges):
            if src.startswith(prefix) and src != header and header in reach(edges, src):
                found.append(f"{src} reaches {header}: {why}")
    return found


def cycles(edges):
    """One cycle per back edge of a depth-first walk: each distinct loop is reported."""
    found, state, stack = [], {}, []

    def walk(node):
        state[node] = "open"
        stack.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            walk(node)
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    edges = graph(root)
    loops = cycles(edges)
    folder_loops = cycles(folder_graph(edges))
    broken = broken_rules(edges)
    for loop in loops:
        print("include cycle: " + " -> ".join(loop))
    for loop in folder_loops:
        print("folder cycle: " + " -> ".join(loop))
    for line in broken:
        print("rule: " + line)
    if loops or folder_loops or broken:
        print(f"core_include_graph: {len(loops)} file cycle(s), {len(folder_loops)} folder "
              f"cycle(s), {len(broken)} rule(s) broken; include less (a forward declaration "
              "instead of the header, a callback instead of a call)")
        return 1
    n = sum(len(t) for t in edges.values())
    print(f"core_include_graph: PASS ({len(edges)} files, {n} includes, "
          f"{len(folder_graph(edges))} folders, no cycle, {len(RULES)} rules kept)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
