"""Loads a CellProfiler pipeline as `cellprofiler -c -r -p PIPELINE` does and prints, as one
JSON object on stdout, what CellProfiler dropped or changed while loading it.

Usage: python probe.py PIPELINE [PLUGINS_DIRECTORY]

Run by dcp with CellProfiler's own Python. CellProfiler's headless load (Pipeline.load,
setup_modules in cellprofiler_core/pipeline/_pipeline.py) reports a module it cannot load
as a LoadException event and, with no listener to say otherwise, stops loading there:
that module and every one after it are lost. A first load does the same and records which
modules were kept; when one failed, a second load goes on past failures to learn each later
module's own reason. Warnings CellProfiler logs while reading a module's settings are kept
with that module.

Answer: {"modules": [{"number", "name", "enabled", "kept", "error", "warnings"}...],
"warnings": [...]} with modules in file order (number from 1), or {"error": "..."} when
the pipeline cannot be loaded at all.
"""

import sys

# Run with -c: no module is imported from the working directory.
sys.path[:] = [p for p in sys.path if p not in ("", ".")]

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402


def main():
    # CellProfiler prints on stdout here and there: only the answer goes there.
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    path = sys.argv[1]
    plugins = sys.argv[2] if len(sys.argv) > 2 else None

    from cellprofiler_core.preferences import (
        set_awt_headless,
        set_headless,
        set_plugin_directory,
    )

    set_awt_headless(True)
    set_headless()
    if plugins:
        set_plugin_directory(plugins, globally=False)
    # Fills CellProfiler's list of modules, plugins included, before anything is recorded.
    import cellprofiler_core.modules  # noqa: F401
    from cellprofiler_core.pipeline import Pipeline
    from cellprofiler_core.pipeline.event import LoadException

    class Probe(Pipeline):
        def __init__(self, keep_going):
            super().__init__()
            self.keep_going = keep_going
            self.entries = []
            self.warnings = []
            self.add_listener(self.on_event)

        def setup_module(self, attribute_string, module_name, *args, **kwargs):
            enabled = re.search(r"\|enabled:(True|False)\b", attribute_string)
            entry = new_entry(module_name, enabled and enabled.group(1) == "True")
            self.entries.append(entry)
            module = super().setup_module(attribute_string, module_name, *args, **kwargs)
            entry["kept"] = True
            entry["folders"] = folders(module)
            entry["file_names"] = file_names(module)
            return module

        def on_event(self, pipeline, event):
            if not isinstance(event, LoadException):
                return
            entry = self.reading()
            if entry is None:
                entry = new_entry(event.module_name, None)
                self.entries.append(entry)
            error = event.error
            entry["error"] = str(error) or type(error).__name__
            if self.keep_going:
                event.cancel_run = False

        def reading(self):
            """The module whose settings are being read, if any."""
            if self.entries and not self.entries[-1]["kept"]:
                if self.entries[-1]["error"] is None:
                    return self.entries[-1]
            return None

    class Warnings(logging.Handler):
        def __init__(self, probe):
            super().__init__(logging.WARNING)
            self.probe = probe

        def emit(self, record):
            if record.levelno >= logging.ERROR and record.getMessage() == "Failed to load pipeline":
                return  # reported as the module's LoadException
            entry = self.probe.reading()
            text = record.getMessage().strip()
            (entry["warnings"] if entry else self.probe.warnings).append(text)

    def load(keep_going):
        probe = Probe(keep_going)
        handler = Warnings(probe)
        logging.getLogger().addHandler(handler)
        try:
            probe.load(path)
        finally:
            logging.getLogger().removeHandler(handler)
        return probe

    try:
        first = load(False)
        modules = first.entries
        if any(entry["error"] is not None for entry in modules):
            modules = load(True).entries
            kept = len([e for e in first.entries if e["kept"]])
            for index, entry in enumerate(modules):
                entry["kept"] = index < kept
        for number, entry in enumerate(modules, 1):
            entry["number"] = number
        result = {"modules": modules, "warnings": first.warnings}
    except Exception as error:  # the pipeline cannot be loaded at all
        result = {"error": "%s: %s" % (type(error).__name__, error)}
    json.dump(result, answer)
    answer.write("\n")
    answer.close()


def new_entry(name, enabled):
    return {
        "name": name,
        "enabled": enabled,
        "kept": False,
        "error": None,
        "warnings": [],
        "folders": [],
        "file_names": [],
    }


def folders(module):
    """The folder settings the module shows (those its other settings leave in use)."""
    from cellprofiler_core.setting.text import Directory

    try:
        settings = module.visible_settings()
    except Exception:
        settings = module.settings()
    return [
        {"setting": s.text, "choice": s.dir_choice, "path": s.custom_path}
        for s in settings
        if isinstance(s, Directory)
    ]


def file_names(module):
    """The text settings the module shows that name (part of) the files it writes: those
    taking metadata tags (SaveImages' file name and suffix, ExportToSpreadsheet's file
    names), and ExportToSpreadsheet's `Filename prefix`."""
    from cellprofiler_core.setting.text import Directory, Text

    try:
        settings = module.visible_settings()
    except Exception:
        settings = module.settings()
    return [
        {"setting": s.text, "value": s.value}
        for s in settings
        if isinstance(s, Text)
        and not isinstance(s, Directory)
        and (getattr(s, "metadata_display", False) or s.text == "Filename prefix")
    ]


main()
