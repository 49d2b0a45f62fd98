//! Go's text/tabwriter as docker's formatter configures it (minwidth 10, tabwidth 1,
//! padding 3, padchar ' '): cells end at '\t'; each column is as wide as its widest cell plus
//! the padding, at least minwidth; the text after a line's last tab is not a column.

pub struct TabWriter {
    min_width: usize,
    padding: usize,
    buf: String,
}

impl Default for TabWriter {
    fn default() -> Self {
        TabWriter { min_width: 10, padding: 3, buf: String::new() }
    }
}

impl TabWriter {
    pub fn write(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    /// Aligns everything written so far. Go's tabwriter aligns a column over a block of
    /// consecutive lines that have that column; docker's tables are one block.
    pub fn finish(self) -> String {
        let lines: Vec<Vec<&str>> = self.buf.split_inclusive('\n').map(|l| l.trim_end_matches('\n').split('\t').collect()).collect();
        let ncols = lines.iter().map(|c| c.len().saturating_sub(1)).max().unwrap_or(0);
        let mut widths = vec![0usize; ncols];
        for cells in &lines {
            for (i, c) in cells.iter().take(cells.len().saturating_sub(1)).enumerate() {
                widths[i] = widths[i].max(c.chars().count() + self.padding);
            }
        }
        for w in &mut widths {
            *w = (*w).max(self.min_width);
        }
        let mut out = String::new();
        for (li, cells) in lines.iter().enumerate() {
            let last = cells.len() - 1;
            for (i, c) in cells.iter().enumerate() {
                out.push_str(c);
                if i < last {
                    out.push_str(&" ".repeat(widths[i] - c.chars().count()));
                }
            }
            if li < lines.len() - 1 || self.buf.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}
