//! Bar charts drawn on the server as inline SVG: pure geometry, no I/O. The overview's
//! template (`templates/_chart.html`) prints a [`Chart`]'s marks as `<rect>` and `<text>`
//! with classes from `static/pinward.css` (the CSP allows no inline style), and its
//! `<title>`, `<desc>` and a table of the same figures for screen readers and text browsers.
//!
//! Bars are proportional to their value against the largest one; a chart whose values are
//! all zero draws no bar and says so.

/// Which way the bars grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Columns rising from a baseline, labels below (few, short labels).
    Up,
    /// Bars growing rightwards, labels on the left (many or long labels).
    Right,
}

/// One bar with its label and value, placed in the chart's coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// What the bar stands for.
    pub label: String,
    /// Its value.
    pub value: u64,
    /// Where the figures table and the bar link to (the filtered numbers list), if anywhere.
    pub href: Option<String>,
    /// Drawn in the warning colour: the bucket is a problem in itself.
    pub warn: bool,
    /// The bar's rectangle.
    pub x: u32,
    /// The bar's top.
    pub y: u32,
    /// The bar's width.
    pub width: u32,
    /// The bar's height.
    pub height: u32,
    /// Where the label is anchored.
    pub label_x: u32,
    /// Where the label's baseline is.
    pub label_y: u32,
    /// Where the value is anchored.
    pub value_x: u32,
    /// Where the value's baseline is.
    pub value_y: u32,
}

/// A chart ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// An id unique on the page (for `aria-labelledby`).
    pub id: &'static str,
    /// Its title (the SVG `<title>` and the heading).
    pub title: String,
    /// What it shows, in a sentence (the SVG `<desc>`).
    pub desc: String,
    /// `up` or `right`: the CSS class that anchors labels.
    pub direction: &'static str,
    /// The drawing's size.
    pub width: u32,
    /// The drawing's height.
    pub height: u32,
    /// Every bar, in the order given.
    pub marks: Vec<Mark>,
    /// Every value is zero (or there is no bar): nothing to draw.
    pub empty: bool,
    /// The baseline: the y of the columns' foot (`Up`) or the x of the bars' start (`Right`).
    pub axis: u32,
    /// The other end of the baseline.
    pub axis_end: u32,
}

/// One bar to draw: its label, value and link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datum {
    /// What it stands for.
    pub label: String,
    /// How many.
    pub value: u64,
    /// Where it links to.
    pub href: Option<String>,
    /// The bucket is a problem in itself (overdue, no PIN).
    pub warn: bool,
}

const WIDTH: u32 = 720;
/// `Up`: room above the tallest column for its value, and below the baseline for labels.
const TOP: u32 = 20;
const BOTTOM: u32 = 28;
const PLOT_HEIGHT: u32 = 180;
/// `Right`: the label column, one row per bar, room for the value after the longest bar.
const LABEL_COLUMN: u32 = 340;
const ROW: u32 = 24;
const VALUE_ROOM: u32 = 50;

/// `value / max` of `length`, rounded to the nearest unit (0 when max is 0).
fn scale(value: u64, max: u64, length: u32) -> u32 {
    if max == 0 {
        return 0;
    }
    let scaled = (u128::from(value) * u128::from(length) + u128::from(max) / 2) / u128::from(max);
    u32::try_from(scaled).unwrap_or(length).min(length)
}

/// Lays out `data` as a bar chart.
#[must_use]
pub fn chart(
    id: &'static str,
    title: &str,
    desc: &str,
    direction: Direction,
    data: Vec<Datum>,
) -> Chart {
    let max = data.iter().map(|d| d.value).max().unwrap_or(0);
    let n = u32::try_from(data.len()).unwrap_or(u32::MAX).max(1);
    let (height, axis, axis_end) = match direction {
        Direction::Up => (TOP + PLOT_HEIGHT + BOTTOM, TOP + PLOT_HEIGHT, WIDTH),
        Direction::Right => (n * ROW + 8, LABEL_COLUMN, n * ROW + 4),
    };
    let marks = data
        .into_iter()
        .zip(0u32..)
        .map(|(d, i)| match direction {
            Direction::Up => {
                let slot = WIDTH / n;
                let bar_height = scale(d.value, max, PLOT_HEIGHT);
                let x = i * slot + slot / 6;
                let centre = i * slot + slot / 2;
                Mark {
                    x,
                    y: TOP + PLOT_HEIGHT - bar_height,
                    width: slot - slot / 3,
                    height: bar_height,
                    label_x: centre,
                    label_y: TOP + PLOT_HEIGHT + 18,
                    value_x: centre,
                    value_y: TOP + PLOT_HEIGHT - bar_height - 4,
                    label: d.label,
                    value: d.value,
                    href: d.href,
                    warn: d.warn,
                }
            }
            Direction::Right => {
                let length = scale(d.value, max, WIDTH - LABEL_COLUMN - VALUE_ROOM);
                let y = i * ROW + 4;
                Mark {
                    x: LABEL_COLUMN,
                    y,
                    width: length,
                    height: ROW - 6,
                    label_x: LABEL_COLUMN - 8,
                    label_y: y + ROW / 2 + 4,
                    value_x: LABEL_COLUMN + length + 6,
                    value_y: y + ROW / 2 + 4,
                    label: d.label,
                    value: d.value,
                    href: d.href,
                    warn: d.warn,
                }
            }
        })
        .collect();
    Chart {
        id,
        title: title.to_owned(),
        desc: desc.to_owned(),
        direction: match direction {
            Direction::Up => "up",
            Direction::Right => "right",
        },
        width: WIDTH,
        height,
        marks,
        empty: max == 0,
        axis,
        axis_end,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use askama::Template;

    use super::*;

    fn data(values: &[u64]) -> Vec<Datum> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Datum {
                label: format!("bucket {i}"),
                value: *v,
                href: None,
                warn: false,
            })
            .collect()
    }

    #[test]
    fn column_heights_are_proportional_to_the_values_and_stand_on_one_baseline() {
        let c = chart("c", "t", "d", Direction::Up, data(&[10, 5, 0, 20]));
        let heights: Vec<u32> = c.marks.iter().map(|m| m.height).collect();
        assert_eq!(heights, [90, 45, 0, 180]);
        assert!(c.marks.iter().all(|m| m.y + m.height == c.axis));
        assert!(!c.empty);
        // Columns do not overlap and stay inside the drawing.
        for pair in c.marks.windows(2) {
            assert!(pair[0].x + pair[0].width < pair[1].x);
        }
        let last = c.marks.last().unwrap();
        assert!(last.x + last.width <= c.width);
    }

    #[test]
    fn bar_lengths_are_proportional_and_each_row_has_its_own_line() {
        let c = chart("c", "t", "d", Direction::Right, data(&[3, 6, 1]));
        let room = WIDTH - LABEL_COLUMN - VALUE_ROOM;
        let lengths: Vec<u32> = c.marks.iter().map(|m| m.width).collect();
        assert_eq!(lengths, [room / 2, room, scale(1, 6, room)]);
        assert!(c.marks.iter().all(|m| m.x == c.axis));
        assert!(c.marks.windows(2).all(|p| p[0].y + p[0].height < p[1].y));
        assert!(c.marks.iter().all(|m| m.y + m.height <= c.height));
    }

    #[test]
    fn zero_data_draws_an_empty_chart() {
        for direction in [Direction::Up, Direction::Right] {
            let c = chart("c", "t", "d", direction, data(&[0, 0, 0]));
            assert!(c.empty);
            assert!(c.marks.iter().all(|m| m.height == 0 || m.width == 0));
            let none = chart("c", "t", "d", direction, Vec::new());
            assert!(none.empty && none.marks.is_empty());
        }
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let c = chart(
            "c",
            "t",
            "d",
            Direction::Up,
            data(&[u64::MAX, u64::MAX / 2]),
        );
        assert_eq!(c.marks[0].height, PLOT_HEIGHT);
        assert_eq!(c.marks[1].height, PLOT_HEIGHT / 2);
    }

    #[derive(Template)]
    #[template(source = "{% include \"_chart.html\" %}", ext = "html")]
    struct OneChart {
        chart: Chart,
    }

    #[test]
    fn labels_titles_and_links_are_escaped_by_the_template() {
        let mut d = data(&[1]);
        d[0].label = "<script>x</script>".to_owned();
        d[0].href = Some("/numbers?health=\"><b>".to_owned());
        let html = OneChart {
            chart: chart("c", "A & <B>", "say \"hi\"", Direction::Up, d),
        }
        .render()
        .unwrap();
        assert!(
            !html.contains("<script>") && !html.contains("<B>") && !html.contains("\"><b>"),
            "{html}"
        );
        assert!(
            html.contains("&#60;script&#62;x&#60;/script&#62;"),
            "{html}"
        );
        assert!(
            html.contains("<svg") && html.contains("<title") && html.contains("<desc"),
            "{html}"
        );
        assert!(
            html.contains("<table"),
            "a text table backs the drawing: {html}"
        );
    }

    #[test]
    fn an_empty_chart_says_there_is_nothing_to_show() {
        let html = OneChart {
            chart: chart("c", "t", "d", Direction::Right, data(&[0, 0])),
        }
        .render()
        .unwrap();
        assert!(html.contains("Nothing to show yet"), "{html}");
        assert!(!html.contains("<rect class=\"bar"), "{html}");
    }
}
