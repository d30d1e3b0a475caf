//! A group's rows of a LoadData CSV, selected as CellProfiler's `-g` selects them, and the
//! CSV written back whole with the group's images at their fetched paths.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::location::{Buckets, Object, file_url};
use super::python::{ColumnType, column_type, compared_text, python_float};
use super::{Channel, LoadData, LoadDataError};

/// A value compared loosely: as a number when it reads as one (`002` and `2.0` are 2),
/// else as its text without surrounding whitespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Loose {
    Number(u64),
    Text(String),
}

impl Loose {
    fn of(value: &str) -> Self {
        match python_float(value) {
            Some(n) if n.is_finite() => Loose::Number((n + 0.0).to_bits()),
            _ => Loose::Text(value.trim().to_owned()),
        }
    }
}

/// One metadata column's rows by the text CellProfiler compares for them.
pub(super) struct ColumnIndex {
    column_type: ColumnType,
    /// Compared text → rows, in row order.
    rows: HashMap<String, Vec<usize>>,
    /// Loose value → the distinct compared texts with it.
    loose: HashMap<Loose, Vec<String>>,
}

impl ColumnIndex {
    fn build(data: &LoadData, column: usize) -> Self {
        let cells = || (0..data.rows.len()).map(|r| data.cell(r, column));
        let column_type = match data.headers.get(column) {
            Some(header) => column_type(
                header,
                data.rows.iter().map(|r| r.get(column).unwrap_or("")),
            ),
            // The synthetic well is text (`get_measurement_columns`).
            None => ColumnType::Text,
        };
        let mut rows: HashMap<String, Vec<usize>> = HashMap::new();
        for (r, cell) in cells().enumerate() {
            rows.entry(compared_text(column_type, &cell))
                .or_default()
                .push(r);
        }
        let mut loose: HashMap<Loose, Vec<String>> = HashMap::new();
        for text in rows.keys() {
            loose.entry(Loose::of(text)).or_default().push(text.clone());
        }
        for texts in loose.values_mut() {
            texts.sort();
        }
        ColumnIndex {
            column_type,
            rows,
            loose,
        }
    }

    /// The text CellProfiler compares that `value` stands for: the same text, else the
    /// one text equal to it as a number or without surrounding whitespace.
    fn compared(&self, key: &str, value: &str) -> Result<Option<&str>, LoadDataError> {
        if let Some((text, _)) = self.rows.get_key_value(value) {
            return Ok(Some(text));
        }
        match self.loose.get(&Loose::of(value)).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([one]) => Ok(Some(one)),
            Some(many) => Err(LoadDataError::Ambiguous {
                key: key.to_owned(),
                value: value.to_owned(),
                candidates: many.to_vec(),
            }),
        }
    }
}

/// The rows of a [`LoadData`] CSV that belong to one group.
pub struct GroupRows<'a> {
    data: &'a LoadData,
    rows: Vec<usize>,
    argument: String,
}

impl LoadData {
    /// The cell of `row` in `column`; the column past the header's last is the synthetic
    /// `Metadata_Well`.
    fn cell(&self, row: usize, column: usize) -> std::borrow::Cow<'_, str> {
        let record = &self.rows[row];
        match self.synthetic_well {
            Some((well_row, well_column)) if column == self.headers.len() => format!(
                "{}{}",
                record.get(well_row).unwrap_or(""),
                record.get(well_column).unwrap_or("")
            )
            .into(),
            _ => record.get(column).unwrap_or("").into(),
        }
    }

    /// The column of a group key: a header, or the synthetic `Metadata_Well` LoadData
    /// makes from a well row and a well column (the column past the header's last).
    fn column(&self, key: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == key).or_else(|| {
            (key == "Metadata_Well" && self.synthetic_well.is_some()).then_some(self.headers.len())
        })
    }

    /// The index of a column, built on first use.
    fn index(&self, column: usize) -> Arc<ColumnIndex> {
        let mut indexes = self.indexes.lock().unwrap_or_else(|e| e.into_inner());
        let index = indexes
            .entry(column)
            .or_insert_with(|| Arc::new(ColumnIndex::build(self, column)));
        Arc::clone(index)
    }

    /// The rows CellProfiler's `-g` runs for the group: for each key, the rows whose value
    /// CellProfiler compares equal to the group's, or, when none is, equal to it as a
    /// number (`2` for `002` in a text column) or without surrounding whitespace, provided
    /// that loose match is one value to CellProfiler.
    pub fn select(&self, group: &[(String, String)]) -> Result<GroupRows<'_>, LoadDataError> {
        let mut rows: Option<Vec<usize>> = None;
        let mut argument = Vec::with_capacity(group.len());
        for (key, value) in group {
            let column = self
                .column(key)
                .ok_or_else(|| LoadDataError::NoColumn(key.clone()))?;
            let index = self.index(column);
            let Some(text) = index.compared(key, value)? else {
                return Err(LoadDataError::NoRows(no_match(key, value, &index)));
            };
            if text.contains([',', '=']) {
                return Err(LoadDataError::GroupArgument {
                    key: key.clone(),
                    value: text.to_owned(),
                });
            }
            argument.push((key.clone(), text.to_owned()));
            let matching = &index.rows[text];
            rows = Some(match rows {
                None => matching.clone(),
                Some(kept) => kept
                    .into_iter()
                    .filter(|r| matching.binary_search(r).is_ok())
                    .collect(),
            });
        }
        let rows = rows.unwrap_or_default();
        if rows.is_empty() {
            let text: Vec<String> = group.iter().map(|(k, v)| format!("`{k}={v}`")).collect();
            return Err(LoadDataError::NoRows(format!(
                "no row has all of {}",
                text.join(", ")
            )));
        }
        Ok(GroupRows {
            data: self,
            rows,
            argument: crate::metadata::join_pairs(&argument),
        })
    }
}

/// Why no row has `value` in the column of `key`.
fn no_match(key: &str, value: &str, index: &ColumnIndex) -> String {
    let how = match index.column_type {
        ColumnType::Integer => "integers",
        ColumnType::Float => "numbers",
        ColumnType::Text => "text (not every value is a number)",
    };
    format!("no row has `{key}` = `{value}` (CellProfiler reads the column as {how})")
}

impl GroupRows<'_> {
    /// CellProfiler's `-g` argument for the group: each key with the text CellProfiler
    /// compares for the group's rows (`Metadata_Position=2` for a group `=002`).
    pub fn argument(&self) -> &str {
        &self.argument
    }

    /// The number of rows (image sets) in the group.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the group has no rows (never, once selected).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// What LoadData measures as `feature` (`Metadata_Plate`) for each of the group's rows,
    /// with the row's 1-based CSV line: `str()` of the measurement, as CellProfiler puts it
    /// in a metadata tag (`2` for `002` in a column of integers). `None` when the CSV has no
    /// such column.
    pub fn measured(&self, feature: &str) -> Option<Vec<(u64, String)>> {
        let column = self.data.column(feature)?;
        let column_type = self.data.index(column).column_type;
        let values = self.rows.iter().map(|&r| {
            let line = self.data.rows[r].position().map_or(0, |p| p.line());
            (line, compared_text(column_type, &self.data.cell(r, column)))
        });
        Some(values.collect())
    }

    /// The path or URL CellProfiler reads for `channel` of `row`, and the column it is in.
    fn source(&self, row: usize, channel: Channel) -> (String, usize) {
        let record = &self.data.rows[row];
        let cell = |c: usize| record.get(c).unwrap_or("");
        match channel {
            Channel::Url(url) => (cell(url).to_owned(), url),
            Channel::Path { path, file } => {
                let name = cell(file);
                let full = match path {
                    _ if name.starts_with('/') => name.to_owned(),
                    Some(path) if !cell(path).is_empty() => {
                        format!("{}/{name}", cell(path).trim_end_matches('/'))
                    }
                    _ => name.to_owned(),
                };
                (full, path.unwrap_or(file))
            }
        }
    }

    /// The objects the group's rows load, each once, in row order; a row naming a file
    /// outside the run's buckets is refused with its line and column.
    pub fn objects(&self, buckets: &Buckets<'_>) -> Result<Vec<Object>, LoadDataError> {
        let mut objects = Vec::new();
        let mut seen = HashSet::new();
        for &row in &self.rows {
            for &channel in &self.data.channels {
                let (source, column) = self.source(row, channel);
                let object = buckets
                    .locate(&source)
                    .map_err(|reason| LoadDataError::Refused {
                        line: self.data.rows[row].position().map_or(0, |p| p.line()),
                        column: self.data.headers[column].to_owned(),
                        cell: source.clone(),
                        reason,
                    })?;
                if seen.insert(object.clone()) {
                    objects.push(object);
                }
            }
        }
        Ok(objects)
    }

    /// Writes the whole CSV, every row in its place so CellProfiler numbers the image sets
    /// as in the original: the group's rows read their images from `located`, and every
    /// other row's images are pointed at `absent`, a path inside the attempt's scratch
    /// folder that does not exist (CellProfiler opens no image of a row `-g` leaves out).
    pub fn write(
        &self,
        to: &Path,
        buckets: &Buckets<'_>,
        located: &HashMap<Object, PathBuf>,
        absent: &Path,
    ) -> Result<(), LoadDataError> {
        let data = self.data;
        let io = |e: std::io::Error| LoadDataError::Read(to.to_owned(), e);
        let absent_dir = absent.to_string_lossy().into_owned();
        let absent_url = file_url(&absent.join("image"));
        let mut elsewhere: Vec<Option<&str>> = vec![None; data.headers.len()];
        for &channel in &data.channels {
            match channel {
                Channel::Url(url) => elsewhere[url] = Some(&absent_url),
                Channel::Path {
                    path: Some(path), ..
                } => elsewhere[path] = Some(&absent_dir),
                Channel::Path { path: None, .. } => {}
            }
        }
        let file = std::fs::File::create(to).map_err(io)?;
        let mut writer = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
        writer.write_record(&data.headers)?;
        let mut group = self.rows.iter().peekable();
        for (r, record) in data.rows.iter().enumerate() {
            if group.next_if_eq(&&r).is_none() {
                writer.write_record(
                    record
                        .iter()
                        .zip(&elsewhere)
                        .map(|(cell, other)| other.unwrap_or(cell)),
                )?;
                continue;
            }
            let mut cells: Vec<String> = record.iter().map(str::to_owned).collect();
            for &channel in &data.channels {
                let (source, column) = self.source(r, channel);
                let refused = |reason: String| LoadDataError::Refused {
                    line: record.position().map_or(0, |p| p.line()),
                    column: data.headers[column].to_owned(),
                    cell: source.clone(),
                    reason,
                };
                let object = buckets.locate(&source).map_err(refused)?;
                let local = located
                    .get(&object)
                    .ok_or_else(|| refused("was not fetched".into()))?;
                match channel {
                    Channel::Url(url) => cells[url] = file_url(local),
                    Channel::Path { path, file } => {
                        let name = &record[file];
                        let folder = local
                            .to_str()
                            .and_then(|l| l.strip_suffix(name.trim_start_matches('/')))
                            .filter(|f| f.ends_with('/') && !name.starts_with('/'));
                        match (path, folder) {
                            (Some(path), Some(folder)) => {
                                cells[path] = folder.trim_end_matches('/').to_owned();
                            }
                            _ => {
                                let parent = local.parent().unwrap_or(Path::new("/"));
                                if let Some(path) = path {
                                    cells[path] = parent.to_string_lossy().into_owned();
                                }
                                cells[file] = match path {
                                    Some(_) => local.file_name().map_or_else(String::new, |n| {
                                        n.to_string_lossy().into_owned()
                                    }),
                                    None => local.to_string_lossy().into_owned(),
                                };
                            }
                        }
                    }
                }
            }
            writer.write_record(&cells)?;
        }
        writer.flush().map_err(io)
    }
}
