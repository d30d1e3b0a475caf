"""Loads a pipeline with a load-data CSV as `cellprofiler -c -r -p PIPELINE --data-file CSV`
does and prints, as one JSON object on stdout, each enabled module's settings CellProfiler
finds invalid: {"invalid": [{"number", "name", "message"}...]}, or {"error": "..."}.

Usage: python validate.py PIPELINE DATA_FILE [PLUGINS_DIRECTORY]

Run by dcp with CellProfiler's own Python: a module that names an image or object no module
before it provides (an image LoadData does not find among the CSV's columns) fails its
settings' test_valid, as CellProfiler's GUI shows it in red.
"""

import sys

sys.path[:] = [p for p in sys.path if p not in ("", ".")]

import json  # noqa: E402
import os  # noqa: E402


def main():
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    pipeline_path, data_file = sys.argv[1], sys.argv[2]
    plugins = sys.argv[3] if len(sys.argv) > 3 else None

    from cellprofiler_core.preferences import (
        set_awt_headless,
        set_data_file,
        set_headless,
        set_plugin_directory,
    )

    set_awt_headless(True)
    set_headless()
    if plugins:
        set_plugin_directory(plugins, globally=False)
    set_data_file(os.path.abspath(data_file))
    import cellprofiler_core.modules  # noqa: F401
    from cellprofiler_core.pipeline import Pipeline
    from cellprofiler_core.setting import ValidationError

    pipeline = Pipeline()
    try:
        pipeline.load(pipeline_path)
    except Exception as error:  # noqa: BLE001 — any failure to load is the answer
        json.dump({"error": str(error) or type(error).__name__}, answer)
        return
    invalid = []
    for module in pipeline.modules():
        if not module.enabled:
            continue
        try:
            module.test_valid(pipeline)
        except ValidationError as error:
            invalid.append(
                {
                    "number": module.module_num,
                    "name": module.module_name,
                    "message": error.message,
                }
            )
    json.dump({"invalid": invalid}, answer)


main()
