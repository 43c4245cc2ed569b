//! Embedded Signup code exchange (GRAPH_API.md §2.8): a single-use `code` from the customer's
//! browser becomes a business-integration token, server to server, with the `oauth2` crate.
//!
//! `oauth2` runs over our own transport (the crate's defaults would pull a second reqwest),
//! so the exchange gets the same timeouts, error classification and secret scrubbing as every
//! other call. The code is single-use: the exchange is a write, never repeated once it may
//! have reached Meta. Then `debug_token` on the new token names the customer's WABAs.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use oauth2::basic::BasicClient;
use oauth2::{
    AsyncHttpClient, AuthType, AuthorizationCode, ClientId, ClientSecret, HttpRequest,
    HttpResponse, RequestTokenError, TokenResponse, TokenUrl,
};
use url::Url;
use zeroize::Zeroizing;

use crate::client::GraphClient;
use crate::error::Error;
use crate::ids::AppId;
use crate::secret::{AccessToken, AppSecret, SignupCode};
use crate::transport::{Auth, Call, FORM};

/// The Meta app that runs Embedded Signup.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    /// App id (`client_id`).
    pub id: AppId,
    /// App secret (`client_secret`).
    pub secret: AppSecret,
}

/// The token an exchange produced.
#[derive(Debug, Clone)]
pub struct ExchangedToken {
    /// The business-integration token.
    pub access_token: AccessToken,
    /// `expires_in`, when Meta sent one (read `debug_token`'s `expires_at` to be sure).
    pub expires_in: Option<Duration>,
}

/// `oauth2::AsyncHttpClient` over our transport.
struct OAuthHttp<'a> {
    client: &'a GraphClient,
    secrets: Vec<&'a str>,
}

type OAuthFuture<'c> = Pin<Box<dyn Future<Output = Result<HttpResponse, Error>> + Send + 'c>>;

impl<'c> AsyncHttpClient<'c> for OAuthHttp<'_> {
    type Error = Error;
    type Future = OAuthFuture<'c>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = Url::parse(&parts.uri.to_string())
                .map_err(|_| Error::Config("token URL does not parse".into()))?;
            let content_type = match parts.headers.get(CONTENT_TYPE) {
                Some(v) if v.as_bytes().starts_with(b"application/json") => crate::transport::JSON,
                _ => FORM,
            };
            // The form holds the app secret and the code.
            let body = Bytes::from_owner(Zeroizing::new(body));
            let answer = self
                .client
                .transport()
                .execute(Call {
                    route: "oauth_access_token",
                    method: parts.method,
                    url,
                    body: Some((body, content_type)),
                    write: true,
                    auth: Auth::None,
                    secrets: self.secrets.clone(),
                })
                .await?;
            let mut response = http::Response::builder().status(answer.status);
            for (name, value) in &answer.headers {
                response = response.header(name, value);
            }
            response
                .body(answer.body.to_vec())
                .map_err(|_| Error::Decode {
                    route: "oauth_access_token",
                    detail: "answer could not be rebuilt".into(),
                })
        })
    }
}

impl GraphClient {
    /// `oauth/access_token`: exchanges an Embedded Signup `code` for a token.
    ///
    /// Sent as a form `POST` (what `oauth2` does; Meta's samples use `GET` with the same
    /// parameters — the sandbox accepts both).
    pub async fn exchange_code(
        &self,
        app: &AppCredentials,
        code: &SignupCode,
    ) -> Result<ExchangedToken, Error> {
        let token_url = TokenUrl::from_url(self.url(&["oauth", "access_token"])?);
        let oauth = BasicClient::new(ClientId::new(app.id.to_string()))
            .set_client_secret(ClientSecret::new(app.secret.expose().to_owned()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(token_url);
        let http = OAuthHttp {
            client: self,
            secrets: vec![app.secret.expose(), code.expose()],
        };
        let response = oauth
            .exchange_code(AuthorizationCode::new(code.expose().to_owned()))
            .request_async(&http)
            .await
            .map_err(|e| match e {
                RequestTokenError::Request(err) => err,
                // Never keep oauth2's text or body: a parse error's body holds the token.
                RequestTokenError::ServerResponse(_)
                | RequestTokenError::Parse(..)
                | RequestTokenError::Other(_) => Error::Decode {
                    route: "oauth_access_token",
                    detail: "not an OAuth token response".into(),
                },
            })?;
        Ok(ExchangedToken {
            access_token: AccessToken::from(response.access_token().secret().as_str()),
            expires_in: response.expires_in(),
        })
    }
}
