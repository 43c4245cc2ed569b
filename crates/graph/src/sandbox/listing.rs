//! Cursor paging as Meta does it (GRAPH_API.md §2.4, §5.6): opaque cursors, absolute `next`
//! and `previous` links (absent at the ends), `summary.total_count`, and optionally the quirk
//! of a last full page that still has `next`, leading to an empty page.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::envelope::GraphError;

/// A request's paging parameters.
#[derive(Debug, Clone)]
pub(crate) struct PageReq {
    pub limit: usize,
    pub after: Option<usize>,
    pub before: Option<usize>,
    pub total_count: bool,
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn encode(index: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("sbx:{index}"))
}

fn decode(cursor: &str) -> Result<usize, GraphError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("sbx:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| GraphError::new(100).title("Invalid cursor"))
}

impl PageReq {
    pub(crate) fn parse(
        query: &[(String, String)],
        default_limit: u32,
        max_limit: u32,
    ) -> Result<Self, GraphError> {
        let limit = match param(query, "limit") {
            None => default_limit,
            Some(l) => l
                .parse::<u32>()
                .ok()
                .filter(|l| *l > 0)
                .ok_or_else(|| GraphError::new(100).title("Invalid limit"))?
                .min(max_limit),
        };
        Ok(PageReq {
            limit: limit as usize,
            after: param(query, "after").map(decode).transpose()?,
            before: param(query, "before").map(decode).transpose()?,
            total_count: param(query, "summary")
                .is_some_and(|s| s.split(',').any(|p| p == "total_count")),
        })
    }

    /// The slice of `len` items this page holds, and the `paging`/`summary` members.
    pub(crate) fn cut(
        &self,
        len: usize,
        link: impl Fn(&str, &str) -> String,
        trailing_empty_page: bool,
    ) -> (std::ops::Range<usize>, serde_json::Map<String, Value>) {
        let (start, end) = match (self.after, self.before) {
            (Some(a), _) => {
                let s = (a + 1).min(len);
                (s, (s + self.limit).min(len))
            }
            (None, Some(b)) => {
                let e = b.min(len);
                (e.saturating_sub(self.limit), e)
            }
            (None, None) => (0, self.limit.min(len)),
        };
        let mut extra = serde_json::Map::new();
        if start < end {
            let mut paging = json!({
                "cursors": {"before": encode(start), "after": encode(end - 1)},
            });
            if end < len || trailing_empty_page {
                paging["next"] = json!(link("after", &encode(end - 1)));
            }
            if start > 0 {
                paging["previous"] = json!(link("before", &encode(start)));
            }
            extra.insert("paging".into(), paging);
        }
        if self.total_count {
            extra.insert("summary".into(), json!({"total_count": len}));
        }
        (start..end, extra)
    }
}

/// Builds absolute links to the same listing with another cursor.
pub(crate) fn linker(
    base: String,
    path: String,
    query: Vec<(String, String)>,
) -> impl Fn(&str, &str) -> String {
    move |kind: &str, cursor: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &query {
            if !matches!(
                k.as_str(),
                "after" | "before" | "access_token" | "appsecret_proof"
            ) {
                q.append_pair(k, v);
            }
        }
        q.append_pair(kind, cursor);
        format!("{base}{path}?{}", q.finish())
    }
}

/// A `filtering` entry.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Filter {
    pub field: String,
    pub operator: String,
    pub value: Value,
}

pub(crate) fn filters(query: &[(String, String)]) -> Result<Vec<Filter>, GraphError> {
    match param(query, "filtering") {
        None => Ok(Vec::new()),
        Some(f) => serde_json::from_str(f).map_err(|_| {
            GraphError::new(100).title("Param filtering must be a JSON array of filters")
        }),
    }
}

/// The `fields` parameter, or the defaults.
pub(crate) fn fields<'a>(query: &'a [(String, String)], default: &[&'a str]) -> Vec<&'a str> {
    match param(query, "fields") {
        Some(f) if !f.trim().is_empty() => f
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect(),
        _ => default.to_vec(),
    }
}

pub(crate) fn get<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    param(query, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(limit: usize, after: Option<usize>) -> PageReq {
        PageReq {
            limit,
            after,
            before: None,
            total_count: false,
        }
    }

    #[test]
    fn the_last_page_has_no_next() {
        let link = |k: &str, c: &str| format!("{k}={c}");
        let (r, extra) = req(10, Some(19)).cut(25, link, false);
        assert_eq!(r, 20..25);
        assert!(extra["paging"].get("next").is_none());
        assert!(extra["paging"].get("previous").is_some());
    }

    #[test]
    fn the_quirk_adds_next_to_the_last_page_then_an_empty_page_follows() {
        let link = |k: &str, c: &str| format!("{k}={c}");
        let (_, extra) = req(5, Some(19)).cut(25, link, true);
        assert!(extra["paging"].get("next").is_some());
        let (r, extra) = req(5, Some(24)).cut(25, link, true);
        assert!(r.is_empty());
        assert!(extra.get("paging").is_none());
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode(&encode(1234)).unwrap(), 1234);
        assert!(decode("not-a-cursor").is_err());
    }
}
