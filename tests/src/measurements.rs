//! Comparing CellProfiler's measurement CSVs (ExportToSpreadsheet's per-object tables):
//! the same columns and rows, numbers within a relative tolerance, text equal.

use std::path::Path;

/// Relative tolerance for numbers: results of the same pipeline on the same pixels differ
/// only by floating-point noise (about 1e-13 measured).
pub const TOLERANCE: f64 = 1e-9;

/// Asserts the CSV `name` in folders `a` and `b` holds the same measurements: the same
/// header, the same number of rows, and every cell equal (numbers within [`TOLERANCE`]
/// relative), except in the columns whose names start with one of `skip` (execution times,
/// paths).
pub fn assert_same(a: &Path, b: &Path, name: &str, skip: &[&str]) {
    let ((header, left), (other, right)) = (read(&a.join(name)), read(&b.join(name)));
    assert_eq!(header, other, "{name}: the same columns");
    assert_eq!(left.len(), right.len(), "{name}: the same number of rows");
    assert!(!left.is_empty(), "{name} has rows");
    for (r, (x, y)) in left.iter().zip(&right).enumerate() {
        for (c, column) in header.iter().enumerate() {
            if skip.iter().any(|s| column.starts_with(s)) {
                continue;
            }
            assert!(
                same_cell(&x[c], &y[c]),
                "{} row {r} column {column}: {:?} vs {:?}",
                a.join(name).display(),
                x[c],
                y[c]
            );
        }
    }
}

fn same_cell(x: &str, y: &str) -> bool {
    match (x.parse::<f64>(), y.parse::<f64>()) {
        (Ok(p), Ok(q)) if p.is_nan() || q.is_nan() => p.is_nan() && q.is_nan(),
        (Ok(p), Ok(q)) => p == q || (p - q).abs() <= TOLERANCE * p.abs().max(q.abs()),
        _ => x == y,
    }
}

/// A CSV as its header and rows of text cells.
pub fn read(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}
