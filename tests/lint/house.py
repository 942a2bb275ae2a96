"""The house in figures: modules per folder, import cycles, complexity, `Any`, longest module.

    .venvs/lint/bin/python tests/lint/house.py [--check] [ROOT]

Run with the lint virtualenv (tests/setup/lint.sh): it uses grimp (import-linter's graph) and
radon. Prints one line a figure; the issue's before/after notes quote them. With `--check` it
exits 1 when a limit below is passed (README's test command runs it so, tests/lint/test_tools.py).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import grimp
from radon.complexity import cc_visit

PACKAGES = ("console", "collectors")
MAX_COMPLEXITY = 20  # radon grade C or better
MAX_AVERAGE = 3.5
MAX_LINES = 450


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def main(root: Path, check: bool) -> int:
    sys.path.insert(0, str(root))
    files = sorted(p for package in PACKAGES for p in (root / package).rglob("*.py"))
    folders = Counter(str(p.parent.relative_to(root)) for p in files)
    print("modules per folder:", ", ".join(f"{k} {v}" for k, v in sorted(folders.items())))
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    found = cycles(graph)
    print(f"import cycles: {len(found)}", "; ".join(" ".join(c) for c in found))
    blocks = [(p, b) for p in files for b in cc_visit(p.read_text())]
    average = sum(b.complexity for _, b in blocks) / len(blocks)
    worst = sorted(blocks, key=lambda pb: -pb[1].complexity)[:3]
    print(f"average complexity: {average:.2f} over {len(blocks)} blocks")
    print("worst:", ", ".join(f"{b.name} {b.complexity} ({p.relative_to(root)})" for p, b in worst))
    print("grade D or worse (CC > 20):", sum(1 for _, b in blocks if b.complexity > 20))
    any_count = sum(len(re.findall(r"\bAny\b", p.read_text())) for p in files)
    print("Any mentions:", any_count)
    lines = sorted(((len(p.read_text().splitlines()), p) for p in files), reverse=True)[:3]
    print("longest modules:", ", ".join(f"{p.relative_to(root)} {n}" for n, p in lines))
    if not check:
        return 0
    broken = [f"import cycle: {' '.join(c)}" for c in found]
    broken += [
        f"{p.relative_to(root)}:{b.lineno}: {b.name} has complexity {b.complexity} (at most {MAX_COMPLEXITY})"
        for p, b in blocks
        if b.complexity > MAX_COMPLEXITY
    ]
    if average > MAX_AVERAGE:
        broken.append(f"average complexity {average:.2f} (at most {MAX_AVERAGE})")
    broken += [
        f"{p.relative_to(root)}: {len(p.read_text().splitlines())} lines (at most {MAX_LINES})"
        for p in files
        if len(p.read_text().splitlines()) > MAX_LINES
    ]
    for line in broken:
        print(line, file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--check"]
    sys.exit(main(Path(args[0] if args else ".").resolve(), check="--check" in sys.argv[1:]))
