//! Load-data files: keep the group's rows of a LoadData CSV and point its image paths at
//! where the source bucket's objects are; the same mapping for `.txt` file lists.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Why a load-data file cannot be used for a group.
#[derive(Debug, thiserror::Error)]
pub enum LoadDataError {
    /// The CSV is malformed.
    #[error("load-data CSV: {0}")]
    Csv(#[from] csv::Error),
    /// A metadata key of the group is not a column.
    #[error("load-data CSV has no column `{0}` to select the group by")]
    NoColumn(String),
    /// The CSV cannot be read.
    #[error("{0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// No row matches the group.
    #[error("no row of the load-data CSV matches the group {0}")]
    NoRows(String),
}

/// A cell as LoadData compares it: as a number when it reads as one (`002` is 2, so a
/// group `Metadata_Position=2` selects it, as CellProfiler's `-g` does), else as text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum CellKey {
    Number(u64),
    Text(String),
}

impl CellKey {
    fn of(cell: &str) -> Self {
        match cell.parse::<f64>() {
            Ok(n) if n.is_finite() => CellKey::Number((n + 0.0).to_bits()),
            _ => CellKey::Text(cell.to_owned()),
        }
    }
}

/// Rows by their value in one column.
type ColumnIndex = HashMap<CellKey, Vec<usize>>;

/// The key under `mount_root` of an absolute path, or `None` when it lies elsewhere.
pub fn key_under_root(path: &str, mount_root: &str) -> Option<String> {
    let root = mount_root.trim_end_matches('/');
    let rest = path.strip_prefix(root)?.strip_prefix('/')?;
    Some(rest.trim_start_matches('/').to_owned())
}

/// A parsed LoadData CSV.
pub struct LoadData {
    headers: csv::StringRecord,
    rows: Vec<csv::StringRecord>,
    /// (PathName column, FileName column) index pairs.
    images: Vec<(usize, usize)>,
    /// Indexes of the metadata columns groups were selected by, built on first use.
    indexes: Mutex<HashMap<usize, Arc<ColumnIndex>>>,
}

/// The rows of a [`LoadData`] CSV that belong to one group.
pub struct GroupRows<'a> {
    data: &'a LoadData,
    rows: Vec<usize>,
}

impl LoadData {
    /// Parses a LoadData CSV.
    pub fn parse(csv_text: &[u8]) -> Result<Self, LoadDataError> {
        let mut reader = csv::Reader::from_reader(csv_text);
        let headers = reader.headers()?.clone();
        let rows = reader.records().collect::<Result<_, _>>()?;
        let images = image_columns(&headers);
        Ok(LoadData {
            indexes: Mutex::default(),
            headers,
            rows,
            images,
        })
    }

    /// The index of a column: its rows by value, in row order.
    fn index(&self, column: usize) -> Arc<ColumnIndex> {
        let mut indexes = self.indexes.lock().unwrap_or_else(|e| e.into_inner());
        let index = indexes.entry(column).or_insert_with(|| {
            let mut index = ColumnIndex::new();
            for (r, row) in self.rows.iter().enumerate() {
                index
                    .entry(CellKey::of(row.get(column).unwrap_or("")))
                    .or_default()
                    .push(r);
            }
            Arc::new(index)
        });
        Arc::clone(index)
    }

    /// The rows whose metadata columns equal the group's values.
    pub fn select(&self, group: &[(String, String)]) -> Result<GroupRows<'_>, LoadDataError> {
        let mut columns = Vec::with_capacity(group.len());
        for (key, value) in group {
            let index = self
                .headers
                .iter()
                .position(|h| h == key)
                .ok_or_else(|| LoadDataError::NoColumn(key.clone()))?;
            columns.push((index, value.as_str()));
        }
        let mut rows: Option<Vec<usize>> = None;
        for (column, value) in columns {
            let index = self.index(column);
            let matching = index
                .get(&CellKey::of(value))
                .map_or(&[][..], Vec::as_slice);
            rows = Some(match rows {
                None => matching.to_vec(),
                Some(kept) => kept
                    .into_iter()
                    .filter(|r| matching.binary_search(r).is_ok())
                    .collect(),
            });
        }
        let rows = rows.unwrap_or_default();
        if rows.is_empty() {
            let text: Vec<String> = group.iter().map(|(k, v)| format!("{k}={v}")).collect();
            return Err(LoadDataError::NoRows(text.join(",")));
        }
        Ok(GroupRows { data: self, rows })
    }
}

impl GroupRows<'_> {
    fn records(&self) -> impl Iterator<Item = &csv::StringRecord> {
        self.rows.iter().map(|&r| &self.data.rows[r])
    }

    /// The keys, under `mount_root` in the source bucket, of every image the rows name.
    pub fn image_keys(&self, mount_root: &str) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for row in self.records() {
            for &(path_col, file_col) in &self.data.images {
                let full = join(&row[path_col], &row[file_col]);
                if let Some(key) = key_under_root(&full, mount_root)
                    && seen.insert(key.clone())
                {
                    keys.push(key);
                }
            }
        }
        keys
    }

    /// Writes the rows as CSV with every PathName under `mount_root` replaced by the folder
    /// `locate` gives for the image's key.
    pub fn write(
        &self,
        to: &Path,
        mount_root: &str,
        locate: impl Fn(&str) -> Option<PathBuf>,
    ) -> std::io::Result<()> {
        let mut writer = csv::Writer::from_path(to)?;
        writer.write_record(&self.data.headers)?;
        for row in self.records() {
            let mut cells: Vec<String> = row.iter().map(str::to_owned).collect();
            for &(path_col, file_col) in &self.data.images {
                let full = join(&row[path_col], &row[file_col]);
                let folder = key_under_root(&full, mount_root)
                    .and_then(|key| locate(&key))
                    .and_then(|p| p.parent().map(Path::to_owned));
                if let Some(folder) = folder {
                    cells[path_col] = folder.to_string_lossy().into_owned();
                }
            }
            writer.write_record(&cells)?;
        }
        writer.flush()
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

fn join(folder: &str, file: &str) -> String {
    format!("{}/{}", folder.trim_end_matches('/'), file)
}

/// PathName_X / FileName_X column pairs (also ObjectsPathName_X / ObjectsFileName_X).
fn image_columns(headers: &csv::StringRecord) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for (i, header) in headers.iter().enumerate() {
        for (path_prefix, file_prefix) in [
            ("PathName_", "FileName_"),
            ("ObjectsPathName_", "ObjectsFileName_"),
        ] {
            if let Some(channel) = header.strip_prefix(path_prefix) {
                let file = format!("{file_prefix}{channel}");
                if let Some(j) = headers.iter().position(|h| h == file) {
                    pairs.push((i, j));
                }
            }
        }
    }
    pairs
}

/// The keys of a `.txt` file list's lines under `mount_root`, and the list rewritten with
/// `locate`'s paths (lines elsewhere are kept as they are).
pub fn map_file_list(
    text: &str,
    mount_root: &str,
    locate: impl Fn(&str) -> Option<PathBuf>,
) -> (Vec<String>, String) {
    let mut keys = Vec::new();
    let mut out = String::with_capacity(text.len());
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match key_under_root(line, mount_root) {
            Some(key) => {
                let local =
                    locate(&key).map_or(line.to_owned(), |p| p.to_string_lossy().into_owned());
                keys.push(key);
                out.push_str(&local);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    (keys, out)
}

#[cfg(test)]
mod tests;
