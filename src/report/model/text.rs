//! The report's text as data: sections of blocks (lists, tables,
//! paragraphs, plots), lines of spans (plain, strong, code). Markdown and
//! HTML lay it out, JSON carries it as is; none of them parses another.

use serde::Serialize;

/// A piece of a line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Span {
    Text(String),
    Strong(String),
    /// A value as typed or read: a command, a file, an op's value.
    Code(String),
}

/// One line of text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Line(pub Vec<Span>);

impl Line {
    /// A line from a sentence that marks its values with backticks and its
    /// emphasis with double asterisks, as the report's sentences are
    /// written; a sentence whose marks do not pair stays plain text.
    pub fn rich(text: &str) -> Line {
        let mut spans = Vec::new();
        let code: Vec<&str> = text.split('`').collect();
        if code.len().is_multiple_of(2) {
            return Line(vec![Span::Text(text.to_string())]);
        }
        for (i, part) in code.into_iter().enumerate() {
            if i % 2 == 1 {
                spans.push(Span::Code(part.to_string()));
                continue;
            }
            let strong: Vec<&str> = part.split("**").collect();
            if strong.len().is_multiple_of(2) {
                spans.push(Span::Text(part.to_string()));
                continue;
            }
            for (j, piece) in strong.into_iter().enumerate() {
                match j % 2 {
                    1 => spans.push(Span::Strong(piece.to_string())),
                    _ if piece.is_empty() => {}
                    _ => spans.push(Span::Text(piece.to_string())),
                }
            }
        }
        Line(spans)
    }

    pub fn plain(text: impl Into<String>) -> Line {
        Line(vec![Span::Text(text.into())])
    }

    /// The line without its marks.
    pub fn words(&self) -> String {
        self.0
            .iter()
            .map(|s| match s {
                Span::Text(t) | Span::Strong(t) | Span::Code(t) => t.as_str(),
            })
            .collect()
    }
}

/// A list item and the items under it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    pub line: Line,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Item>,
}

impl Item {
    pub fn rich(text: &str) -> Item {
        Item {
            line: Line::rich(text),
            items: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "block")]
pub enum Block {
    List {
        items: Vec<Item>,
    },
    Table {
        head: Vec<String>,
        rows: Vec<Vec<Line>>,
    },
    Paragraph {
        line: Line,
    },
    /// A plot file beside the report, with what it shows.
    Plot {
        file: String,
        alt: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Section {
    pub heading: String,
    pub blocks: Vec<Block>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_become_spans_and_unpaired_ones_stay_text() {
        assert_eq!(
            Line::rich("op **3** on `n1 | n2`, ok").0,
            [
                Span::Text("op ".into()),
                Span::Strong("3".into()),
                Span::Text(" on ".into()),
                Span::Code("n1 | n2".into()),
                Span::Text(", ok".into()),
            ]
        );
        assert_eq!(Line::rich("a ` b").0, [Span::Text("a ` b".into())]);
        assert_eq!(Line::rich("`**x**`").0, [Span::Code("**x**".into())]);
        assert_eq!(Line::rich("op **3** on `n1`").words(), "op 3 on n1");
    }
}
