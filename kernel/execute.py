"""Executes one notebook headless with nbconvert and writes the executed notebook and its HTML export.

The kernel tool (kernel/run.go) embeds this script and runs it as `python3 - CONFIG_JSON`. It does what
`python3 -m nbconvert --to notebook --execute` does, with nbconvert's own ExecutePreprocessor and HTMLExporter,
plus what that command cannot:

- when a cell fails, or the run is interrupted (SIGINT or SIGTERM), it stops there (like nbconvert) yet still
  writes the partly executed notebook and its HTML export, so that the cell's outputs can be read and reported;
- it reports what happens as it happens, one JSON object a line on the file descriptor config["events_fd"], for
  run.go to show: {"event": "kernel", "pgid": N} once the kernel runs, {"event": "cell", "cell": index} as each
  code cell starts, {"event": "display", "cell": index, "html": text} for each training-progress display (see
  progress-protocol: an HTML output with class hymenoptera-progress), {"event": "executed", "cell": index} as
  it ends, {"event": "warning", "text": text};
- it saves each cell's consecutive stream outputs as one (text overwritten by a carriage return removed, as
  Jupyter shows it), and exports HTML that loads nothing from outside itself.

The outcome goes to the status file as JSON:
{"outcome": "ok" | "cell-error" | "failed" | "interrupted", "cell": index, "error": text}.
"""

import asyncio
import json
import os
import re
import signal
import sys
import tempfile
import traceback

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter
from nbclient.util import ensure_async
from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor, coalesce_streams

# PROGRESS_CLASS marks a training-progress display (progress-protocol): only those are forwarded as events.
PROGRESS_CLASS = "hymenoptera-progress"

# INTERRUPT_GRACE is how long an interrupted cell may take to stop before its kernel is killed: GoNB stops a
# running program at once, but an interrupt that arrives while it compiles the cell can go unanswered.
INTERRUPT_GRACE = 10

# KILL_GRACE is how long a kernel told to stop (SIGTERM) has before it is killed.
KILL_GRACE = 2

# REQUIREJS is Debian's require.js (libjs-requirejs, installed with Jupyter), inlined into exports that need it.
REQUIREJS = "/usr/share/javascript/requirejs/require.min.js"

# SELF_CONTAINED extends nbconvert's "lab" template so that the page loads nothing: no require.js unless an
# output is JavaScript (then inlined), no widget manager from a CDN, no MathJax (nbconvert's only loads from
# files or the network, and Debian's MathJax 2 fetches its parts one by one: it cannot be inlined). SVG outputs
# (the notebooks' charts) are written as they are: nbconvert 6.5 passes them through its HTML cleaner, which
# keeps the <svg> tag and drops everything inside it. They come from the notebook this driver just executed,
# whose code is trusted as much as its outputs are.
SELF_CONTAINED = """{%- extends 'index.html.j2' -%}
{%- block data_svg scoped -%}
<div class="jp-RenderedSVG jp-OutputArea-output {{ extra_class }}" data-mime-type="image/svg+xml">
{{ output.data['image/svg+xml'] }}
</div>
{%- endblock data_svg -%}
{%- block html_head_js_requirejs -%}
{%- if resources.inline_requirejs %}<script>{{ resources.inline_requirejs }}</script>{% endif -%}
{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
"""

# MATH finds TeX math in markdown the way Jupyter's renderer does: $...$, $$...$$, \\(...\\), \\[...\\].
MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$[^\s$][^$]*?\$|\\\(.+?\\\)|\\\[.+?\\\]", re.S)


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


class Events:
    """Writes events as JSON lines; a reader that went away only stops the events, never the run."""

    def __init__(self, fd):
        self.out = os.fdopen(fd, "w", buffering=1, encoding="utf-8") if fd else None

    def send(self, **event):
        if self.out is None:
            return
        try:
            self.out.write(json.dumps(event) + "\n")
        except OSError:
            self.out = None


class Interrupted(Exception):
    """Raised before the next cell once the run was interrupted."""


class Executor(ExecutePreprocessor):
    """nbconvert's ExecutePreprocessor, reporting cells and progress displays, and stoppable by a signal."""

    def __init__(self, events, **kw):
        super().__init__(**kw)
        self.events = events
        self.running = None     # the index of the code cell the kernel is executing
        self.last = None        # the index of the last code cell that started
        self.interrupts = 0     # signals received
        self.loop = None        # the event loop nbclient runs the cell on
        self.on_notebook_start = self.kernel_started
        self.on_cell_start = self.cell_start
        self.on_cell_execute = self.cell_execute
        self.on_cell_executed = self.cell_executed

    def kernel_started(self, notebook):
        pgid = getattr(self.km.provisioner, "pgid", None)
        if pgid:
            self.events.send(event="kernel", pgid=pgid)

    def cell_start(self, cell, cell_index):
        if self.interrupts:
            raise Interrupted()

    def cell_execute(self, cell, cell_index):
        self.loop = asyncio.get_running_loop()
        self.running = self.last = cell_index
        self.events.send(event="cell", cell=cell_index)

    def cell_executed(self, cell, cell_index, execute_reply):
        self.running = None
        self.events.send(event="executed", cell=cell_index)

    def process_message(self, msg, cell, cell_index):
        if msg["msg_type"] in ("display_data", "update_display_data"):
            html = msg["content"].get("data", {}).get("text/html")
            if isinstance(html, list):
                html = "".join(html)
            if isinstance(html, str) and PROGRESS_CLASS in html:
                self.events.send(event="display", cell=cell_index, html=html)
        return super().process_message(msg, cell, cell_index)

    def on_signal(self, signum, frame):
        """Interrupts the running cell (the first signal) or kills its kernel (the next): either way the run
        ends at that cell, and main still writes what ran."""
        self.interrupts += 1
        if self.running is not None and self.loop is not None:
            self.loop.call_soon_threadsafe(asyncio.ensure_future, self.stop(self.running, self.interrupts > 1))

    async def stop(self, cell_index, now):
        if not now:
            await ensure_async(self.km.interrupt_kernel())
            await asyncio.sleep(INTERRUPT_GRACE)
            if self.running != cell_index:
                return
            self.events.send(event="warning", text="the cell did not stop within %ds: stopping the kernel"
                             % INTERRUPT_GRACE)
        await self.end_kernel()

    async def end_kernel(self):
        """Ends the kernel's process group: SIGTERM first, on which GoNB stops gopls (in a process group of its
        own) and exits, then SIGKILL for what is left after KILL_GRACE."""
        pgid = getattr(self.km.provisioner, "pgid", None)
        if not pgid:
            return
        for sig, wait in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, 0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            await asyncio.sleep(wait)


def has_math(nb):
    return any(cell.cell_type == "markdown" and MATH.search(cell.source) for cell in nb.cells)


def needs_requirejs(nb):
    """Whether an output runs JavaScript, which (in Jupyter's convention) may use require.js."""
    return any("application/javascript" in output.get("data", {})
               for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs)


def export_html(nb, title, events):
    """Exports nb as one HTML page that loads nothing from outside itself."""
    resources = {"metadata": {"name": title}}
    if needs_requirejs(nb):
        if os.path.exists(REQUIREJS):
            with open(REQUIREJS, encoding="utf-8") as f:
                resources["inline_requirejs"] = f.read()
        else:
            events.send(event="warning", text="a JavaScript output may need require.js, and %s is missing "
                        "(Debian: apt-get install libjs-requirejs)" % REQUIREJS)
    if has_math(nb):
        events.send(event="warning", text="the notebook has TeX math: the HTML export shows it as TeX (MathJax "
                    "is left out, as it cannot be inlined)")
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"self-contained.html.j2": SELF_CONTAINED})],
                            template_file="self-contained.html.j2")
    html, _ = exporter.from_notebook_node(nb, resources=resources)
    return html


def name_go_lexer(nb):
    """GoNB's kernel_info leaves language_info's Pygments lexer and CodeMirror mode empty, and nbclient copies that
    into the notebook: the export would then highlight Go as some other language. Both are Go's."""
    info = nb.metadata.setdefault("language_info", {})
    info["pygments_lexer"] = info.get("pygments_lexer") or "go"
    info["codemirror_mode"] = info.get("codemirror_mode") or "go"


def main():
    config = json.loads(sys.argv[1])
    nb = nbformat.read(config["notebook"], as_version=4)
    events = Events(config.get("events_fd"))

    executor = Executor(events, kernel_name=config["kernel"], timeout=config["timeout"],
                        startup_timeout=config["startup_timeout"])
    signal.signal(signal.SIGINT, executor.on_signal)
    signal.signal(signal.SIGTERM, executor.on_signal)

    status = {"outcome": "ok"}
    try:
        executor.preprocess(nb, {"metadata": {"path": config["cwd"]}})
    except CellExecutionError:
        status = {"outcome": "cell-error", "cell": executor.last}
    except Interrupted:
        pass
    except Exception as e:  # a timeout, a kernel that died or never started
        traceback.print_exc()
        status = {"outcome": "failed", "cell": executor.last, "error": "%s: %s" % (type(e).__name__, e)}
    if executor.interrupts:
        status = {"outcome": "interrupted", "cell": executor.last}
    # Signals from here on only end the run sooner: what ran is being written.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    coalesce_streams(nb, {})
    name_go_lexer(nb)
    write_atomic(config["output"], nbformat.writes(nb))
    write_atomic(config["html"], export_html(nb, config["title"], events))
    write_atomic(config["status"], json.dumps(status))


if __name__ == "__main__":
    main()
