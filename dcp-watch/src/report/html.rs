//! The run report as a page people can look at (`report.html`, next to `report.json`): one
//! self-contained file, viewable with no network, of a timeline of every attempt per
//! worker, the distribution of durations and the slowest groups, and outcomes by failure
//! class, retries and dead letters, per batch.
//!
//! The page is a fixed template (`page.html`: inline CSS and script) with the report
//! embedded as a JSON island, which the script draws as SVG and tables. So the Rust side
//! has one escaping rule to get right, [`island`], instead of one per place a string is
//! drawn, and the script sets only `textContent`: no string of the report (group names,
//! errors) is ever read as HTML.

use super::Report;

/// The template; `/*REPORT*/` marks where the report goes.
const PAGE: &str = include_str!("page.html");

/// The report as a self-contained HTML page.
pub fn render(report: &Report) -> String {
    let json = serde_json::to_string(report).expect("a run report is JSON");
    PAGE.replacen("/*REPORT*/", &island(&json), 1)
}

/// `json` made safe inside `<script type="application/json">`: `<`, `>` and `&` as JSON
/// escapes, so the text cannot end the element (`</script>`) or open a comment, and the
/// line separators U+2028/U+2029 too. `JSON.parse` reads the same values back.
fn island(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}
