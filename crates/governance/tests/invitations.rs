//! Invitations in the domain, on SQLite and PostgreSQL: a code is stored only as its hash
//! and never printed, and an acceptance racing a withdrawal of the same invitation waits
//! for it and is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::ORG;
use governance::access::{Caller, Role};
use governance::invitations::{self, Closed};
use governance::users::Password;
use governance::{Error, members};
use pinward_tests::{Backend, TestDb, on_both_databases};

const PASSWORD: &str = "correct horse battery staple";

/// Every stored column of the org's invitations, as text.
async fn stored(db: &TestDb) -> String {
    use sqlx::Connection;
    let columns = "id || '|' || email || '|' || role || '|' || clients || '|' || code_hash || '|' || created_by";
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            let sql = format!("SELECT group_concat({columns}, ';') FROM invitations");
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
        Backend::Postgres => {
            let mut held = common::held_transaction(db, &[]).await;
            let sql = format!("SELECT string_agg({columns}, ';') FROM invitations");
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut held)
                .await
                .unwrap()
        }
    }
}

fn admin() -> Caller {
    Caller::cli(ORG)
}

on_both_databases! {
    async fn a_code_is_stored_only_as_its_hash_and_never_printed(db) {
        let store = common::org_store(&db).await;
        let (invitation, code) = invitations::invite(&store, &admin(), "Ann@Example.com", Role::Ops, &[]).await.unwrap();
        assert_eq!(invitation.email, "ann@example.com");
        assert_eq!(format!("{code:?}"), "InvitationCode(redacted)");
        let rows = stored(&db).await;
        assert!(rows.contains("ann@example.com"), "{rows}");
        assert!(!rows.contains(code.expose()), "the code is not stored: {rows}");
        let secret = code.expose().rsplit('_').next().unwrap();
        assert!(!rows.contains(secret), "nor its random part");

        let (user, joined) = invitations::accept_new(&store, &code, "Ann", Password::new(PASSWORD.to_owned())).await.unwrap();
        assert_eq!((user.email.as_str(), joined.member.role, joined.org_id.as_str()), ("ann@example.com", Role::Ops, ORG));
        let again = invitations::accept(&store, &code, &user.id).await.unwrap_err();
        assert!(matches!(again, Error::Invitation(Closed::Accepted)), "{again:?}");
    }

    async fn an_account_accepts_only_an_invitation_of_its_own_email(db) {
        let store = common::org_store(&db).await;
        let (_, first) = invitations::invite(&store, &admin(), "ann@example.com", Role::Ops, &[]).await.unwrap();
        let (ann, _) = invitations::accept_new(&store, &first, "Ann", Password::new(PASSWORD.to_owned())).await.unwrap();
        let (_, for_bob) = invitations::invite(&store, &admin(), "bob@example.com", Role::Admin, &[]).await.unwrap();
        let refused = invitations::accept(&store, &for_bob, &ann.id).await.unwrap_err();
        assert!(matches!(&refused, Error::Invalid { field: "email", problem } if problem.contains("bob@example.com")), "{refused:?}");
        let ann_now = members::find_by_email(&store, &admin(), "ann@example.com").await.unwrap();
        assert_eq!(ann_now.role, Role::Ops, "nothing changed");
        assert_eq!(invitations::open(&store, &admin()).await.unwrap().len(), 1, "the code still works for bob");

        // Made a member meanwhile by the operator: the code is refused, nothing changes.
        members::add_new_user(&store, &admin(), &governance::users::NewUser {
            email: "bob@example.com".to_owned(),
            display_name: "Bob".to_owned(),
            password: Some(Password::new(PASSWORD.to_owned())),
        }, Role::Ops, &[]).await.unwrap();
        let bob = governance::users::find_by_email(&store, "bob@example.com").await.unwrap().unwrap();
        let refused = invitations::accept(&store, &for_bob, &bob.id).await.unwrap_err();
        assert!(matches!(&refused, Error::Conflict { constraint } if constraint == "members_org_user_uq"), "{refused:?}");
        let refused = invitations::accept_new(&store, &for_bob, "Bob", Password::new(PASSWORD.to_owned())).await.unwrap_err();
        assert!(matches!(&refused, Error::Conflict { constraint } if constraint == "users_email_uq"), "{refused:?}");
        let bob_now = members::find_by_email(&store, &admin(), "bob@example.com").await.unwrap();
        assert_eq!(bob_now.role, Role::Ops, "still as the operator made them");
    }

    async fn two_acceptances_of_one_code_at_once_make_one_account_and_one_member(db) {
        let store = common::org_store(&db).await;
        let (_, code) = invitations::invite(&store, &admin(), "ann@example.com", Role::Ops, &[]).await.unwrap();
        let (first, second) = tokio::join!(
            invitations::accept_new(&store, &code, "Ann", Password::new(PASSWORD.to_owned())),
            invitations::accept_new(&store, &code, "Ann in another tab", Password::new(PASSWORD.to_owned())),
        );
        let refused = match (first, second) {
            (Ok(_), Err(refused)) | (Err(refused), Ok(_)) => refused,
            (first, second) => panic!("one acceptance, not {first:?} and {second:?}"),
        };
        // The second waits for the first and finds the code used; or, arriving after it, the
        // account already made.
        assert!(
            matches!(&refused, Error::Invitation(Closed::Accepted))
                || matches!(&refused, Error::Conflict { constraint } if constraint == "users_email_uq"),
            "{refused:?}"
        );
        assert_eq!(members::list(&store, &admin()).await.unwrap().len(), 1);
        let added = common::ledger(&store).await.iter().filter(|(action, _)| action == "member.added").count();
        assert_eq!(added, 1, "ledgered once");
        assert!(invitations::open(&store, &admin()).await.unwrap().is_empty());
    }
}

/// Runs `work` while a transaction of the test's own withdraws the org's invitations and
/// holds their rows (PostgreSQL); commits it once `work` waits for them.
async fn while_a_withdrawal_is_held<T>(db: &TestDb, work: impl Future<Output = T>) -> T {
    let mut held = common::held_transaction(
        db,
        &["UPDATE invitations SET withdrawn_at = now() WHERE org_id = $1"],
    )
    .await;
    let committing = async {
        common::until_waiting(&mut held, 1).await;
        sqlx::query("COMMIT").execute(&mut held).await.unwrap();
    };
    let (done, ()) = tokio::join!(work, committing);
    done
}

#[tokio::test]
async fn an_acceptance_racing_a_withdrawal_waits_for_it_and_is_refused() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = common::org_store(&db).await;
    let (_, code) = invitations::invite(&store, &admin(), "ann@example.com", Role::Ops, &[])
        .await
        .unwrap();
    let accepting =
        invitations::accept_new(&store, &code, "Ann", Password::new(PASSWORD.to_owned()));
    let refused = while_a_withdrawal_is_held(&db, accepting)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::Invitation(Closed::Withdrawn)),
        "{refused:?}"
    );
    let members = members::list(&store, &admin()).await.unwrap();
    assert!(members.is_empty(), "nobody joined: {members:?}");
}

#[tokio::test]
async fn inviting_again_while_the_earlier_invitation_is_being_withdrawn_ledgers_it_once() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = common::org_store(&db).await;
    invitations::invite(&store, &admin(), "ann@example.com", Role::Ops, &[])
        .await
        .unwrap();
    let caller = admin();
    let inviting = invitations::invite(&store, &caller, "ann@example.com", Role::Admin, &[]);
    while_a_withdrawal_is_held(&db, inviting).await.unwrap();
    let withdrawn = common::ledger(&store)
        .await
        .iter()
        .filter(|(action, _)| action == "member.invitation_withdrawn")
        .count();
    assert_eq!(
        withdrawn, 0,
        "the withdrawal that won stands; it is not written over"
    );
    let open = invitations::open(&store, &admin()).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0].role,
        Role::Admin,
        "the new invitation is the open one"
    );
}
