"""Lay the dependency graph out in columns for an SVG: agents, then what they use, then models and systems."""

from __future__ import annotations

from collections import defaultdict

from .selectors import DependencyGraph

COLUMN_OF_KIND = {"agent": 0, "prompt": 1, "pipeline": 1, "endpoint": 1, "model": 2, "integration": 2}
NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD = 210, 46, 110, 18, 16


def graph_layout(graph: DependencyGraph) -> dict:
    columns: dict[int, list] = defaultdict(list)
    for node in sorted(graph.nodes, key=lambda n: (n.kind, n.name.lower())):
        columns[COLUMN_OF_KIND.get(node.kind, 1)].append(node)
    positions, placed = {}, []
    for col, nodes in sorted(columns.items()):
        for row, node in enumerate(nodes):
            x, y = PAD + col * (NODE_W + COL_GAP), PAD + row * (NODE_H + ROW_GAP)
            positions[node.id] = (x, y)
            placed.append({"node": node, "x": x, "y": y, "w": NODE_W, "h": NODE_H})
    edges = []
    for edge in graph.edges:
        if edge.source not in positions or edge.target not in positions:
            continue
        (sx, sy), (tx, ty) = positions[edge.source], positions[edge.target]
        if tx > sx:  # left to right: leave on the right side, arrive on the left
            x1, y1, x2, y2 = sx + NODE_W, sy + NODE_H / 2, tx, ty + NODE_H / 2
            bend = (x2 - x1) / 2
            path = f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
        else:  # same column (or backwards): loop out to the right
            x1, y1, x2, y2 = sx + NODE_W, sy + NODE_H / 2, tx + NODE_W, ty + NODE_H / 2
            path = f"M{x1},{y1} C{x1 + 60},{y1} {x2 + 60},{y2} {x2},{y2}"
        edges.append({"edge": edge, "path": path, "lx": (x1 + x2) / 2, "ly": (y1 + y2) / 2 - 4})
    width = PAD * 2 + (max(columns) + 1) * NODE_W + max(columns) * COL_GAP if columns else 0
    rows = max((len(nodes) for nodes in columns.values()), default=0)
    height = PAD * 2 + rows * NODE_H + max(rows - 1, 0) * ROW_GAP
    legend = sorted({(e["edge"].kind, e["edge"].label) for e in edges}, key=lambda item: item[1])
    return {"nodes": placed, "edges": edges, "legend": legend, "width": width + 80, "height": height}
