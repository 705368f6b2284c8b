//! Markdown being written: lines, paragraphs and tables.

/// Markdown being written, line by line.
#[derive(Default)]
pub(super) struct Doc(pub(super) String);

impl Doc {
    /// Adds a line.
    pub(super) fn line(&mut self, text: impl AsRef<str>) {
        self.0.push_str(text.as_ref());
        self.0.push('\n');
    }

    /// Adds a paragraph and the blank line after it.
    pub(super) fn para(&mut self, text: impl AsRef<str>) {
        self.line(text);
        self.line("");
    }

    /// A table; `align` has an `l` or `r` per column.
    pub(super) fn table(
        &mut self,
        header: &[&str],
        align: &str,
        rows: impl IntoIterator<Item = Vec<String>>,
    ) {
        self.line(format!("| {} |", header.join(" | ")));
        let rule: Vec<&str> = align.chars().map(|a| if a == 'r' { "---:" } else { "---" }).collect();
        self.line(format!("|{}|", rule.join("|")));
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| escape_cell(c)).collect();
            self.line(format!("| {} |", cells.join(" | ")));
        }
        self.line("");
    }
}

/// Text that cannot break a table row.
fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}
