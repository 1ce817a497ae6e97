//! Result records and how bench binaries print them: an aligned table comparing every system
//! with a baseline (ours), or one JSON object per line for scripts.
//!
//! ```
//! use benches::report::{Better, Record, render_table};
//! let records = vec![
//!     Record::new("shootout", "ping-pong", "libprocess", 12.0e6, "rt/s", Better::Higher),
//!     Record::new("shootout", "ping-pong", "actix", 6.0e6, "rt/s", Better::Higher),
//! ];
//! assert_eq!(
//!     records[0].to_json(),
//!     r#"{"bench": "shootout", "workload": "ping-pong", "system": "libprocess", "value": 12000000, "unit": "rt/s"}"#
//! );
//! let table = render_table(&records, "libprocess");
//! assert!(table.contains("6.00M (x2.00)"));
//! ```

use std::fmt::Write as _;

/// Which direction of a figure is the good one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Rates: more is better.
    Higher,
    /// Costs (bytes, latencies): less is better.
    Lower,
}

/// One measured figure: a workload on a system, in a unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The bench binary, e.g. `shootout`.
    pub bench: String,
    /// The workload, e.g. `ping-pong`.
    pub workload: String,
    /// The system measured, e.g. `libprocess`.
    pub system: String,
    /// The figure (the median of the runs).
    pub value: f64,
    /// Its unit, e.g. `rt/s`, `msg/s`, `B`.
    pub unit: String,
    /// Whether more or less is better (not printed in JSON).
    pub better: Better,
}

impl Record {
    /// A record.
    pub fn new(
        bench: impl Into<String>,
        workload: impl Into<String>,
        system: impl Into<String>,
        value: f64,
        unit: impl Into<String>,
        better: Better,
    ) -> Self {
        Record {
            bench: bench.into(),
            workload: workload.into(),
            system: system.into(),
            value,
            unit: unit.into(),
            better,
        }
    }

    /// The record as one line of JSON:
    /// `{"bench": .., "workload": .., "system": .., "value": .., "unit": ..}`.
    pub fn to_json(&self) -> String {
        format!(
            r#"{{"bench": {}, "workload": {}, "system": {}, "value": {}, "unit": {}}}"#,
            json_string(&self.bench),
            json_string(&self.workload),
            json_string(&self.system),
            json_number(self.value),
            json_string(&self.unit),
        )
    }
}

/// How many times better `ours` is than `peer` (> 1: ours is better), whichever direction
/// is the good one: ours/peer for rates, peer/ours for costs.
pub fn advantage(ours: f64, peer: f64, better: Better) -> f64 {
    match better {
        Better::Higher => ours / peer,
        Better::Lower => peer / ours,
    }
}

/// A table with a row per workload and a column per system, `baseline` first. Each peer's
/// cell shows its figure and `(xN)`, the baseline's advantage over it; the last column
/// compares the baseline with the best peer of the row.
pub fn render_table(records: &[Record], baseline: &str) -> String {
    let mut workloads: Vec<&str> = Vec::new();
    let mut systems: Vec<&str> = vec![baseline];
    for record in records {
        if !workloads.contains(&record.workload.as_str()) {
            workloads.push(&record.workload);
        }
        if !systems.contains(&record.system.as_str()) {
            systems.push(&record.system);
        }
    }
    let find = |workload: &str, system: &str| {
        records
            .iter()
            .find(|r| r.workload == workload && r.system == system)
    };

    let mut header: Vec<String> = vec!["workload".into(), "unit".into()];
    header.extend(systems.iter().map(|s| s.to_string()));
    header.push(format!("{baseline} vs best peer"));
    let mut rows = vec![header];
    for workload in &workloads {
        let ours = find(workload, baseline);
        let unit = records
            .iter()
            .find(|r| r.workload == *workload)
            .map_or("", |r| r.unit.as_str());
        let mut row: Vec<String> = vec![workload.to_string(), unit.to_string()];
        let mut best: Option<&Record> = None;
        for system in &systems {
            let cell = match find(workload, system) {
                None => "-".to_string(),
                Some(record) if *system == baseline => format_value(record.value, &record.unit),
                Some(record) => {
                    let is_better =
                        |b: &Record| advantage(record.value, b.value, record.better) > 1.0;
                    if best.is_none_or(is_better) {
                        best = Some(record);
                    }
                    match ours {
                        Some(ours) => format!(
                            "{} ({})",
                            format_value(record.value, &record.unit),
                            format_ratio(advantage(ours.value, record.value, record.better))
                        ),
                        None => format_value(record.value, &record.unit),
                    }
                }
            };
            row.push(cell);
        }
        row.push(match (ours, best) {
            (Some(ours), Some(best)) => format!(
                "{} ({})",
                format_ratio(advantage(ours.value, best.value, best.better)),
                best.system
            ),
            _ => "-".to_string(),
        });
        rows.push(row);
    }

    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "(xN: {baseline}'s advantage over that system, ours/peer for rates and peer/ours for \
         bytes; above 1 means {baseline} is better)"
    );
    out
}

/// A figure for the table: bytes as a whole number, rates with three significant digits and
/// an SI suffix (`15.2M`).
pub fn format_value(value: f64, unit: &str) -> String {
    if unit == "B" {
        return format!("{value:.0}");
    }
    let (scaled, suffix) = if value >= 1e9 {
        (value / 1e9, "G")
    } else if value >= 1e6 {
        (value / 1e6, "M")
    } else if value >= 1e3 {
        (value / 1e3, "K")
    } else {
        (value, "")
    };
    let digits = if scaled >= 100.0 {
        0
    } else if scaled >= 10.0 {
        1
    } else {
        2
    };
    format!("{scaled:.digits$}{suffix}")
}

fn format_ratio(ratio: f64) -> String {
    if !ratio.is_finite() {
        return "x?".to_string();
    }
    if ratio >= 100.0 {
        format!("x{ratio:.0}")
    } else if ratio >= 10.0 {
        format!("x{ratio:.1}")
    } else {
        format!("x{ratio:.2}")
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whole numbers from 100 up are printed without a fraction; smaller ones keep three
/// decimals. JSON has no NaN or infinity: those become `null`.
fn json_number(value: f64) -> String {
    if !value.is_finite() {
        "null".to_string()
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(workload: &str, system: &str, value: f64, unit: &str, better: Better) -> Record {
        Record::new("shootout", workload, system, value, unit, better)
    }

    #[test]
    fn values_read_well() {
        assert_eq!(format_value(15_234_000.0, "rt/s"), "15.2M");
        assert_eq!(format_value(152_340_000.0, "rt/s"), "152M");
        assert_eq!(format_value(1_523_400.0, "rt/s"), "1.52M");
        assert_eq!(format_value(960_000.0, "proc/s"), "960K");
        assert_eq!(format_value(852.4, "B"), "852");
        assert_eq!(format_ratio(2.0), "x2.00");
        assert_eq!(format_ratio(12.34), "x12.3");
    }

    #[test]
    fn json_escapes_and_numbers() {
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(json_number(7_100_000.4), "7100000");
        assert_eq!(json_number(0.5), "0.5");
        assert_eq!(json_number(2.0), "2");
        assert_eq!(json_number(f64::NAN), "null");
    }

    #[test]
    fn table_compares_with_baseline_and_best_peer() {
        let records = vec![
            rec("ping-pong", "libprocess", 10e6, "rt/s", Better::Higher),
            rec("ping-pong", "actix", 5e6, "rt/s", Better::Higher),
            rec("ping-pong", "ractor", 1e6, "rt/s", Better::Higher),
            rec("idle-memory", "actix", 800.0, "B", Better::Lower),
            rec("idle-memory", "libprocess", 400.0, "B", Better::Lower),
            rec("idle-memory", "ractor", 8000.0, "B", Better::Lower),
        ];
        let table = render_table(&records, "libprocess");
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("workload"));
        // Baseline first, then peers in order of appearance.
        assert!(lines[0].find("libprocess").unwrap() < lines[0].find("actix").unwrap());
        assert!(lines[1].contains("5.00M (x2.00)"));
        assert!(lines[1].contains("1.00M (x10.0)"));
        assert!(lines[1].ends_with("x2.00 (actix)"));
        assert!(lines[2].contains("800 (x2.00)"));
        assert!(lines[2].contains("8000 (x20.0)"));
        assert!(lines[2].ends_with("x2.00 (actix)"));
    }

    #[test]
    fn missing_cells_are_dashes() {
        let records = vec![rec("fan-in-1", "actix", 5e6, "msg/s", Better::Higher)];
        let table = render_table(&records, "libprocess");
        let row = table.lines().nth(1).unwrap();
        assert!(row.starts_with("fan-in-1"));
        assert!(row.contains(" - "));
        assert!(row.ends_with('-'));
    }
}
