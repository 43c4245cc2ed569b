//! Cursor paging (GRAPH_API.md §2.4, [PAGE]): a page is `{"data":[…],"paging":{…}}`, and a
//! listing ends only when `paging.next` is absent — short or empty pages may still have one.
//!
//! The stream follows the `after` cursor with a request it builds itself, never the `next`
//! URL: the bearer token must only ever go to the configured base URL.

use futures_util::{Stream, StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use std::future::Future;

use crate::error::Error;

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Cursors and links; absent on an empty listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
    /// `summary=total_count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
}

/// `paging`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paging {
    /// `cursors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursors: Option<Cursors>,
    /// Absolute URL of the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Absolute URL of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

/// `paging.cursors`: opaque, not to be stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursors {
    /// Cursor to the page before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Cursor to the page after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// `summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Items in the whole listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
}

impl<T> Page<T> {
    /// There is a next page.
    pub fn has_next(&self) -> bool {
        self.paging.as_ref().is_some_and(|p| p.next.is_some())
    }

    /// The cursor to pass as `after` for the next page.
    pub fn after(&self) -> Option<&str> {
        self.paging
            .as_ref()
            .and_then(|p| p.cursors.as_ref())
            .and_then(|c| c.after.as_deref())
    }
}

enum Cursor {
    Start,
    After(String),
    Done,
}

/// Streams every item of a listing, fetching page after page with `fetch(after)`.
pub(crate) fn paged<'a, T, F, Fut>(
    route: &'static str,
    fetch: F,
) -> impl Stream<Item = Result<T, Error>> + Send + 'a
where
    T: Send + 'a,
    F: FnMut(Option<String>) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T>, Error>> + Send + 'a,
{
    stream::try_unfold(
        (fetch, Cursor::Start),
        move |(mut fetch, cursor)| async move {
            let after = match cursor {
                Cursor::Done => return Ok(None),
                Cursor::Start => None,
                Cursor::After(a) => Some(a),
            };
            let page = fetch(after.clone()).await?;
            let next = if !page.has_next() {
                Cursor::Done
            } else {
                match page.after() {
                    // A cursor that does not move would loop forever.
                    Some(a) if Some(a) != after.as_deref() => Cursor::After(a.to_owned()),
                    _ => {
                        return Err(Error::Decode {
                            route,
                            detail: "`next` without a new `after` cursor".into(),
                        });
                    }
                }
            };
            Ok(Some((page.data, (fetch, next))))
        },
    )
    .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}
