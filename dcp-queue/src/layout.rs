//! Plate layouts: the wells and sites each plate of a plate list expands into, as DCP's
//! run_batch_general does (rows × columns × sites, wells as `A01`).

/// The most sites `--sites` may list: far more than any microscope images per well.
pub const MAX_SITES: usize = 10_000;
/// The most wells `--wells` may list: a 1,536-well plate, the largest standard format.
pub const MAX_WELLS: usize = 1_536;

/// Why a layout option was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayoutError {
    /// Only 96- and 384-well plates are known.
    #[error("--plate-format must be 96 or 384, got {0}")]
    PlateFormat(u32),
    /// A list item is empty or a range runs backwards.
    #[error("{option}: `{item}` is not a value or an ascending range like 1-9")]
    Item {
        /// The option.
        option: &'static str,
        /// The refused item.
        item: String,
    },
    /// The list names more values than the option allows.
    #[error("{option}: lists more than {max} values")]
    TooMany {
        /// The option.
        option: &'static str,
        /// Its limit.
        max: usize,
    },
}

impl dcp_common::exit::Classify for LayoutError {
    fn kind(&self) -> dcp_common::exit::Kind {
        dcp_common::exit::Kind::BadInput
    }
}

/// What each CSV row (a plate, or a plate and a well) expands into.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    /// Wells added as `Metadata_Well` to each row, if any.
    pub wells: Option<Vec<String>>,
    /// Sites added as `Metadata_Site` to each row and well, if any.
    pub sites: Option<Vec<String>>,
}

impl Layout {
    /// Builds a layout from `--plate-format`, `--wells` and `--sites`.
    pub fn new(
        plate_format: Option<u32>,
        wells: Option<&str>,
        sites: Option<&str>,
    ) -> Result<Self, LayoutError> {
        let wells = match (plate_format, wells) {
            (_, Some(list)) => Some(items("--wells", list, MAX_WELLS)?),
            (Some(format), None) => Some(plate_wells(format)?),
            (None, None) => None,
        };
        let sites = sites
            .map(|list| numbered("--sites", list, MAX_SITES))
            .transpose()?;
        Ok(Layout { wells, sites })
    }

    /// Whether the layout adds anything to the rows.
    pub fn expands(&self) -> bool {
        self.wells.is_some() || self.sites.is_some()
    }

    /// The metadata each row gets, in DCP's order: for each well, for each site.
    pub fn combinations(&self) -> Vec<Vec<(String, String)>> {
        let wells = self
            .wells
            .as_deref()
            .map_or(vec![None], |w| w.iter().map(Some).collect());
        let sites = self
            .sites
            .as_deref()
            .map_or(vec![None], |s| s.iter().map(Some).collect());
        let mut out = Vec::with_capacity(wells.len() * sites.len());
        for well in &wells {
            for site in &sites {
                let mut pairs = Vec::with_capacity(2);
                if let Some(well) = well {
                    pairs.push(("Metadata_Well".to_owned(), (*well).clone()));
                }
                if let Some(site) = site {
                    pairs.push(("Metadata_Site".to_owned(), (*site).clone()));
                }
                out.push(pairs);
            }
        }
        out
    }
}

fn plate_wells(format: u32) -> Result<Vec<String>, LayoutError> {
    let (rows, columns) = match format {
        96 => (8u8, 12),
        384 => (16u8, 24),
        other => return Err(LayoutError::PlateFormat(other)),
    };
    Ok((b'A'..b'A' + rows)
        .flat_map(|row| (1..=columns).map(move |col| format!("{}{col:02}", row as char)))
        .collect())
}

/// The comma-separated items of `list`, at most `max` of them.
fn items(option: &'static str, list: &str, max: usize) -> Result<Vec<String>, LayoutError> {
    if list.split(',').nth(max).is_some() {
        return Err(LayoutError::TooMany { option, max });
    }
    list.split(',')
        .map(|item| {
            let item = item.trim();
            if item.is_empty() {
                Err(LayoutError::Item {
                    option,
                    item: item.to_owned(),
                })
            } else {
                Ok(item.to_owned())
            }
        })
        .collect()
}

/// A list of values and ranges: `1-9`, `1,3,5`, `1-4,7`; at most `max` values, counted
/// before any range is expanded.
fn numbered(option: &'static str, list: &str, max: usize) -> Result<Vec<String>, LayoutError> {
    let mut out = Vec::new();
    for item in items(option, list, max)? {
        let range = item
            .split_once('-')
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
        match range {
            Some((from, to)) if from <= to => {
                if out.len() + (to - from) as usize >= max {
                    return Err(LayoutError::TooMany { option, max });
                }
                out.extend((from..=to).map(|n| n.to_string()));
            }
            Some(_) => return Err(LayoutError::Item { option, item }),
            None if out.len() < max => out.push(item),
            None => return Err(LayoutError::TooMany { option, max }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plate_formats_match_run_batch_general() {
        let wells = Layout::new(Some(384), None, None).unwrap().wells.unwrap();
        assert_eq!(wells.len(), 384);
        assert_eq!(
            (wells[0].as_str(), wells[23].as_str(), wells[383].as_str()),
            ("A01", "A24", "P24")
        );
        let wells = Layout::new(Some(96), None, None).unwrap().wells.unwrap();
        assert_eq!((wells.len(), wells[95].as_str()), (96, "H12"));
        assert_eq!(
            Layout::new(Some(24), None, None),
            Err(LayoutError::PlateFormat(24))
        );
    }

    #[test]
    fn wells_override_and_sites_expand() {
        let layout = Layout::new(Some(384), Some("B03, C07"), Some("1-2,5")).unwrap();
        let combos = layout.combinations();
        assert_eq!(combos.len(), 6);
        assert_eq!(
            combos[1],
            [
                ("Metadata_Well".to_owned(), "B03".to_owned()),
                ("Metadata_Site".to_owned(), "2".to_owned())
            ]
        );
        assert!(Layout::new(None, None, Some("5-1")).is_err());
        assert_eq!(
            Layout::new(None, None, Some("1-100000000")),
            Err(LayoutError::TooMany {
                option: "--sites",
                max: MAX_SITES
            })
        );
        assert!(Layout::new(None, None, Some("1-10000")).is_ok());
        let wells = vec!["A01"; MAX_WELLS + 1].join(",");
        assert!(matches!(
            Layout::new(None, Some(&wells), None),
            Err(LayoutError::TooMany { .. })
        ));
        assert!(Layout::new(None, Some("A01,,A02"), None).is_err());
        assert_eq!(
            Layout::default().combinations(),
            vec![Vec::<(String, String)>::new()]
        );
    }
}
