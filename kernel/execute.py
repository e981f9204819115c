"""Executes one notebook headless with nbconvert and writes the executed notebook and its HTML export.

The kernel tool (kernel/run.go) embeds this script and runs it as `python3 - CONFIG_JSON`. It does what
`python3 -m nbconvert --to notebook --execute` does, with nbconvert's own ExecutePreprocessor and HTMLExporter,
plus what that command cannot: when a cell fails it stops there (like nbconvert) yet still writes the partly
executed notebook and its HTML export, so that the failing cell's outputs can be read and reported. The outcome
goes to the status file as JSON: {"outcome": "ok" | "cell-error" | "failed", "cell": index, "error": text}.
"""

import json
import os
import sys
import tempfile
import traceback

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor


def write_atomic(path, text):
    """Writes text to path through a temporary file renamed into place."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                               prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main():
    config = json.loads(sys.argv[1])
    nb = nbformat.read(config["notebook"], as_version=4)
    current = {"cell": None}

    executor = ExecutePreprocessor(kernel_name=config["kernel"], timeout=config["timeout"],
                                   startup_timeout=config["startup_timeout"])
    # nbclient's hook (0.6 and later): remembers which cell runs, for errors that do not name it (timeouts).
    executor.on_cell_start = lambda cell, cell_index: current.update(cell=cell_index)

    status = {"outcome": "ok"}
    try:
        executor.preprocess(nb, {"metadata": {"path": config["cwd"]}})
    except CellExecutionError:
        status = {"outcome": "cell-error", "cell": current["cell"]}
    except Exception as e:  # a timeout, a kernel that died or never started
        traceback.print_exc()
        status = {"outcome": "failed", "cell": current["cell"], "error": "%s: %s" % (type(e).__name__, e)}

    write_atomic(config["output"], nbformat.writes(nb))
    html, _ = HTMLExporter().from_notebook_node(nb, resources={"metadata": {"name": config["title"]}})
    write_atomic(config["html"], html)
    write_atomic(config["status"], json.dumps(status))


if __name__ == "__main__":
    main()
