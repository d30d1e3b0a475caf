//! The columns CellProfiler's LoadData finds in a load-data header: each image or object
//! channel's URL or PathName/FileName columns, and the well it makes of a well row and a
//! well column (`cellprofiler_core/modules/loaddata.py`, `prepare_run`).

use super::python;

/// Where CellProfiler's LoadData reads one image (or object) channel's file from, by
/// column index (`cellprofiler_core/modules/loaddata.py`, `prepare_run`: a `URL_X`
/// column wins; otherwise `PathName_X` joined with `FileName_X`).
#[derive(Clone, Copy, Debug)]
pub(super) enum Channel {
    /// `URL_X` or `ObjectsURL_X`.
    Url(usize),
    /// `PathName_X`/`FileName_X` or `ObjectsPathName_X`/`ObjectsFileName_X`; without a
    /// PathName column, LoadData joins the file name to its own image folder.
    Path {
        /// The PathName column, if any.
        path: Option<usize>,
        /// The FileName column.
        file: usize,
    },
}

/// A header as LoadData names its column: `Image_PathName_X` is `PathName_X`
/// (`header_to_column`).
fn header_to_column(header: &str) -> &str {
    for name in [
        "PathName",
        "FileName",
        "URL",
        "ObjectsFileName",
        "ObjectsPathName",
        "ObjectsURL",
    ] {
        if let Some(rest) = header.strip_prefix("Image_")
            && rest.starts_with(name)
            && rest[name.len()..].starts_with('_')
        {
            return rest;
        }
    }
    header
}

/// The well row and well column of a header without a well column: LoadData
/// (`prepare_run`) then adds `Metadata_Well`, each row's well row text followed by its well
/// column text (`A` and `01` make `A01`).
pub(super) fn synthetic_well(headers: &csv::StringRecord) -> Option<(usize, usize)> {
    let (mut well, mut row, mut column) = (false, None, None);
    for (i, header) in headers.iter().enumerate() {
        let Some(feature) = header_to_column(header).strip_prefix("Metadata_") else {
            continue;
        };
        if feature.eq_ignore_ascii_case("Well") {
            well = true;
        } else if python::is_well_row_token(feature) {
            row = Some(i);
        } else if python::is_well_column_token(feature) {
            column = Some(i);
        }
    }
    (!well).then_some((row?, column?))
}

/// A channel's name and whether it holds objects.
type ChannelName<'a> = (bool, &'a str);

/// A channel's URL, FileName and PathName columns, as far as the header has them.
type ChannelColumns = [Option<usize>; 3];

/// The image and object channels of a header, as LoadData finds them.
pub(super) fn channels(headers: &csv::StringRecord) -> Vec<Channel> {
    let mut found: Vec<(ChannelName<'_>, ChannelColumns)> = Vec::new();
    for (i, header) in headers.iter().enumerate() {
        let Some((category, name)) = header_to_column(header).split_once('_') else {
            continue;
        };
        let (objects, slot) = match category {
            "URL" => (false, 0),
            "FileName" => (false, 1),
            "PathName" => (false, 2),
            "ObjectsURL" => (true, 0),
            "ObjectsFileName" => (true, 1),
            "ObjectsPathName" => (true, 2),
            _ => continue,
        };
        let at = match found.iter().position(|(k, _)| *k == (objects, name)) {
            Some(at) => at,
            None => {
                found.push(((objects, name), [None; 3]));
                found.len() - 1
            }
        };
        found[at].1[slot] = Some(i);
    }
    found
        .into_iter()
        .filter_map(|(_, [url, file, path])| match (url, file) {
            (Some(url), _) => Some(Channel::Url(url)),
            (None, Some(file)) => Some(Channel::Path { path, file }),
            (None, None) => None,
        })
        .collect()
}
