//! `dcp-fleet check`: the preflight. Read-only checks of a run before money is spent —
//! the job and its data on either backend ([`data`]), CellProfiler's view of the pipeline
//! ([`pipeline`]) and, on AWS, the account's resources (`aws`). Each check is one
//! [`Finding`], printed as one JSON line as soon as it is made.
//!
//! The failures checked are DCP's most common ones: a fleet refused for a role or profile
//! (DCP issues #178, #151, #161), instances that never join the cluster (#126, #200), no
//! route out of a private subnet (#184), an old AMI (#60), a Spot limit (#157), and a first
//! task failing because load-data file, groups and bucket disagree (#201).

#[cfg(feature = "aws")]
pub mod aws;
pub mod data;
pub mod inputs;
pub mod pilot;
pub mod pipeline;

use std::io::Write;
use std::path::PathBuf;

use dcp_common::Config;
use dcp_common::backend::ConfiguredStore;
use serde::Serialize;

/// The pilot asked for: `--pilot`, with the group `--group` names (`Key=Value,…`) or the
/// first of the job.
#[derive(Clone, Debug, Default)]
pub struct PilotRequest {
    /// The group to run, as `Key=Value,…`; the first of the job when `None`.
    pub group: Option<String>,
}

/// Runs every check the settings and `paths` (a fleet file, job files) allow, printing
/// each finding to `out`: the inputs, the job's data, the pipelines and, on AWS, the
/// account; with `pilot`, then runs one group ([`pilot`]). Changes nothing in the run's
/// buckets: files are fetched into a temporary folder, removed after; a pilot's results
/// go to a folder of its own.
pub async fn run(
    config: &Config,
    paths: &[PathBuf],
    pilot: Option<&PilotRequest>,
    out: &mut Findings<'_>,
) -> anyhow::Result<()> {
    let inputs = inputs::read(config, paths, out)?;
    #[cfg(feature = "aws")]
    if config.backend == dcp_common::Backend::Aws {
        let request = inputs.fleet_file.as_ref().map(|(_, request)| request);
        aws::check(config, request, out).await?;
    }
    let store = ConfiguredStore::open(config).await?;
    let scratch = tempfile::Builder::new().prefix("dcp-check-").tempdir()?;
    let fetched = data::check(config, &store, &inputs.tasks, scratch.path(), out).await?;
    pipeline::check(config, &inputs.tasks, &fetched, out).await?;
    if let Some(request) = pilot {
        let group = request.group.as_deref();
        if let Some(measured) = pilot::check(config, &store, &inputs.tasks, group, out).await? {
            let prices = spot_prices(config, out).await?;
            out.add(pilot::estimate::memory(config, &measured))?;
            out.add(pilot::estimate::disk(config, &measured))?;
            let groups = inputs.tasks.len();
            let estimate = pilot::estimate::run(config, &measured, groups, prices.as_ref());
            out.add(estimate)?;
        }
    }
    Ok(())
}

/// The current Spot prices of MACHINE_TYPE, reported as a `spot-price` finding: read
/// from EC2's Spot price history on AWS; none on the embedded backend.
async fn spot_prices(
    config: &Config,
    out: &mut Findings<'_>,
) -> std::io::Result<Option<pilot::estimate::SpotPrices>> {
    #[cfg(feature = "aws")]
    if config.backend == dcp_common::Backend::Aws {
        return aws::spot_price::look_up(config, out).await;
    }
    out.add(Finding::skipped(
        "spot-price",
        config.machine_type.join(", "),
        "the embedded backend has no AWS account to ask: no Spot price, so the estimate \
         has no cost (check with BACKEND = \"aws\" for one)",
    ))?;
    Ok(None)
}

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The check passed.
    Ok,
    /// The run would fail, or cost more than it should: `fix` says what to do.
    Problem,
    /// The check could not be made (`detail` says why); not a pass.
    Skipped,
}

/// One check: `{"check": "groups", "subject": "…", "status": "problem", "detail": "…",
/// "fix": "…"}`; `fix` only with a problem.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// What kind of check (`pipeline`, `data-file`, `groups`, `images`, `iam-role`, …).
    pub check: &'static str,
    /// What was checked: a bucket key, a setting, an AWS resource.
    pub subject: String,
    /// The result.
    pub status: Outcome,
    /// What was found.
    pub detail: String,
    /// For a problem, the fix in one sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Measured or estimated figures (the pilot's), each named with its unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures: Option<serde_json::Value>,
}

impl Finding {
    /// A passed check.
    pub fn ok(check: &'static str, subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding {
            check,
            subject: subject.into(),
            status: Outcome::Ok,
            detail: detail.into(),
            fix: None,
            figures: None,
        }
    }

    /// A problem and its fix.
    pub fn problem(
        check: &'static str,
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            check,
            subject: subject.into(),
            status: Outcome::Problem,
            detail: detail.into(),
            fix: Some(fix.into()),
            figures: None,
        }
    }

    /// A check not made, and why.
    pub fn skipped(
        check: &'static str,
        subject: impl Into<String>,
        why: impl Into<String>,
    ) -> Self {
        Finding {
            check,
            subject: subject.into(),
            status: Outcome::Skipped,
            detail: why.into(),
            fix: None,
            figures: None,
        }
    }

    /// The finding with `figures` (a JSON object).
    pub fn with_figures(mut self, figures: serde_json::Value) -> Self {
        self.figures = Some(figures);
        self
    }
}

/// Where findings go: each printed as a JSON line when made, the problems counted.
pub struct Findings<'w> {
    out: &'w mut dyn Write,
    problems: usize,
}

impl<'w> Findings<'w> {
    /// Findings printed to `out`.
    pub fn new(out: &'w mut dyn Write) -> Self {
        Findings { out, problems: 0 }
    }

    /// Prints one finding.
    pub fn add(&mut self, finding: Finding) -> std::io::Result<()> {
        if finding.status == Outcome::Problem {
            self.problems += 1;
        }
        serde_json::to_writer(&mut *self.out, &finding)?;
        writeln!(self.out)?;
        self.out.flush()
    }

    /// The problems found so far.
    pub fn problems(&self) -> usize {
        self.problems
    }
}

/// `a`, `b`, `c` and 4 more: the first few of a list, for a finding's detail.
pub(crate) fn first_few(items: &[String], shown: usize) -> String {
    let mut text = items
        .iter()
        .take(shown)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > shown {
        text.push_str(&format!("; and {} more", items.len() - shown));
    }
    text
}
