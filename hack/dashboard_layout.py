"""Draw each Grafana dashboard's layout (rows and panels on Grafana's 24-column grid, with titles and the metrics
each panel reads) as an SVG for the docs: docs/img/<uid>.svg. Run after changing a dashboard:

    .venv/bin/python hack/dashboard_layout.py          # writes the pictures
    .venv/bin/python hack/dashboard_layout.py --check  # exit 1 when a picture is out of date

tests/unit/plugins/module_utils/_monitoring/test_dashboards.py runs the check.
"""

import os
import sys
from html import escape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))

from ansible_collections.llmops.vllm_serving.plugins.module_utils._monitoring import dashboards  # noqa: E402

COL, ROW = 40, 22  # pixels per grid column / row
KIND_FILL = {"timeseries": "#eef4fb", "stat": "#fdf3e6", "table": "#eefaf0"}


def svg(board):
    height = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in board["panels"])
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">'
           % (24 * COL + 2, (height + 2) * ROW + 2),
           '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff" stroke="#999999"/>' % (24 * COL + 2, (height + 2) * ROW + 2),
           '<text x="6" y="15" font-size="13" font-weight="bold">%s (uid %s); variables: %s</text>'
           % (escape(board["title"]), escape(board["uid"]),
              escape(", ".join("$" + v["name"] for v in board["templating"]["list"])))]
    for p in board["panels"]:
        g = p["gridPos"]
        x, y, w, h = g["x"] * COL + 1, (g["y"] + 1) * ROW + 1, g["w"] * COL, g["h"] * ROW
        if p["type"] == "row":
            out.append('<text x="%d" y="%d" font-size="12" font-weight="bold" fill="#333333">%s</text>'
                       % (x + 4, y + 15, escape(p["title"])))
            continue
        out.append('<rect x="%d" y="%d" width="%d" height="%d" rx="3" fill="%s" stroke="#7a8ca3"/>'
                   % (x + 2, y + 2, w - 4, h - 4, KIND_FILL.get(p["type"], "#f4f4f4")))
        out.append('<text x="%d" y="%d" font-weight="bold">%s</text>' % (x + 8, y + 18, escape(p["title"])))
        out.append('<text x="%d" y="%d" fill="#555555">%s, %s</text>'
                   % (x + 8, y + 34, escape(p["type"]), escape(p["fieldConfig"]["defaults"]["unit"])))
        metrics = sorted({m for t in p["targets"] for m in dashboards.metrics_in(t["expr"])})
        for i, metric in enumerate(metrics):
            out.append('<text x="%d" y="%d" fill="#2b5d8a" font-family="monospace" font-size="10">%s</text>'
                       % (x + 8, y + 52 + 14 * i, escape(metric)))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def pictures():
    return {os.path.join(ROOT, "docs", "img", uid + ".svg"): svg(board) for uid, board in dashboards.dashboards().items()}


def main(argv):
    stale = []
    for path, text in pictures().items():
        current = open(path).read() if os.path.exists(path) else None
        if current != text:
            stale.append(path)
            if "--check" not in argv:
                with open(path, "w") as handle:
                    handle.write(text)
    if "--check" in argv and stale:
        print("out of date (run hack/dashboard_layout.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
