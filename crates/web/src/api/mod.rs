//! The JSON API under `/api/v1`, for scripts: org-scoped bearer tokens, problem+json
//! errors, and an OpenAPI 3 document generated from these handlers' annotations, so the
//! document cannot drift from the code.

mod input;
mod ledger;
mod me;
mod members;
mod numbers;
mod problem;
mod seats;
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
                        "An org-scoped API token (Settings → API tokens, or `pinward admin token create`).",
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

/// The query parameters whose handlers parse a closed set of words from text (so a wrong
/// one is a problem naming the field, not a bare rejection): their words, listed from the
/// domain's own lists so the document never drifts from what is accepted.
fn with_closed_values(mut document: Document) -> Document {
    use governance::custody::PinState;
    use governance::health::Problem;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let problems: Vec<&str> = Problem::ALL
        .iter()
        .map(|p| p.as_str())
        .chain([crate::pages::numbers::UNHEALTHY])
        .collect();
    let sets: [(&str, &str, Vec<&str>); 4] = [
        (
            "/api/v1/numbers",
            "state",
            PinState::ALL.iter().map(|s| s.as_str()).collect(),
        ),
        ("/api/v1/numbers", "problem", problems.clone()),
        ("/api/v1/numbers", "health", problems),
        (
            "/api/v1/ledger/export",
            "format",
            crate::ledger_download::FORMATS.to_vec(),
        ),
    ];
    for (path, name, words) in sets {
        let parameters = document
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.get.as_mut())
            .and_then(|get| get.parameters.as_mut());
        let inline = parameters.into_iter().flatten().filter_map(|p| match p {
            utoipa::openapi::RefOr::T(parameter) => Some(parameter),
            utoipa::openapi::RefOr::Ref(_) => None,
        });
        for parameter in inline.filter(|p| p.name == name) {
            let schema = ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(words.iter().copied()))
                .build();
            parameter.schema = Some(schema.into());
        }
    }
    document
}

/// The document as served: the generated one, completed.
fn completed(document: Document) -> Document {
    with_closed_values(with_unauthorized(document))
}

/// The API routes and the OpenAPI document describing them.
pub(crate) fn routes() -> axum::Router<AppState> {
    let (router, document) = api_router().split_for_parts();
    let document = completed(document);
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
    completed(document)
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(me::me))
        .routes(routes!(numbers::list))
        .routes(routes!(numbers::record))
        .routes(routes!(seats::show, seats::assign))
        .routes(routes!(numbers::rotate))
        .routes(routes!(numbers::take_custody))
        .routes(routes!(members::list))
        .routes(routes!(ledger::export))
        .routes(routes!(ledger::status))
        .routes(routes!(sync::sync))
}
