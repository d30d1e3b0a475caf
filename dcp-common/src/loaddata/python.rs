//! A load-data cell as CellProfiler 5 reads it, so dcp selects the rows CellProfiler will
//! and passes `-g` the text CellProfiler compares.
//!
//! CellProfiler's LoadData (`cellprofiler_core/modules/loaddata.py`,
//! `get_measurement_columns` and `get_loaddata_type`) types each column over all its cells:
//! integer when every cell is a Python `int()` within 32 bits, float when every cell is a
//! Python `float()`, text otherwise; `Metadata_` columns named like a well column
//! (`Metadata_Column`, `Metadata_Col`, …) and path, file and URL columns are always text.
//! `Pipeline.run` keeps the image sets whose `str()` of each grouping value equals the
//! `-g` text, so `002` in an integer column is compared as `2`, and in a float column as `2.0`.

/// The type CellProfiler gives a load-data column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// COLTYPE_INTEGER: every cell is a 32-bit `int()`.
    Integer,
    /// COLTYPE_FLOAT: every cell is a `float()`, not all are 32-bit integers.
    Float,
    /// COLTYPE_VARCHAR: the cells are kept as they are.
    Text,
}

/// The column names CellProfiler's `is_well_column_token` knows; a `Metadata_` column so
/// named is text whatever its cells hold.
const WELL_COLUMN_TOKENS: [&str; 6] = [
    "wellcol",
    "well_col",
    "wellcolumn",
    "well_column",
    "column",
    "col",
];

/// Whether `feature` (a `Metadata_` header's rest) names a well column to CellProfiler
/// (`is_well_column_token`).
pub fn is_well_column_token(feature: &str) -> bool {
    WELL_COLUMN_TOKENS.contains(&feature.to_ascii_lowercase().as_str())
}

/// Whether `feature` names a well row to CellProfiler (`is_well_row_token`).
pub fn is_well_row_token(feature: &str) -> bool {
    ["wellrow", "well_row", "row"].contains(&feature.to_ascii_lowercase().as_str())
}

/// The type of the column `header` holding `cells`, as CellProfiler infers it.
pub fn column_type<'a>(header: &str, cells: impl Iterator<Item = &'a str>) -> ColumnType {
    let always_text = header
        .strip_prefix("Metadata_")
        .map(|rest| rest.split('_').next().unwrap_or(""))
        .is_some_and(is_well_column_token);
    if always_text {
        return ColumnType::Text;
    }
    let mut column = ColumnType::Integer;
    for cell in cells {
        let cell_type = if int32(cell).is_some() {
            ColumnType::Integer
        } else if python_int(cell).is_none() && python_float(cell).is_some() {
            ColumnType::Float
        } else {
            return ColumnType::Text;
        };
        if cell_type == ColumnType::Float {
            column = ColumnType::Float;
        }
    }
    column
}

/// The text CellProfiler compares for `cell` in a column of type `column`: `str(int(cell))`,
/// `str(float(cell))`, or the cell itself.
pub fn compared_text(column: ColumnType, cell: &str) -> String {
    match column {
        ColumnType::Integer => int32(cell).map_or_else(|| cell.to_owned(), |n| n.to_string()),
        ColumnType::Float => python_float(cell).map_or_else(|| cell.to_owned(), float_repr),
        ColumnType::Text => cell.to_owned(),
    }
}

/// A 32-bit `int(cell)`.
fn int32(cell: &str) -> Option<i32> {
    python_int(cell).and_then(|n| i32::try_from(n).ok())
}

/// Python's `str.strip()` whitespace (Unicode whitespace and the separators \x1c–\x1f).
fn strip(cell: &str) -> &str {
    cell.trim_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c))
}

/// `cell` without the underscores Python allows between digits; `None` when an underscore
/// is anywhere else.
fn without_underscores(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if c == '_' {
            let digit_before = i > 0 && bytes[i - 1].is_ascii_digit();
            let digit_after = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(digit_before && digit_after) {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Python's `int(cell)` (base 10), or `None` when it raises; values beyond `i128` are
/// taken as not integers (CellProfiler makes them text anyway).
pub fn python_int(cell: &str) -> Option<i128> {
    let text = without_underscores(strip(cell))?;
    let digits = text.strip_prefix(['+', '-']).unwrap_or(&text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Python's `float(cell)`, or `None` when it raises.
pub fn python_float(cell: &str) -> Option<f64> {
    let text = without_underscores(strip(cell))?;
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(&text);
    let word = unsigned.to_ascii_lowercase();
    let named = ["inf", "infinity", "nan"].contains(&word.as_str());
    let numeric = unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !(named || numeric) || unsigned.is_empty() {
        return None;
    }
    text.parse().ok()
}

/// Python's `repr(x)` of a float: the shortest digits that read back as `x`, fixed point
/// with at least one decimal for exponents -4 to 15 (`2.0`, `0.0001`), else scientific
/// with a signed exponent of at least two digits (`1e+16`, `1.5e-05`).
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    let scientific = format!("{:e}", x.abs());
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} writes an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} writes an integer exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if !(-4..16).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{fraction}e{exp_sign}{:02}", exponent.abs());
    }
    let point = exponent + 1;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs_floats_as_python_does() {
        for (x, text) in [
            (2.0, "2.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-7, "1.5e-07"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (-2.5, "-2.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e300, "1e+300"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(float_repr(x), text, "{x}");
        }
    }

    #[test]
    fn parses_numbers_as_python_does() {
        assert_eq!(python_int("002"), Some(2));
        assert_eq!(python_int(" -7 "), Some(-7));
        assert_eq!(python_int("1_000"), Some(1000));
        for bad in ["", "1.0", "_1", "1__0", "0x10", "A01", "+"] {
            assert_eq!(python_int(bad), None, "{bad:?}");
        }
        assert_eq!(python_float("2."), Some(2.0));
        assert_eq!(python_float(" 1e3"), Some(1000.0));
        assert!(python_float("NaN").unwrap().is_nan());
        assert_eq!(python_float("-Infinity"), Some(f64::NEG_INFINITY));
        for bad in ["", "e", "1,5", "A03", "infinit", "0x1p3"] {
            assert_eq!(python_float(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn types_columns_as_cellprofiler_does() {
        let ty = |header, cells: &[&str]| column_type(header, cells.iter().copied());
        assert_eq!(
            ty("Metadata_Position", &["002", "076"]),
            ColumnType::Integer
        );
        assert_eq!(ty("Metadata_Site", &["1", "2.5"]), ColumnType::Float);
        assert_eq!(ty("Metadata_Plate", &["001", "P3"]), ColumnType::Text);
        assert_eq!(ty("Metadata_Id", &["1", "99999999999"]), ColumnType::Text);
        assert_eq!(ty("Metadata_Column", &["01", "02"]), ColumnType::Text);
        assert_eq!(ty("Metadata_Col_X", &["01"]), ColumnType::Text);
        assert_eq!(ty("Metadata_Site", &["1", ""]), ColumnType::Text);
        assert_eq!(compared_text(ColumnType::Integer, "002"), "2");
        assert_eq!(compared_text(ColumnType::Integer, " 000"), "0");
        assert_eq!(compared_text(ColumnType::Float, "002"), "2.0");
        assert_eq!(compared_text(ColumnType::Text, "002"), "002");
    }
}
