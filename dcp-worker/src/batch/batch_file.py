"""Reads and rewrites a CellProfiler batch file (Batch_data.h5, written by CreateBatchFiles)
for dcp-worker, with CellProfiler's own Measurements. Run with CellProfiler's Python.

    batch_file.py images BATCH GROUP
        GROUP: a JSON list of [key, value] pairs (the task's -g). Prints JSON
        {"group": [[key, value as the batch file records it], ...],
         "images": [{"image_number": N, "feature": "URL_X", "url": URL, "path": PATH}, ...]}
        for every URL the group's image sets record, once per image set: the URL_/ObjectsURL_
        measurements (LoadData loads those) and the planes of NamesAndTypes' image set
        (feature "ImageSet_ImageSet[X]"; NamesAndTypes loads those). PATH is a file: URL's
        path with the batch file's path mappings applied (what Measurements.
        alter_url_post_create_batch means to do), or the URL itself for any other scheme.

    batch_file.py rewrite BATCH COPY PLACES CSV
        PLACES: a JSON file, a list of [image_number, recorded URL, local path]. Writes COPY:
        BATCH with those URLs of those image sets (and the matching PathName_/FileName_)
        pointing at the local files, and no path mappings left to apply to them. When the
        pipeline loads its images with LoadData, which reads its CSV's header even in batch
        mode, also writes CSV: the image sets of PLACES as LoadData rows. Prints
        {"data_file": CSV or null}.

    batch_file.py groups BATCH GROUPS
        GROUPS: a JSON file, a list of groups as `images` takes them. Prints
        {"groups": [REPLY, ...]}, one REPLY per group in order: what `images` prints for it,
        or {"refused": REASON} when the batch file cannot serve that group. For checking a
        job's groups at once (dcp-fleet check).

Exit 2, printing {"refused": REASON}, when the file is not a usable batch file for the group
(for `groups`: not a usable batch file at all).
"""

import ast
import collections
import csv
import json
import os
import pathlib
import pickle
import shutil
import sys
import urllib.parse
import urllib.request
import zlib

# CellProfiler's names (cellprofiler_core.constants.measurement and .pipeline).
EXPERIMENT, IMAGE = "Experiment", "Image"
M_PIPELINE, M_PATH_MAPPINGS = "Pipeline_Pipeline", "Path_Mappings"
# NamesAndTypes' image sets: pickled, zlib-compressed with a dictionary (namesandtypes.py).
M_IMAGE_SET, M_IMAGE_SET_ZIP_DICTIONARY = "ImageSet_ImageSet", "ImageSet_Zip_Dictionary"
# URL feature prefix -> (PathName prefix, FileName prefix)
URL_FAMILIES = {
    "URL_": ("PathName_", "FileName_"),
    "ObjectsURL_": ("ObjectsPathName_", "ObjectsFileName_"),
}


# The reply goes to the real stdout; whatever CellProfiler's packages print goes to stderr.
REPLY, sys.stdout = sys.stdout, sys.stderr


class Refused(Exception):
    """The batch file cannot serve the request; the reason, for the reply."""


def refuse(reason):
    raise Refused(reason)


def open_batch(path, mode):
    import h5py

    if not h5py.is_hdf5(path):
        refuse("not an HDF5 file, so not a CellProfiler batch file")
    from cellprofiler_core.measurement import Measurements

    try:
        m = Measurements(filename=path, mode=mode)
    except Exception as e:  # noqa: BLE001 - any failure means "not measurements"
        refuse(f"not a CellProfiler measurements file ({e})")
    if not m.has_feature(EXPERIMENT, M_PIPELINE):
        refuse("holds no pipeline, so it was not written by CreateBatchFiles")
    if not in_batch_mode(m.get_experiment_measurement(M_PIPELINE)):
        refuse(
            "its pipeline has no CreateBatchFiles module in batch mode: it is a measurements "
            "file, not a batch file (CellProfiler would not run its image sets)"
        )
    return m


def enabled_modules(pipeline_text, name):
    """The setting lines of each enabled module `name` in a pipeline's text, found without
    importing every module (as loading the pipeline would)."""
    found, module = [], None
    for line in pipeline_text.splitlines():
        if line and not line[0].isspace():
            module = None
            if line.startswith(name + ":[") and "enabled:True" in line:
                module = []
                found.append(module)
        elif module is not None and line.strip():
            module.append(line.strip())
    return found


def in_batch_mode(pipeline_text):
    """An enabled CreateBatchFiles with `Hidden- in batch mode:Yes`: Pipeline.in_batch_mode."""
    return any(
        "Hidden- in batch mode:Yes" in settings
        for settings in enabled_modules(pipeline_text, "CreateBatchFiles")
    )


def same_value(given, recorded):
    """The task's text and the recorded value name the same value: equal, or equal numbers
    (a group `Metadata_Position=002` and the 2 LoadData recorded)."""
    if given == recorded:
        return True
    try:
        a, b = float(given), float(recorded)
    except ValueError:
        return False
    return a == b and a - a == 0


def quoted(pairs):
    return ",".join(f"{k}={v!r}" for k, v in pairs)


def group_image_numbers(m, pairs):
    """The recorded group matching the task's pairs, as CellProfiler's -g compares them
    (Pipeline.run: the grouping dict equals the -g dict, values as str)."""
    tags = m.get_grouping_tags_only()
    if not tags:
        refuse(
            "its pipeline does not group the image sets (no Metadata_GroupingTags), so no "
            "group can select image sets: group them by metadata (Groups or LoadData) "
            "before CreateBatchFiles"
        )
    given = dict(pairs)
    if set(given) != set(tags):
        refuse(
            f"the batch file groups by {','.join(tags)}; the task's group names "
            f"{','.join(given)}"
        )
    groupings = m.get_groupings(tags)
    found = [g for g in groupings if g[0] == given]
    if not found:
        found = [g for g in groupings if all(same_value(given[k], g[0][k]) for k in tags)]
    if not found:
        known = "; ".join(quoted(g[0].items()) for g in groupings[:5])
        more = f" and {len(groupings) - 5} more" if len(groupings) > 5 else ""
        refuse(f"no image set has {quoted(pairs)}; its groups are {known}{more}")
    if len(found) > 1:
        refuse(
            f"{quoted(pairs)} matches {len(found)} groups: "
            + "; ".join(quoted(g[0].items()) for g in found)
        )
    recorded, numbers = found[0]
    return [[k, recorded[k]] for k, _ in pairs], [int(n) for n in numbers]


def mapped_path(m, url):
    """A file: URL's path with the recorded CreateBatchFiles path mappings applied; any other
    URL as it is."""
    if not url.lower().startswith("file:"):
        return url
    path = urllib.request.url2pathname(urllib.parse.urlparse(url).path)
    if not m.has_feature(EXPERIMENT, M_PATH_MAPPINGS):
        return path
    d = json.loads(m.get_experiment_measurement(M_PATH_MAPPINGS))
    separator = d.get("LocalSeparator", "/")
    if separator != "/":
        path = path.replace(separator, "/")
    case_sensitive = d.get("CaseSensitive", True)
    for local, remote in d.get("PathMappings", []):
        if not local:
            continue
        head = path[: len(local)]
        matches = head == local if case_sensitive else head.lower() == local.lower()
        if matches:
            path = remote + path[len(local):]
    return path


def url_features(m):
    return [
        f
        for f in m.get_feature_names(IMAGE)
        if any(f.startswith(prefix) for prefix in URL_FAMILIES)
    ]


def text(value):
    return value.decode() if isinstance(value, bytes) else value


def image_set(m, n):
    """NamesAndTypes' image set n (name -> ImagePlane), as NamesAndTypes.get_imageset
    decodes it; None when the batch file has none (LoadData)."""
    if not m.has_feature(IMAGE, M_IMAGE_SET):
        return None
    # HDF5Dict returns stored bytes as their repr; NamesAndTypes reads them the same way.
    zdict = ast.literal_eval(text(m[EXPERIMENT, M_IMAGE_SET_ZIP_DICTIONARY]))
    blob = ast.literal_eval(text(m.get_measurement(IMAGE, M_IMAGE_SET, image_set_number=n)))
    return pickle.loads(zlib.decompressobj(zdict=zdict).decompress(blob))


def store_image_set(m, n, planes):
    """Compresses image set n as NamesAndTypes.compress_imagesets does, with the recorded
    dictionary."""
    zdict = ast.literal_eval(text(m[EXPERIMENT, M_IMAGE_SET_ZIP_DICTIONARY]))
    compressor = zlib.compressobj(zdict=zdict)
    blob = compressor.compress(pickle.dumps(planes)) + compressor.flush()
    m.add_measurement(IMAGE, M_IMAGE_SET, blob, image_set_number=n)


def recorded_urls(m, n, features):
    """(feature, URL) of every image image set n records, each URL once."""
    seen = set()
    found = [(f, text(m.get_measurement(IMAGE, f, image_set_number=n))) for f in features]
    planes = image_set(m, n) or {}
    found += [(f"{M_IMAGE_SET}[{name}]", plane.url) for name, plane in planes.items()]
    for feature, url in found:
        if url and url not in seen:
            seen.add(url)
            yield feature, url


def group_images(m, pairs, features):
    group, numbers = group_image_numbers(m, pairs)
    found = [
        {"image_number": n, "feature": feature, "url": url, "path": mapped_path(m, url)}
        for n in numbers
        for feature, url in recorded_urls(m, n, features)
    ]
    return {"group": group, "images": found}


def images(batch, group_json):
    m = open_batch(batch, "r")
    reply = group_images(m, json.loads(group_json), url_features(m))
    m.close()
    json.dump(reply, REPLY)


def groups(batch, groups_file):
    m = open_batch(batch, "r")
    features = url_features(m)
    replies = []
    for pairs in json.loads(pathlib.Path(groups_file).read_text()):
        try:
            replies.append(group_images(m, pairs, features))
        except Refused as e:
            replies.append({"refused": str(e)})
    m.close()
    json.dump({"groups": replies}, REPLY)


def write_load_data(m, numbers, to):
    """LoadData rows of the image sets `numbers`: the measurements LoadData makes from its CSV
    columns (not ImageNumber or Group_*, and URL_ only where no PathName_/FileName_ pair
    names the same file, as LoadData adds it)."""
    features = m.get_feature_names(IMAGE)
    columns = []
    for f in features:
        if f == "ImageNumber" or f.startswith("Group_"):
            continue
        prefix = next((p for p in URL_FAMILIES if f.startswith(p)), None)
        if prefix:
            path_prefix, file_prefix = URL_FAMILIES[prefix]
            name = f[len(prefix):]
            if path_prefix + name in features and file_prefix + name in features:
                continue
        columns.append(f)
    with open(to, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for n in numbers:
            row = []
            for f in columns:
                value = m.get_measurement(IMAGE, f, image_set_number=n)
                row.append(value.decode() if isinstance(value, bytes) else value)
            writer.writerow(row)


def rewrite(batch, copy, places_file, csv_file):
    with open(places_file) as f:
        places = json.load(f)
    shutil.copyfile(batch, copy)
    m = open_batch(copy, "r+")
    by_set = collections.defaultdict(dict)
    for n, url, local in places:
        by_set[n][url] = local
    features = url_features(m)
    for n, locals_ in by_set.items():
        for feature in features:
            local = locals_.get(text(m.get_measurement(IMAGE, feature, image_set_number=n)))
            if local is None:
                continue
            prefix = next(p for p in URL_FAMILIES if feature.startswith(p))
            name = feature[len(prefix):]
            path_prefix, file_prefix = URL_FAMILIES[prefix]
            folder, file_name = os.path.split(local)
            for f, value in (
                (feature, pathlib.Path(local).as_uri()),
                (path_prefix + name, folder),
                (file_prefix + name, file_name),
            ):
                if f == feature or m.has_feature(IMAGE, f):
                    m.add_measurement(IMAGE, f, value, image_set_number=n)
        planes = image_set(m, n)
        if planes:
            for plane in planes.values():
                local = locals_.get(plane.url)
                if local is not None:
                    # An ImagePlane's pickled state is its metadata, URL included.
                    state = plane.__getstate__()
                    state["URL"] = pathlib.Path(local).as_uri()
                    plane.__setstate__(state)
            store_image_set(m, n, planes)
    # The URLs are final: the recorded mappings must not move them again at run time.
    m.write_path_mappings([])
    data_file = None
    if enabled_modules(m.get_experiment_measurement(M_PIPELINE), "LoadData"):
        write_load_data(m, sorted(by_set), csv_file)
        data_file = csv_file
    m.close()
    json.dump({"data_file": data_file}, REPLY)


if __name__ == "__main__":
    commands = {"images": (images, 2), "rewrite": (rewrite, 4), "groups": (groups, 2)}
    command = commands.get(sys.argv[1] if len(sys.argv) > 1 else "")
    if command is None or len(sys.argv) != command[1] + 2:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    try:
        command[0](*sys.argv[2:])
    except Refused as e:
        json.dump({"refused": str(e)}, REPLY)
        sys.exit(2)
