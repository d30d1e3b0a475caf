//! Input files (settings, jobs, plate lists, config.py, fleet files) as UTF-8 text.

use std::path::{Path, PathBuf};

/// Bytes that are not UTF-8 text, located by the line of the first invalid byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not UTF-8 text (byte {offset} is not): save the file as UTF-8")]
pub struct NotUtf8 {
    /// The 1-based line holding the first invalid byte.
    pub line: usize,
    /// That byte's 0-based offset in the input.
    pub offset: usize,
}

/// The bytes as text, or where they stop being UTF-8. A leading byte-order mark (U+FEFF,
/// which Windows editors write) is dropped, as Python drops it from a source file.
pub fn decode(mut bytes: Vec<u8>) -> Result<String, NotUtf8> {
    let mark = if bytes.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    bytes.drain(..mark);
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        NotUtf8 {
            line,
            offset: mark + valid,
        }
    })
}

/// An input file named by the user that cannot be read as text: bad input (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InputFileError {
    /// The file cannot be read (missing, a folder, no permission).
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("{}:{}: {source}", path.display(), source.line)]
    NotText {
        /// The file.
        path: PathBuf,
        /// Where it stops being UTF-8.
        source: NotUtf8,
    },
}

/// Reads an input file as UTF-8 text.
pub fn read(path: &Path) -> Result<String, InputFileError> {
    let bytes = std::fs::read(path).map_err(|source| InputFileError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    decode(bytes).map_err(|source| InputFileError::NotText {
        path: path.to_owned(),
        source,
    })
}

/// Puts a CSV record's position (its line, for error messages) on its own line: after a
/// CRLF line (as Excel saves), the csv crate starts the next record at the line end before
/// it (and before any blank lines it skipped), so its line would be one or more too early.
/// A record never starts with a line end. `text` is what the reader read.
pub fn at_its_line(record: &mut csv::StringRecord, text: &[u8]) {
    let Some(position) = record.position() else {
        return;
    };
    let start = position.byte() as usize;
    let ends = text
        .get(start..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    if ends > 0 {
        let passed = text[start..start + ends]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        let mut own = position.clone();
        own.set_byte((start + ends) as u64)
            .set_line(position.line() + passed as u64);
        record.set_position(Some(own));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_byte_order_mark_is_dropped() {
        // Windows editors save UTF-8 with U+FEFF first; Python reads config.py past it.
        assert_eq!(decode(b"\xef\xbb\xbfA = 1\n".to_vec()).unwrap(), "A = 1\n");
        assert_eq!(
            decode(b"\xef\xbb\xbf{\"a\": 1}".to_vec()).unwrap(),
            "{\"a\": 1}"
        );
        assert_eq!(decode("a\u{feff}".into()).unwrap(), "a\u{feff}");
        assert_eq!(
            decode(b"\xef\xbb\xbfa\n\xff".to_vec()).unwrap_err(),
            NotUtf8 { line: 2, offset: 5 }
        );
    }

    #[test]
    fn the_first_invalid_byte_is_located() {
        assert_eq!(decode(b"a\nb\n".to_vec()).unwrap(), "a\nb\n");
        assert_eq!(
            decode(b"a,b\nP1,\xff\n".to_vec()).unwrap_err(),
            NotUtf8 { line: 2, offset: 7 }
        );
    }
}
