//! Plain-text tables for the terminal: columns padded to their widest cell, text
//! left-aligned and numbers right-aligned; plus number formatting shared by the reports.

/// A table under construction.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Table {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// The table as text, one line per row, a rule under the header.
    pub fn render(&self) -> String {
        let cols = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let cell = |row: &[String], i: usize| row.get(i).cloned().unwrap_or_default();
        let widths: Vec<usize> = (0..cols)
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| cell(r, i).chars().count())
                    .chain([cell(&self.header, i).chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        // A column is numeric when every body cell looks like a number.
        let numeric: Vec<bool> = (0..cols)
            .map(|i| {
                !self.rows.is_empty()
                    && self.rows.iter().all(|r| {
                        let c = cell(r, i);
                        c == "-"
                            || c.chars()
                                .next()
                                .is_some_and(|ch| ch.is_ascii_digit() || ch == '+' || ch == '-')
                    })
            })
            .collect();
        let line = |row: &[String]| {
            let mut s = String::new();
            for i in 0..cols {
                let c = cell(row, i);
                let pad = widths[i] - c.chars().count();
                if i > 0 {
                    s.push_str("  ");
                }
                if numeric[i] {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(&c);
                } else {
                    s.push_str(&c);
                    if i + 1 < cols {
                        s.push_str(&" ".repeat(pad));
                    }
                }
            }
            s.trim_end().to_string()
        };
        let mut out = line(&self.header);
        out.push('\n');
        let total: usize = widths.iter().sum::<usize>() + 2 * cols.saturating_sub(1);
        out.push_str(&"-".repeat(total));
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        out
    }
}

/// `7102.46` → `7,102`; below 100 two decimals (`0.29`, `12.50`).
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_string();
    }
    if v.abs() < 100.0 {
        return format!("{v:.2}");
    }
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        let left = (digits.len() - i) % 3;
        if i > 0 && left == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// A signed percentage: `+1.2%`, `-0.4%`.
pub fn percent(v: f64) -> String {
    format!("{v:+.1}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(["test", "backend", "Ir/request"]);
        t.row(["plaintext", "io-uring", "7,102"]);
        t.row(["plaintext-pipelined", "epoll", "3,876"]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "test                 backend   Ir/request");
        assert_eq!(lines[1], "-".repeat(41));
        assert_eq!(lines[2], "plaintext            io-uring       7,102");
        assert_eq!(lines[3], "plaintext-pipelined  epoll          3,876");
    }

    #[test]
    fn ragged_rows() {
        let mut t = Table::new(["a"]);
        t.row(["x", "long cell"]);
        t.row(Vec::<String>::new());
        let text = t.render();
        assert!(text.lines().nth(2).unwrap().ends_with("long cell"));
        assert_eq!(text.lines().count(), 4);
    }

    #[test]
    fn numbers() {
        assert_eq!(num(7102.46), "7,102");
        assert_eq!(num(1_234_567.0), "1,234,567");
        assert_eq!(num(0.294), "0.29");
        assert_eq!(num(-2500.0), "-2,500");
        assert_eq!(num(f64::NAN), "-");
        assert_eq!(percent(1.234), "+1.2%");
        assert_eq!(percent(-0.44), "-0.4%");
    }
}
