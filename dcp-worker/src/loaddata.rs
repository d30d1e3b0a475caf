//! Load-data files: keep the group's rows of a LoadData CSV and point its image paths at
//! where the source bucket's objects are; the same mapping for `.txt` file lists.

use std::path::{Path, PathBuf};

/// Why a load-data file cannot be used for a group.
#[derive(Debug, thiserror::Error)]
pub enum LoadDataError {
    /// The CSV is malformed.
    #[error("load-data CSV: {0}")]
    Csv(#[from] csv::Error),
    /// A metadata key of the group is not a column.
    #[error("load-data CSV has no column `{0}` to select the group by")]
    NoColumn(String),
    /// No row matches the group.
    #[error("no row of the load-data CSV matches the group {0}")]
    NoRows(String),
}

/// A LoadData CSV reduced to one group's rows.
pub struct GroupRows {
    headers: csv::StringRecord,
    rows: Vec<csv::StringRecord>,
    /// (PathName column, FileName column) index pairs.
    images: Vec<(usize, usize)>,
}

/// Equal as text, or as numbers (LoadData reads `002` as the number 2, so a group
/// `Metadata_Position=2` selects it, as CellProfiler's `-g` does).
fn same_value(cell: &str, wanted: &str) -> bool {
    cell == wanted
        || matches!((cell.parse::<f64>(), wanted.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
}

/// The key under `mount_root` of an absolute path, or `None` when it lies elsewhere.
pub fn key_under_root(path: &str, mount_root: &str) -> Option<String> {
    let root = mount_root.trim_end_matches('/');
    let rest = path.strip_prefix(root)?.strip_prefix('/')?;
    Some(rest.trim_start_matches('/').to_owned())
}

impl GroupRows {
    /// Reads `csv_text` and keeps the rows whose metadata columns equal the group's values.
    pub fn select(csv_text: &[u8], group: &[(String, String)]) -> Result<Self, LoadDataError> {
        let mut reader = csv::Reader::from_reader(csv_text);
        let headers = reader.headers()?.clone();
        let mut columns = Vec::with_capacity(group.len());
        for (key, value) in group {
            let index = headers
                .iter()
                .position(|h| h == key)
                .ok_or_else(|| LoadDataError::NoColumn(key.clone()))?;
            columns.push((index, value.as_str()));
        }
        let mut rows = Vec::new();
        for row in reader.records() {
            let row = row?;
            if columns
                .iter()
                .all(|&(i, v)| row.get(i).is_some_and(|cell| same_value(cell, v)))
            {
                rows.push(row);
            }
        }
        if rows.is_empty() {
            let text: Vec<String> = group.iter().map(|(k, v)| format!("{k}={v}")).collect();
            return Err(LoadDataError::NoRows(text.join(",")));
        }
        let images = image_columns(&headers);
        Ok(GroupRows {
            headers,
            rows,
            images,
        })
    }

    /// The keys, under `mount_root` in the source bucket, of every image the rows name.
    pub fn image_keys(&self, mount_root: &str) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for row in &self.rows {
            for &(path_col, file_col) in &self.images {
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
        writer.write_record(&self.headers)?;
        for row in &self.rows {
            let mut cells: Vec<String> = row.iter().map(str::to_owned).collect();
            for &(path_col, file_col) in &self.images {
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
