//! The org's policies: review cadence, maximum PIN age, rotation after reveal and handover.

use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use governance::policies::Policy;
use serde::Deserialize;
use tower_sessions::Session;

use super::{FormProblem, PolicyForm, Typed, done, settings_page};
use crate::AppState;
use crate::auth::{Authorized, ManageOrg};
use crate::error::AppError;
use crate::page::PageContext;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/settings/policies", post(set))
}

const FORM: &str = "policies";

pub(super) fn form_of(policy: Policy) -> PolicyForm {
    PolicyForm {
        review_cadence_days: policy.review_cadence_days.to_string(),
        max_pin_age_days: policy.max_pin_age_days.to_string(),
        rotate_after_reveal: policy.rotate_after_reveal,
        rotate_on_handover: policy.rotate_on_handover,
    }
}

/// The form as posted: an unticked checkbox sends nothing.
#[derive(Debug, Deserialize)]
struct Posted {
    #[serde(default)]
    review_cadence_days: String,
    #[serde(default)]
    max_pin_age_days: String,
    rotate_after_reveal: Option<String>,
    rotate_on_handover: Option<String>,
}

/// A number of days typed into `field`, checked alone against its range.
fn days(
    field: &'static str,
    text: &str,
    check: fn(u32) -> Result<(), governance::Error>,
) -> Result<u32, governance::Error> {
    let days = text
        .trim()
        .parse()
        .map_err(|_| governance::Error::Invalid {
            field,
            problem: "must be a whole number of days".to_owned(),
        })?;
    check(days).map(|()| days)
}

async fn set(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    page: PageContext,
    Form(posted): Form<Posted>,
) -> Result<Response, AppError> {
    let typed = PolicyForm {
        review_cadence_days: posted.review_cadence_days.clone(),
        max_pin_age_days: posted.max_pin_age_days.clone(),
        rotate_after_reveal: posted.rotate_after_reveal.is_some(),
        rotate_on_handover: posted.rotate_on_handover.is_some(),
    };
    let review = days(
        "review_cadence_days",
        &posted.review_cadence_days,
        governance::policies::check_review_cadence,
    );
    let age = days(
        "max_pin_age_days",
        &posted.max_pin_age_days,
        governance::policies::check_max_pin_age,
    );
    let set = match (review, age) {
        (Ok(review_cadence_days), Ok(max_pin_age_days)) => {
            let policy = Policy {
                review_cadence_days,
                max_pin_age_days,
                rotate_after_reveal: typed.rotate_after_reveal,
                rotate_on_handover: typed.rotate_on_handover,
            };
            governance::policies::set(&state.store, &who.caller, policy, chrono::Utc::now())
                .await
                .map_err(|error| vec![error])
        }
        (review, age) => Err([review.err(), age.err()].into_iter().flatten().collect()),
    };
    match set {
        Ok(_) => done(&session, "policies", "The policies are saved.").await,
        Err(errors) => {
            let problem = FormProblem::all(FORM, errors)?;
            let typed = Typed {
                policy: Some(typed),
                ..Typed::default()
            };
            settings_page(&state, &who, &session, page, Some(problem), typed).await
        }
    }
}
