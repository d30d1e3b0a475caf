//! A Default Output Folder sub-folder or a file name with metadata tags (`\g<Plate>`),
//! judged against the data that fills them: for each image set CellProfiler joins the
//! filled path to the folder `-o` names (`os.path.join`), so a `Metadata_Dir` of `../..` or
//! `/abs` writes outside the task's output place. The rule is [`tags::stays_inside`], the one a path
//! without tags meets as written. `dcp-fleet check` (`pipeline-output`), its pilot and
//! dcp-worker judge the rows each group selects ([`GroupRows`], the worker's own
//! selection). The metadata of a batch file or a file list is not read before CellProfiler
//! runs, so a tagged sub-folder or file name with one is refused ([`unreadable_findings`]).

use crate::loaddata::GroupRows;

use super::tags;

/// An output sub-folder or file name with metadata tags, and the module that writes there
/// ([`crate::pipeline_load::PipelineLoad::tagged_outputs`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Tagged {
    /// The module, as CellProfiler names it (`ExportToSpreadsheet #5`).
    pub module: String,
    /// What the module does with the setting, and the setting: `writes to Output file
    /// location: Default Output Folder sub-folder|\g<Dir>`, `names its files File name:
    /// \g<Dir>.csv`.
    pub place: String,
    /// The setting's path or name, with its tags (`\g<Dir>`).
    pub pattern: String,
}

/// How many offending rows a finding names.
const ROWS_NAMED: usize = 3;

impl Tagged {
    /// `ExportToSpreadsheet #5 writes to Output file location: Default Output Folder
    /// sub-folder|\g<Dir>`.
    fn writes_to(&self) -> String {
        format!("{} {}", self.module, self.place)
    }

    /// Where the folder or name lands for the rows of one group of the load-data CSV
    /// `data_key`: `None` when inside the Default Output Folder for every row; else the rows (CSV
    /// line, the metadata columns and values, the filled path) where it is not, or the
    /// metadata columns the CSV lacks (CellProfiler fails on the first image set).
    pub fn outside_for(&self, data_key: &str, rows: &GroupRows<'_>) -> Option<String> {
        let path = self.pattern.as_str();
        let mut columns: Vec<(String, Vec<(u64, String)>)> = Vec::new();
        let mut missing = Vec::new();
        for name in tags::names(path) {
            let feature = format!("Metadata_{name}");
            match rows.measured(&feature) {
                Some(values) => columns.push((feature, values)),
                None => missing.push(feature),
            }
        }
        if !missing.is_empty() {
            return Some(format!(
                "{}, but {data_key} has no column {} to fill its metadata tags (CellProfiler \
                 fails on it)",
                self.writes_to(),
                missing.join(", ")
            ));
        }
        let mut outside = Vec::new();
        for row in 0..rows.len() {
            let filled = tags::fill::<()>(path, |name| {
                let feature = format!("Metadata_{name}");
                let (_, values) = columns.iter().find(|(f, _)| *f == feature).ok_or(())?;
                Ok(values[row].1.clone())
            });
            match filled {
                Ok(filled) if tags::stays_inside(&filled) => {}
                filled => outside.push((row, filled.unwrap_or_default())),
            }
        }
        let ((first, filled), more) = outside.split_first()?;
        let line = |row: usize| columns.first().map_or(0, |(_, values)| values[row].0);
        let values: Vec<String> = columns
            .iter()
            .map(|(feature, values)| format!("{feature} `{}`", values[*first].1))
            .collect();
        let mut finding = format!(
            "{}, which is `{filled}` for {data_key} line {} ({}), outside the Default Output \
             Folder (the task's output place)",
            self.writes_to(),
            line(*first),
            values.join(", ")
        );
        if !more.is_empty() {
            let lines: Vec<String> = more
                .iter()
                .take(ROWS_NAMED)
                .map(|(row, _)| line(*row).to_string())
                .collect();
            let rest = more.len().saturating_sub(ROWS_NAMED);
            finding.push_str(&format!(
                ", and for line{} {}{}",
                if more.len() > 1 { "s" } else { "" },
                lines.join(", "),
                if rest > 0 {
                    format!(" and {rest} more")
                } else {
                    String::new()
                }
            ));
        }
        Some(finding)
    }
}

/// [`Tagged::outside_for`] of every folder and name in `tagged`, in a line; `None` when each stays
/// inside for every row of the group.
pub fn group_findings(tagged: &[Tagged], data_key: &str, rows: &GroupRows<'_>) -> Option<String> {
    let each: Vec<String> = tagged
        .iter()
        .filter_map(|t| t.outside_for(data_key, rows))
        .collect();
    (!each.is_empty()).then(|| each.join("; "))
}

/// The refusal of tagged folders whose metadata comes from `data_key`, a batch file or a
/// file list, which dcp does not read for metadata before CellProfiler runs; `None` when
/// `tagged` is empty.
pub fn unreadable_findings(tagged: &[Tagged], data_key: &str) -> Option<String> {
    let each: Vec<String> = tagged.iter().map(Tagged::writes_to).collect();
    (!each.is_empty()).then(|| {
        format!(
            "{}: its metadata tags are filled from {data_key}, a batch file or file list \
             whose metadata is not checked before CellProfiler runs, so its files may land \
             outside the Default Output Folder (the task's output place)",
            each.join("; ")
        )
    })
}

/// The fix for [`Tagged::outside_for`] and [`unreadable_findings`], in one sentence.
pub const TAGGED_FIX: &str = "give the metadata columns that an output sub-folder's or file \
     name's tags name values that make a relative path with no `..` part and no leading `/` \
     (`Plate1` or `Plate1/A01` stay inside), and give the load-data CSV every column a tag \
     names; with a batch file or file list, use folders and names without metadata tags \
     (each task's results already go under its own output prefix)";
