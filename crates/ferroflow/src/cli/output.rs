//! How the client subcommands print: terminal tables (comfy-table, fitted to the
//! terminal's width, coloured only on a TTY and never with NO_COLOR), JSON and CSV.

use comfy_table::{presets, Attribute, Cell as TableCell, Color, ContentArrangement};
use serde_json::Value;

/// `--format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table fitted to the terminal
    #[default]
    Table,
    /// JSON, for scripts and pipelines
    Json,
    /// CSV with a header row
    Csv,
}

/// How a cell is emphasised on a colour terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tone {
    #[default]
    Plain,
    Good,
    Bad,
    Warn,
    Strong,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub tone: Tone,
}

impl Cell {
    pub fn toned(text: impl Into<String>, tone: Tone) -> Self {
        Self { text: text.into(), tone }
    }
}

impl<T: Into<String>> From<T> for Cell {
    fn from(text: T) -> Self {
        Self { text: text.into(), tone: Tone::Plain }
    }
}

/// One table: a title (printed above it in table format), headers and rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub title: Option<String>,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self { title: None, headers: headers.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    pub fn titled(mut self, title: &str) -> Self {
        self.title = Some(title.to_string());
        self
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }
}

/// What a subcommand prints: its tables, the CSV form (the first table unless given),
/// its JSON form, and closing notes (table format only; on stdout after the tables).
pub struct Report {
    pub tables: Vec<Table>,
    pub csv: Option<Table>,
    pub json: Value,
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(tables: Vec<Table>, json: Value) -> Self {
        Self { tables, csv: None, json, notes: Vec::new() }
    }

    pub fn print(&self, format: Format) {
        print!("{}", self.render(format));
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => format!("{}\n", serde_json::to_string_pretty(&self.json).unwrap_or_default()),
            Format::Csv => self.csv.as_ref().or(self.tables.first()).map(csv).unwrap_or_default(),
            Format::Table => {
                let mut out = String::new();
                for (i, table) in self.tables.iter().enumerate() {
                    if i > 0 {
                        out.push('\n');
                    }
                    if let Some(title) = &table.title {
                        out.push_str(title);
                        out.push('\n');
                    }
                    if table.rows.is_empty() {
                        out.push_str("(none)\n");
                    } else {
                        out.push_str(&terminal_table(table));
                        out.push('\n');
                    }
                }
                for note in &self.notes {
                    out.push_str(note);
                    out.push('\n');
                }
                out
            }
        }
    }
}

fn colour_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn terminal_table(table: &Table) -> String {
    let mut out = comfy_table::Table::new();
    out.load_preset(presets::UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    if !colour_wanted() {
        out.force_no_tty();
    }
    // Off a terminal (a CI log, a pipe) there is no width to fit; COLUMNS gives one.
    if out.width().is_none() {
        if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<u16>().ok()) {
            out.set_width(columns);
        }
    }
    out.set_header(table.headers.iter().map(|h| TableCell::new(h).add_attribute(Attribute::Bold)));
    for row in &table.rows {
        out.add_row(row.iter().map(|cell| {
            let plain = TableCell::new(&cell.text);
            match cell.tone {
                Tone::Plain => plain,
                Tone::Good => plain.fg(Color::Green),
                Tone::Bad => plain.fg(Color::Red).add_attribute(Attribute::Bold),
                Tone::Warn => plain.fg(Color::Yellow),
                Tone::Strong => plain.add_attribute(Attribute::Bold),
            }
        }));
    }
    out.to_string()
}

/// RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled.
fn csv(table: &Table) -> String {
    fn field(text: &str) -> String {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_string()
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        out.push_str(&cells.into_iter().map(field).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    };
    line(table.headers.iter().map(String::as_str).collect());
    for row in &table.rows {
        line(row.iter().map(|c| c.text.as_str()).collect());
    }
    out
}

/// A millisecond timestamp as UTC, `2026-12-04 21:30:05`.
pub fn timestamp(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// A metric value as MLflow's client prints it: shortest round-trip, NaN and ±inf named.
pub fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let mut table = Table::new(&["key", "value"]);
        table.row(vec!["a".into(), "plain".into()]);
        table.row(vec!["b".into(), "x, \"y\"\nz".into()]);
        assert_eq!(csv(&table), "key,value\r\na,plain\r\nb,\"x, \"\"y\"\"\nz\"\r\n");
    }

    #[test]
    fn numbers_and_times() {
        assert_eq!(number(0.91), "0.91");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(timestamp(Some(0)), "1970-01-01 00:00:00");
        assert_eq!(timestamp(None), "");
    }
}
