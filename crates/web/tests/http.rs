//! The web layer's HTTP contract, request by request through the real router on both
//! databases: security headers, the session cookie on both schemes, the CSRF and origin
//! checks, errors as pages and as problem+json, metrics and the OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use pinward_tests::on_both_databases;

on_both_databases! {
    async fn every_page_carries_the_security_headers_and_is_not_cached(db) {
        let app = app(&db, None).await;
        let response = send(&app, get("/signin")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let csp = header(&response, "content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "referrer-policy"), "same-origin");
        assert_eq!(header(&response, "cache-control"), "no-store");
        assert!(
            response.headers().get("strict-transport-security").is_none(),
            "no HSTS over plain HTTP"
        );

        let missing = send(&app, get("/no/such/page")).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(header(&missing, "content-security-policy").contains("frame-ancestors 'none'"));
    }

    async fn over_https_the_service_sends_hsts(db) {
        let app = app(&db, Some("https://pinward.example.com")).await;
        let response = send(&app, get("/signin")).await;
        assert!(header(&response, "strict-transport-security").starts_with("max-age="));
    }

    async fn over_https_the_session_cookie_is_host_prefixed_secure_httponly_and_strict(db) {
        let app = app(&db, Some("https://pinward.example.com")).await;
        let response = send(&app, get("/signin")).await;
        let cookie = header(&response, "set-cookie");
        assert!(cookie.starts_with("__Host-pinward="), "{cookie}");
        for flag in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(flag), "{flag} missing: {cookie}");
        }
        assert!(!cookie.contains("Domain"), "a __Host- cookie has no Domain: {cookie}");
    }

    async fn over_plain_http_the_session_cookie_drops_secure_and_the_host_prefix(db) {
        let app = app(&db, None).await;
        let response = send(&app, get("/signin")).await;
        let cookie = header(&response, "set-cookie");
        assert!(cookie.starts_with("pinward="), "{cookie}");
        assert!(!cookie.contains("Secure"), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    }

    async fn a_same_origin_form_post_with_the_sessions_token_goes_through(db) {
        let app = app(&db, None).await;
        let visit = visit_sign_in(&app).await;
        let request = post_form("/signout", &visit)
            .header(header::ORIGIN, "http://127.0.0.1:8080")
            .header("sec-fetch-site", "same-origin")
            .body(form_body(&visit, ""))
            .unwrap();
        let response = send(&app, request).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&response, "location"), "/signin");
    }

    async fn a_post_without_the_csrf_token_is_refused(db) {
        let app = app(&db, None).await;
        let visit = visit_sign_in(&app).await;
        let request = post_form("/signout", &visit)
            .header(header::ORIGIN, "http://127.0.0.1:8080")
            .body(Body::from("email=a%40b.c"))
            .unwrap();
        let response = send(&app, request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let page = text(response).await;
        assert!(page.contains("security token is missing"), "{page}");
    }

    async fn a_post_with_another_sessions_token_is_refused(db) {
        let app = app(&db, None).await;
        let mine = visit_sign_in(&app).await;
        let theirs = visit_sign_in(&app).await;
        let request = post_form("/signout", &mine)
            .header("sec-fetch-site", "same-origin")
            .body(form_body(&theirs, ""))
            .unwrap();
        let response = send(&app, request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(text(response).await.contains("does not match"));
    }

    async fn a_post_saying_neither_where_nor_how_it_came_is_refused_even_with_the_token(db) {
        let app = app(&db, None).await;
        let visit = visit_sign_in(&app).await;
        let request = post_form("/signout", &visit).body(form_body(&visit, "")).unwrap();
        let response = send(&app, request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(text(response).await.contains("neither where it came from (Origin) nor how (Sec-Fetch-Site)"));
        for (name, value) in [("origin", "http://127.0.0.1:8080"), ("sec-fetch-site", "same-origin")] {
            let visit = visit_sign_in(&app).await;
            let request = post_form("/signout", &visit).header(name, value).body(form_body(&visit, "")).unwrap();
            assert_eq!(send(&app, request).await.status(), StatusCode::SEE_OTHER, "either will do: {name}");
        }
    }

    async fn a_post_from_another_origin_is_refused_even_with_the_token(db) {
        let app = app(&db, None).await;
        let visit = visit_sign_in(&app).await;
        for origin in ["https://evil.example", "http://127.0.0.1:9999", "null"] {
            let request = post_form("/signout", &visit)
                .header(header::ORIGIN, origin)
                .body(form_body(&visit, ""))
                .unwrap();
            let response = send(&app, request).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
            assert!(text(response).await.contains("another origin"), "{origin}");
        }
    }

    async fn a_cross_site_fetch_is_refused_even_with_the_token(db) {
        let app = app(&db, None).await;
        let visit = visit_sign_in(&app).await;
        for site in ["cross-site", "same-site"] {
            let request = post_form("/signout", &visit)
                .header("sec-fetch-site", site)
                .body(form_body(&visit, ""))
                .unwrap();
            let response = send(&app, request).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{site}");
            assert!(text(response).await.contains("another site"), "{site}");
        }
    }

    async fn with_a_public_url_only_its_origin_may_post(db) {
        let app = app(&db, Some("https://pinward.example.com")).await;
        let visit = visit_sign_in(&app).await;
        let forged = post_form("/signout", &visit)
            // The Host a proxy forwards is not what counts: the public URL is.
            .header(header::ORIGIN, "http://127.0.0.1:8080")
            .body(form_body(&visit, ""))
            .unwrap();
        assert_eq!(send(&app, forged).await.status(), StatusCode::FORBIDDEN);
        let genuine = post_form("/signout", &visit)
            .header(header::ORIGIN, "https://pinward.example.com")
            .body(form_body(&visit, ""))
            .unwrap();
        assert_eq!(send(&app, genuine).await.status(), StatusCode::SEE_OTHER);
    }

    async fn signing_out_is_not_possible_with_a_get(db) {
        let app = app(&db, None).await;
        let response = send(&app, get("/signout")).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    async fn the_dashboard_sends_a_visitor_without_a_session_to_sign_in(db) {
        let app = app(&db, None).await;
        let response = send(&app, get("/")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&response, "location"), "/signin");
    }

    async fn an_unknown_page_is_a_404_page_with_the_request_id(db) {
        let app = app(&db, None).await;
        let request = Request::get("/nowhere")
            .header("x-request-id", "ticket-7")
            .body(Body::empty())
            .unwrap();
        let response = send(&app, request).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(header(&response, "content-type").starts_with("text/html"));
        let page = text(response).await;
        assert!(page.contains("Not Found") && page.contains("ticket-7"), "{page}");

        for unusable in ["x".repeat(129), "ticket 7".to_owned(), "<b>7</b>".to_owned()] {
            let request = Request::get("/nowhere").header("x-request-id", unusable.as_str()).body(Body::empty()).unwrap();
            let response = send(&app, request).await;
            let replaced = header(&response, "x-request-id");
            assert!(replaced != unusable && uuid::Uuid::parse_str(replaced).is_ok(), "{unusable:?} is replaced by a fresh id: {replaced}");
        }
    }

    async fn api_errors_are_problem_documents(db) {
        let app = app(&db, None).await;
        let missing = send(&app, get("/api/v1/nothing-here")).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(header(&missing, "content-type"), "application/problem+json");
        let problem: serde_json::Value = serde_json::from_str(&text(missing).await).unwrap();
        assert_eq!(problem["status"], 404);
        assert_eq!(problem["title"], "Not Found");
        assert!(problem["request_id"].as_str().is_some_and(|id| !id.is_empty()));

        let wrong_method = send(&app, Request::delete("/api/v1/me").body(Body::empty()).unwrap()).await;
        assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(header(&wrong_method, "allow"), "GET,HEAD");
        let problem: serde_json::Value = serde_json::from_str(&text(wrong_method).await).unwrap();
        assert_eq!(problem["detail"], "this address does not take this method: the Allow header lists those it takes");

        let anonymous = send(&app, get("/api/v1/me")).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        assert!(header(&anonymous, "www-authenticate").starts_with("Bearer"));
        assert_eq!(header(&anonymous, "content-type"), "application/problem+json");
    }

    async fn metrics_count_requests_by_route_template(db) {
        let app = app(&db, None).await;
        send(&app, get("/signin")).await;
        send(&app, get("/static/pinward.css")).await;
        let response = send(&app, get("/metrics")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let metrics = text(response).await;
        assert!(
            metrics.contains(r#"pinward_http_requests_total{method="GET",route="/signin",status="200"} 1"#),
            "{metrics}"
        );
        assert!(metrics.contains(r#"route="/static/{file}""#), "{metrics}");
        assert!(metrics.contains("pinward_http_request_duration_seconds_bucket"), "{metrics}");
        assert!(
            metrics.contains(r#"pinward_pin_rotations_total{outcome="rotated"} 0"#),
            "{metrics}"
        );
    }

    async fn the_openapi_document_describes_the_api_and_its_bearer_tokens(db) {
        let app = app(&db, None).await;
        let response = send(&app, get("/api/v1/openapi.json")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let document: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3."));
        for path in ["/api/v1/me", "/api/v1/numbers", "/api/v1/numbers/{phone_number_id}"] {
            assert!(document["paths"][path]["get"].is_object(), "{path}: {document}");
        }
        assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        assert!(document["components"]["schemas"]["Problem"].is_object());
    }

    async fn the_stylesheet_and_script_are_served_by_pinward_and_cacheable(db) {
        let app = app(&db, None).await;
        let css = send(&app, get("/static/pinward.css")).await;
        assert_eq!(css.status(), StatusCode::OK);
        assert!(header(&css, "content-type").starts_with("text/css"));
        assert!(header(&css, "cache-control").starts_with("public"));
        let js = send(&app, get("/static/pinward.js")).await;
        assert!(header(&js, "content-type").starts_with("text/javascript"));
        let icon = send(&app, get("/static/favicon.svg")).await;
        assert_eq!(header(&icon, "content-type"), "image/svg+xml");
        let signin = text(send(&app, get("/signin")).await).await;
        assert!(signin.contains("<link rel=\"icon\" href=\"/static/favicon.svg\""), "every page names its icon, so no /favicon.ico 404");
        assert_eq!(send(&app, get("/static/other.js")).await.status(), StatusCode::NOT_FOUND);
    }
}
