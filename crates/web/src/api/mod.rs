//! The JSON API under `/api/v1`, for scripts: org-scoped bearer tokens, problem+json
//! errors, and an OpenAPI 3 document generated from these handlers' annotations, so the
//! document cannot drift from the code.

mod input;
mod ledger;
mod me;
mod members;
mod numbers;
mod problem;
mod sync;

use std::sync::Arc;

use axum::Json;
use axum::routing::get;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pinward API",
        description = "Escrow and governance of WhatsApp Business two-step verification PINs. \
                       Every call is scoped to the org of its bearer token; an object of \
                       another org is a 404. Errors are application/problem+json."
    ),
    components(schemas(Problem)),
    modifiers(&BearerToken),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An org-scoped API token (`pinward admin token create`).",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every operation answers 401 to a request without a valid token: documented once here
/// for all of them, so a generated client expects it everywhere.
fn with_unauthorized(mut document: Document) -> Document {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let unauthorized: RefOr<_> = ResponseBuilder::new()
        .description("No valid bearer token")
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into();
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation
                .responses
                .responses
                .entry("401".to_owned())
                .or_insert_with(|| unauthorized.clone());
        }
    }
    document
}

/// The API routes and the OpenAPI document describing them.
pub(crate) fn routes() -> axum::Router<AppState> {
    let (router, document) = api_router().split_for_parts();
    let document = with_unauthorized(document);
    let document = Arc::new(document);
    router.route(
        "/api/v1/openapi.json",
        get(move || {
            let document = Arc::clone(&document);
            async move { Json(document.as_ref().clone()) }
        }),
    )
}

/// The OpenAPI document, for tools that want it without a server.
#[must_use]
pub fn openapi() -> Document {
    let (_, document) = api_router().split_for_parts();
    with_unauthorized(document)
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(me::me))
        .routes(routes!(numbers::list))
        .routes(routes!(numbers::record))
        .routes(routes!(numbers::assign))
        .routes(routes!(numbers::rotate))
        .routes(routes!(numbers::take_custody))
        .routes(routes!(members::list))
        .routes(routes!(ledger::export))
        .routes(routes!(ledger::status))
        .routes(routes!(sync::sync))
}
