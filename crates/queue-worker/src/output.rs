//! Reading what an agent prints without trusting it: lines are read with a bound (a 10 MB
//! line costs the worker at most the bound, not 10 MB), bytes that are not UTF-8 are kept
//! (decoded lossily) rather than failing the run, and only the tail of the output is kept for
//! a result, in a ring of bounded size.

use std::collections::VecDeque;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One line as read: at most the bound, and how much more the agent wrote on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    pub text: String,
    pub skipped: usize,
}

impl RawLine {
    /// The text, at most `max` bytes of it, with a marker when the line was longer.
    pub fn bounded(self, max: usize) -> String {
        let total = self.text.len() + self.skipped;
        agentq_domain::bounded::cut_from(self.text, total, max)
    }
}

/// Reads one line (without its `\n`), keeping at most `max` bytes of it; the rest of a longer
/// line is skipped and counted. `None` at the end of the input.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Option<RawLine>> {
    let mut kept: Vec<u8> = Vec::new();
    let mut skipped = 0usize;
    let mut read_any = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(read_any.then(|| finish(&kept, skipped)));
        }
        read_any = true;
        let newline = buf.iter().position(|&b| b == b'\n');
        let line_part = &buf[..newline.unwrap_or(buf.len())];
        let take = line_part.len().min(max - kept.len());
        kept.extend_from_slice(&line_part[..take]);
        skipped += line_part.len() - take;
        let used = newline.map_or(buf.len(), |at| at + 1);
        reader.consume(used);
        if newline.is_some() {
            return Ok(Some(finish(&kept, skipped)));
        }
    }
}

fn finish(kept: &[u8], skipped: usize) -> RawLine {
    let mut text = String::from_utf8_lossy(kept).into_owned();
    if text.ends_with('\r') {
        text.pop();
    }
    RawLine { text, skipped }
}

/// The last lines of an agent's output, at most `budget` bytes of them.
#[derive(Debug)]
pub struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
    budget: usize,
    /// Whether older lines were dropped to stay within the budget.
    dropped: bool,
}

impl Tail {
    pub fn new(budget: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            bytes: 0,
            budget,
            dropped: false,
        }
    }

    pub fn push(&mut self, line: &str) {
        let line = agentq_domain::bounded::cut(line.to_owned(), self.budget);
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.bytes > self.budget {
            match self.lines.pop_front() {
                Some(old) => {
                    self.bytes -= old.len() + 1;
                    self.dropped = true;
                }
                None => break,
            }
        }
    }

    /// The kept lines joined, with a first line saying when older ones were dropped.
    pub fn text(&self) -> String {
        let mut text = String::with_capacity(self.bytes + 64);
        if self.dropped {
            text.push_str("[earlier output dropped; the last lines follow]\n");
        }
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(line);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(input: &[u8], max: usize) -> Vec<String> {
        let mut reader = tokio::io::BufReader::with_capacity(8, input);
        let mut out = Vec::new();
        while let Some(line) = read_line(&mut reader, max).await.expect("read") {
            out.push(line.bounded(100));
        }
        out
    }

    #[tokio::test]
    async fn lines_are_split_and_the_last_one_needs_no_newline() {
        assert_eq!(lines_of(b"a\r\nbb\nccc", 100).await, ["a", "bb", "ccc"]);
        assert!(lines_of(b"", 100).await.is_empty());
    }

    #[tokio::test]
    async fn a_long_line_is_cut_to_the_bound_and_says_so() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\nnext\n");
        let lines = lines_of(&input, 100).await;
        assert!(lines[0].starts_with("xxx"), "{}", lines[0]);
        assert!(lines[0].ends_with(" of 10000 bytes]"), "{}", lines[0]);
        assert!(lines[0].len() <= 100);
        assert_eq!(lines[1], "next");
    }

    #[tokio::test]
    async fn bytes_that_are_not_utf8_are_kept_lossily() {
        let lines = lines_of(b"ok \xff\xfe end\n", 100).await;
        assert_eq!(lines, ["ok \u{fffd}\u{fffd} end"]);
    }

    #[test]
    fn the_tail_keeps_the_last_lines_within_its_budget() {
        let mut tail = Tail::new(20);
        for i in 0..100 {
            tail.push(&format!("line {i}"));
        }
        let text = tail.text();
        assert!(text.starts_with("[earlier output dropped"), "{text}");
        assert!(text.ends_with("line 98\nline 99"), "{text}");
        let mut small = Tail::new(100);
        small.push("a");
        small.push("b");
        assert_eq!(small.text(), "a\nb");
    }
}
