//! Load-data files, as dcp-worker fetches by them and `dcp-fleet check` checks them: find
//! a group's rows of a LoadData CSV as CellProfiler will, map the images they name to
//! objects of the run's buckets, and write the CSV back whole with those images at their
//! fetched paths; the same mapping for `.txt` file lists.

mod group;
mod header;
mod location;
mod python;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

pub use group::GroupRows;
use header::{Channel, channels, synthetic_well};
pub use location::{Buckets, Object, percent_decode};

/// Why a load-data file cannot be used for a group. Values are quoted with backticks so
/// that spaces show.
#[derive(Debug, thiserror::Error)]
pub enum LoadDataError {
    /// The CSV is malformed.
    #[error("load-data CSV: {0}")]
    Csv(#[from] csv::Error),
    /// A row has fewer cells than the header.
    #[error(
        "line {line}: has {cells} cells, but the header has {expected} (CellProfiler's \
         LoadData refuses such a row)"
    )]
    ShortRow {
        /// The 1-based line of the CSV.
        line: u64,
        /// The row's cells.
        cells: usize,
        /// The header's cells.
        expected: usize,
    },
    /// A metadata key of the group is not a column.
    #[error("load-data CSV has no column `{0}` to select the group by")]
    NoColumn(String),
    /// The CSV cannot be read.
    #[error("{0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// No row matches the group.
    #[error("no row of the load-data CSV matches the group: {0}")]
    NoRows(String),
    /// A value matches rows that CellProfiler puts in different groups.
    #[error(
        "`{value}` of `{key}` matches rows CellProfiler groups apart ({}); give the value as \
         the CSV writes it",
        quoted(.candidates)
    )]
    Ambiguous {
        /// The metadata key.
        key: String,
        /// The group's value.
        value: String,
        /// The values CellProfiler compares, of the rows matched.
        candidates: Vec<String>,
    },
    /// The value CellProfiler compares cannot be written in its `-g` argument.
    #[error(
        "CellProfiler reads `{key}` of the group's rows as `{value}`, which holds ',' or '=' \
         and cannot be given to its -g argument"
    )]
    GroupArgument {
        /// The metadata key.
        key: String,
        /// The value CellProfiler compares.
        value: String,
    },
    /// A cell of a group row names a file the run may not read.
    #[error("line {line}: {column}: `{cell}` {reason}")]
    Refused {
        /// The 1-based line of the CSV or file list.
        line: u64,
        /// The column (or `file list`).
        column: String,
        /// The cell or line.
        cell: String,
        /// Why.
        reason: String,
    },
}

fn quoted(values: &[String]) -> String {
    let list: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
    list.join(", ")
}

/// A parsed LoadData CSV.
pub struct LoadData {
    headers: csv::StringRecord,
    rows: Vec<csv::StringRecord>,
    channels: Vec<Channel>,
    /// The well row and well column CellProfiler joins into a synthetic `Metadata_Well`.
    synthetic_well: Option<(usize, usize)>,
    /// Indexes of the metadata columns groups were selected by, built on first use.
    indexes: Mutex<HashMap<usize, Arc<group::ColumnIndex>>>,
}

impl LoadData {
    /// Parses a LoadData CSV. As LoadData does (`prepare_run`), the cells of a row past
    /// the header's are dropped (an Excel export's trailing comma), and a row with fewer is
    /// refused.
    pub fn parse(csv_text: &[u8]) -> Result<Self, LoadDataError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(csv_text);
        let headers = reader.headers()?.clone();
        let mut rows = Vec::new();
        for record in reader.records() {
            let mut record = record?;
            crate::text::at_its_line(&mut record, csv_text);
            if record.len() < headers.len() {
                return Err(LoadDataError::ShortRow {
                    line: record.position().map_or(0, |p| p.line()),
                    cells: record.len(),
                    expected: headers.len(),
                });
            }
            record.truncate(headers.len());
            rows.push(record);
        }
        let channels = channels(&headers);
        Ok(LoadData {
            indexes: Mutex::default(),
            synthetic_well: synthetic_well(&headers),
            headers,
            rows,
            channels,
        })
    }

    /// The number of rows (image sets).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the CSV has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// The last LoadData CSV a worker parsed, kept while its file is unchanged: the tasks of a
/// plate share one CSV, which need not be parsed again for each of them.
#[derive(Default)]
pub struct LoadDataCache {
    last: Mutex<Option<Parsed>>,
}

/// A parsed file and what it was parsed from.
struct Parsed {
    path: PathBuf,
    stamp: (SystemTime, u64),
    data: Arc<LoadData>,
}

impl LoadDataCache {
    /// The parsed CSV at `path`, from the cache when the file is unchanged.
    pub fn get(&self, path: &Path) -> Result<Arc<LoadData>, LoadDataError> {
        let meta = std::fs::metadata(path).map_err(|e| LoadDataError::Read(path.to_owned(), e))?;
        let stamp = (
            meta.modified()
                .map_err(|e| LoadDataError::Read(path.to_owned(), e))?,
            meta.len(),
        );
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(parsed) = last.as_ref()
            && parsed.path == path
            && parsed.stamp == stamp
        {
            return Ok(Arc::clone(&parsed.data));
        }
        let text = std::fs::read(path).map_err(|e| LoadDataError::Read(path.to_owned(), e))?;
        let data = Arc::new(LoadData::parse(&text)?);
        *last = Some(Parsed {
            path: path.to_owned(),
            stamp,
            data: Arc::clone(&data),
        });
        Ok(data)
    }
}

/// The object of each non-empty line of a `.txt` file list (CellProfiler's
/// `read_file_list`: one path or URL per line, stripped), by the rules of
/// [`Buckets::locate`]; a line naming a file outside the run's buckets is refused. A
/// leading byte-order mark is dropped, as the CSV reader drops it.
pub fn file_list_objects(text: &str, buckets: &Buckets<'_>) -> Result<Vec<Object>, LoadDataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut objects = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let object = buckets
            .locate(line)
            .map_err(|reason| LoadDataError::Refused {
                line: n as u64 + 1,
                column: "file list".into(),
                cell: line.to_owned(),
                reason,
            })?;
        objects.push(object);
    }
    Ok(objects)
}

/// A file list of the fetched paths of `objects`, one per line.
pub fn write_file_list(objects: &[Object], located: &HashMap<Object, PathBuf>) -> String {
    let mut out = String::new();
    for object in objects {
        out.push_str(&located[object].to_string_lossy());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
