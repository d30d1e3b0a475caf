"""dcp-worker's warm CellProfiler runner: one long-lived process per worker copy that imports
CellProfiler once and then runs task after task as `cellprofiler -c -r ...` would. Run with
CellProfiler's own Python:

    python -c RUNNER [CELLPROFILER_ARGS...]

ARGS: the arguments every task shares (CELLPROFILER_ARGS, --plugins-directory=,
--always-continue), applied once at start, as cellprofiler's main() applies them, before any
module is loaded. Then, per line on stdin, one JSON request

    {"argv": [the task's cellprofiler arguments: ARGS, -c -r -p ... -g ...], "log": PATH}

runs the task with CellProfiler's own headless path (cellprofiler.__main__.
run_pipeline_headless: a fresh Pipeline and fresh Measurements, the done file written as
CellProfiler writes it) and answers one JSON line on stdout

    {"exit_code": N}

(N: what `cellprofiler -c -r` would exit with; 1 for an exception it would die of). While a
task runs, everything the process writes to its stdout and stderr (CellProfiler's log) is
appended to PATH; between tasks it goes to this process's own stderr. The process exits at
the end of stdin.

CellProfiler logs each module's run per image set (`Image # N, module X # M: CPU_time = ...,
Wall_time = ... secs`) but not its post_run, where ExportToSpreadsheet writes the CSVs
(seconds per Cell Painting site). The runner logs those too, for modules that have one:

    dcp-worker: post_run of module X # M: CPU_time = C secs, Wall_time = W secs
"""

import json
import os
import sys
import timeit
import traceback

# Replies go to a private copy of stdout; whatever CellProfiler prints goes to stderr.
REPLY = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr
IDLE_ERR = os.dup(2)

import cellprofiler.__main__ as cp_main  # noqa: E402 - after the redirection
import cellprofiler_core.preferences as prefs  # noqa: E402
from cellprofiler_core.constants.reader import ALL_READERS  # noqa: E402
from cellprofiler_core.module import Module  # noqa: E402
from cellprofiler_core.pipeline import Pipeline  # noqa: E402


def parse(argv):
    """The arguments as cellprofiler's own parser reads them."""
    saved = sys.argv
    sys.argv = ["cellprofiler"] + list(argv)
    try:
        return cp_main.parse_args()
    finally:
        sys.argv = saved


def start(argv):
    """What cellprofiler's main() does once per process before a headless run."""
    args = parse(["-c", "-r"] + argv)
    prefs.set_awt_headless(True)
    cp_main.set_log_level(args.log_level)
    prefs.set_headless()
    cp_main.fill_readers(check_config=True)
    if args.temp_dir is not None:
        os.makedirs(args.temp_dir, exist_ok=True)
        prefs.set_temporary_directory(args.temp_dir, globally=False)
    if args.plugins_directory is not None:
        prefs.set_plugin_directory(args.plugins_directory, globally=False)
    if args.conserve_memory is not None:
        prefs.set_conserve_memory(args.conserve_memory, globally=False)
    if args.enabled_readers:
        cp_main.filter_active_readers(args.enabled_readers)
    if not args.allow_schema_write:
        prefs.set_allow_schema_write(False)
    # Load every module, the plugins' too, now rather than in the first task: importing
    # cellprofiler_core.modules fills them in, reading the plugins folder set above.
    import cellprofiler_core.modules  # noqa: F401

    return args, prefs.get_always_continue()


def timed_post_runs(post_run):
    """Pipeline.post_run, logging the time of each module's own post_run."""

    def timed(pipeline, *args):
        for module in pipeline.modules():
            if type(module).post_run is not Module.post_run:
                module.post_run = logged(module, module.post_run)
        try:
            return post_run(pipeline, *args)
        finally:
            for module in pipeline.modules():
                module.__dict__.pop("post_run", None)

    return timed


def logged(module, post_run):
    def timed(workspace):
        cpu, wall = sum(os.times()[:-1]), timeit.default_timer()
        try:
            return post_run(workspace)
        finally:
            print(
                "dcp-worker: post_run of module %s # %d: CPU_time = %.2f secs, Wall_time = %.2f secs"
                % (
                    module.module_name,
                    module.module_num,
                    max(0, sum(os.times()[:-1]) - cpu),
                    max(0, timeit.default_timer() - wall),
                ),
                file=sys.stderr,
                flush=True,
            )

    return timed


def run(args, always_continue):
    """One task: the per-run part of cellprofiler's main(), then its headless run. Every
    preference a task sets is set for each task, so nothing of one reaches the next."""
    os.makedirs(args.output_directory, exist_ok=True)
    prefs.set_default_output_directory(args.output_directory)
    if args.image_directory:
        prefs.set_default_image_directory(args.image_directory)
    prefs.set_data_file(
        os.path.abspath(args.data_file) if args.data_file is not None else None
    )
    prefs.set_image_set_file(args.image_set_file)
    prefs.set_always_continue(
        args.always_continue if args.always_continue is not None else always_continue,
        globally=False,
    )
    # LoadData caches CSV headers by path; every task writes its CSV at the same path.
    from cellprofiler_core.modules import loaddata

    loaddata.header_cache.clear()
    try:
        return cp_main.run_pipeline_headless(args)
    finally:
        # What cellprofiler does as it exits (stop_cellprofiler), bar stopping Java.
        for reader in ALL_READERS.values():
            reader.clear_cached_readers()


def serve(shared, always_continue):
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        try:
            args = parse(request["argv"])
            if args.plugins_directory != shared.plugins_directory:
                raise ValueError("the runner was started with other plugins")
            code = run(args, always_continue)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:  # noqa: BLE001 - cellprofiler would die of it: exit 1
            traceback.print_exc()
            code = 1
        sys.stderr.flush()
        os.dup2(IDLE_ERR, 1)
        os.dup2(IDLE_ERR, 2)
        REPLY.write(json.dumps({"exit_code": code}) + "\n")
        REPLY.flush()


if __name__ == "__main__":
    Pipeline.post_run = timed_post_runs(Pipeline.post_run)
    shared, always_continue = start(sys.argv[1:])
    serve(shared, always_continue)
