//! SQL that ferroflow's two SQL backends share, written once and parameterised by
//! [`Dialect`]: the run search language compiled to one parameterised query
//! ([`run_search`]). Pure: it builds text and parameters and never touches a database;
//! each store binds [`Param`]s with its own driver.

pub mod run_search;

/// The SQL engine a statement is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound value. Lists bind as one array on PostgreSQL (`= ANY($n)`, so a long list
/// is one parameter) and expand to one placeholder per item on SQLite.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(i64),
    Real(f64),
    Text(String),
    IntList(Vec<i64>),
    TextList(Vec<String>),
}

/// A SQL fragment and the parameters it binds, in order.
#[derive(Debug, Clone)]
pub struct Sql {
    pub dialect: Dialect,
    pub text: String,
    pub params: Vec<Param>,
}

impl Sql {
    pub fn new(dialect: Dialect) -> Self {
        Sql { dialect, text: String::new(), params: Vec::new() }
    }

    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// Appends a placeholder for `value`: `?` on SQLite, `$n` with its type on PostgreSQL
    /// (typed, so the server never has to guess a parameter's type from its context).
    pub fn bind(&mut self, value: Param) {
        match self.dialect {
            Dialect::Sqlite => match value {
                Param::IntList(items) => self.bind_each(items.into_iter().map(Param::Int)),
                Param::TextList(items) => self.bind_each(items.into_iter().map(Param::Text)),
                scalar => {
                    self.text.push('?');
                    self.params.push(scalar);
                }
            },
            Dialect::Postgres => {
                let cast = match value {
                    Param::Int(_) => "bigint",
                    Param::Real(_) => "double precision",
                    Param::Text(_) => "text",
                    Param::IntList(_) => "bigint[]",
                    Param::TextList(_) => "text[]",
                };
                self.params.push(value);
                self.text.push_str(&format!("${}::{cast}", self.params.len()));
            }
        }
    }

    fn bind_each(&mut self, items: impl Iterator<Item = Param>) {
        for (i, item) in items.enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(item);
        }
    }

    /// `column IN (list)` (or `NOT IN`); an empty list is plain false (true for NOT IN),
    /// which both engines need spelled out.
    pub fn in_list(&mut self, column: &str, list: Param, negated: bool) {
        let empty = match &list {
            Param::IntList(items) => items.is_empty(),
            Param::TextList(items) => items.is_empty(),
            _ => false,
        };
        if empty {
            self.push(if negated { "TRUE" } else { "FALSE" });
            return;
        }
        match self.dialect {
            Dialect::Sqlite => {
                self.push(&format!("{column} {} (", if negated { "NOT IN" } else { "IN" }));
                self.bind(list);
                self.push(")");
            }
            Dialect::Postgres => {
                self.push(&format!("{column} {} (", if negated { "<> ALL" } else { "= ANY" }));
                self.bind(list);
                self.push(")");
            }
        }
    }

    pub fn append(&mut self, part: Sql) {
        debug_assert_eq!(self.dialect, part.dialect);
        match self.dialect {
            Dialect::Sqlite => self.text.push_str(&part.text),
            // `$n` counts from 1 in each fragment: renumber the appended one's.
            Dialect::Postgres => self.text.push_str(&renumber(&part.text, self.params.len())),
        }
        self.params.extend(part.params);
    }
}

/// Shifts every `$n` placeholder in `text` by `by`. Placeholders are the only `$` this
/// crate writes (values are never spliced into the text).
fn renumber(text: &str, by: usize) -> String {
    if by == 0 {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some((_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&format!("${}", n + by)),
            Err(_) => out.push('$'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_typed_and_renumbered_when_appended() {
        let mut head = Sql::new(Dialect::Postgres);
        head.push("a = ");
        head.bind(Param::Int(1));
        let mut tail = Sql::new(Dialect::Postgres);
        tail.push(" AND b = ");
        tail.bind(Param::Text("x".into()));
        tail.push(" AND ");
        tail.in_list("c", Param::TextList(vec!["y".into()]), false);
        head.append(tail);
        assert_eq!(head.text, "a = $1::bigint AND b = $2::text AND c = ANY ($3::text[])");
        assert_eq!(head.params.len(), 3);
    }

    #[test]
    fn sqlite_lists_expand_and_empty_lists_are_constants() {
        let mut sql = Sql::new(Dialect::Sqlite);
        sql.in_list("c", Param::IntList(vec![1, 2]), true);
        sql.push(" OR ");
        sql.in_list("d", Param::TextList(vec![]), false);
        assert_eq!(sql.text, "c NOT IN (?, ?) OR FALSE");
        assert_eq!(sql.params, vec![Param::Int(1), Param::Int(2)]);
    }
}
