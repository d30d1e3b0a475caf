//! Metadata tags in a folder setting's path, filled as CellProfiler fills them for each
//! image set (`Measurements.apply_metadata` in cellprofiler_core/measurement/
//! _measurements.py, called by `Directory.get_absolute_path`): the path is split at `\\`
//! (a literal backslash); in each part, `(?<Name>)` (MATLAB style, looked for first) or
//! `\g<Name>` is replaced by `str()` of the image set's `Metadata_Name` measurement. A
//! value put in is not read again for tags.

/// CellProfiler's `Series` and `Frame` tags: the largest `Series_…` (`Frame_…`) number of
/// the image set, not a `Metadata_` measurement (`C_SERIES`, `C_FRAME`).
const NUMBERED: [&str; 2] = ["Series", "Frame"];

/// `pattern` with each tag replaced by `value(name)` (`name` without `Metadata_`); the
/// `Series` and `Frame` tags, always numbers, are replaced by `0`. The first error of
/// `value` stops it.
pub fn fill<E>(
    pattern: &str,
    mut value: impl FnMut(&str) -> Result<String, E>,
) -> Result<String, E> {
    let mut parts = Vec::new();
    for mut part in pattern.split("\\\\") {
        let mut filled = String::new();
        while let Some((start, end, name)) = matlab_tag(part).or_else(|| python_tag(part)) {
            filled.push_str(&part[..start]);
            if NUMBERED.contains(&name) {
                filled.push('0');
            } else {
                filled.push_str(&value(name)?);
            }
            part = &part[end..];
        }
        filled.push_str(part);
        parts.push(filled);
    }
    Ok(parts.join("\\"))
}

/// The names of the `Metadata_` measurements `pattern`'s tags take (`Plate` for
/// `\g<Plate>`), each once, in order.
pub fn names(pattern: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let _ = fill::<()>(pattern, |name| {
        if !found.iter().any(|f| f == name) {
            found.push(name.to_owned());
        }
        Ok(String::new())
    });
    found
}

/// The first `(?<Name>)` of `part` (the regex `\(\?[<](.+?)[>]\)`): its start, end and name.
fn matlab_tag(part: &str) -> Option<(usize, usize, &str)> {
    first_tag(part, "(?<", ">)")
}

/// The first `\g<Name>` of `part` (the regex `\\g[<](.+?)[>]`).
fn python_tag(part: &str) -> Option<(usize, usize, &str)> {
    first_tag(part, "\\g<", ">")
}

/// The leftmost `open`, name, `close` of `text` with the shortest name of one or more
/// characters other than a newline, as Python's `re.search` with `(.+?)` finds it.
fn first_tag<'t>(text: &'t str, open: &str, close: &str) -> Option<(usize, usize, &'t str)> {
    let mut from = 0;
    while let Some(found) = text[from..].find(open) {
        let start = from + found;
        let name_start = start + open.len();
        let rest = &text[name_start..];
        if let Some(first) = rest.chars().next().filter(|c| *c != '\n') {
            let after_first = name_start + first.len_utf8();
            if let Some(close_at) = text[after_first..].find(close) {
                let name_end = after_first + close_at;
                let name = &text[name_start..name_end];
                if !name.contains('\n') {
                    return Some((start, name_end + close.len(), name));
                }
            }
        }
        from = start + 1;
    }
    None
}

/// Whether a filled sub-folder path stays inside the folder it is joined to
/// (`os.path.join(root, path)`): not absolute (a leading `/` replaces the root) and no `..`
/// part. A `\` is read as a separator too, so that no `..\` part passes on any system.
pub fn stays_inside(path: &str) -> bool {
    !path.starts_with('/') && path.split(['/', '\\']).all(|part| part != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(pattern: &str) -> String {
        fill::<()>(pattern, |name| Ok(format!("[{name}]"))).unwrap()
    }

    #[test]
    fn tags_are_filled_as_cellprofiler_fills_them() {
        assert_eq!(filled("\\g<Plate>/masks"), "[Plate]/masks");
        assert_eq!(filled("a\\g<Plate>_\\g<Well>"), "a[Plate]_[Well]");
        // MATLAB style, the backslash before it kept.
        assert_eq!(filled("x\\(?<Plate>)"), "x\\[Plate]");
        // MATLAB style is looked for first: a Python-style tag before it stays as written.
        assert_eq!(filled("\\g<A>/\\(?<B>)"), "\\g<A>/\\[B]");
        // `\\` is a literal backslash, and what follows it is no tag.
        assert_eq!(filled("\\\\g<Plate>"), "\\g<Plate>");
        // The shortest name: `\g<a>b>` is tag `a` then `b>`.
        assert_eq!(filled("\\g<a>b>"), "[a]b>");
        assert_eq!(filled("\\g<>x>"), "[>x]");
        assert_eq!(filled("\\g<Frame>/\\g<Series>"), "0/0");
        assert_eq!(filled("no tags"), "no tags");
        assert_eq!(filled("\\g<open"), "\\g<open");
        // A value is not read again for tags.
        let value = fill::<()>("\\g<Dir>", |_| Ok("\\g<Dir>".into())).unwrap();
        assert_eq!(value, "\\g<Dir>");
        assert_eq!(names("\\g<Plate>/\\g<Well>/\\g<Plate>"), ["Plate", "Well"]);
        assert_eq!(names("\\g<Frame>/plain"), Vec::<String>::new());
    }

    #[test]
    fn a_filled_path_stays_inside_when_relative_with_no_parent_part() {
        for inside in ["", ".", "Plate1", "Plate1/A01", "a..b", "...", "a/./b"] {
            assert!(stays_inside(inside), "{inside}");
        }
        for outside in [
            "..",
            "../..",
            "../x",
            "a/../../b",
            "/abs",
            "x/..",
            "..\\x",
            "a\\..\\..",
        ] {
            assert!(!stays_inside(outside), "{outside}");
        }
    }
}
