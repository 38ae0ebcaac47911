//! Authentication: the token endpoint's grants, refresh rotation, revocation, throttling,
//! forged tokens, and that no answer ever shows a secret.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, Options, TestApp, api_test, assert_problem};

async fn oauth_error(response: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"].is_string());
}

api_test!(
    the_password_grant_answers_tokens_in_json_and_form,
    |app| async move {
        let form = app.login("admin", ADMIN_PASSWORD).await;
        assert_eq!(form["token_type"], "Bearer");
        assert_eq!(form["expires_in"], 900);
        assert!(form["refresh_token"].is_string());

        let json_response = app
            .anonymous(Method::POST, "/api/v1/auth/token")
            .json(
                &json!({"grant_type": "password", "username": "ADMIN", "password": ADMIN_PASSWORD}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(json_response.status(), StatusCode::OK);
        assert_eq!(json_response.headers()[header::CACHE_CONTROL], "no-store");
        let token = json_response.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();

        let me: Value = app
            .request_as(&token, Method::GET, "/api/v1/me")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["kind"], "user");
        assert_eq!(me["name"], "admin");
        assert_eq!(me["role"], "admin");
    }
);

api_test!(
    wrong_credentials_and_bad_requests_get_rfc_6749_errors,
    |app| async move {
        let wrong = app
            .token_request(&[
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", "wrong-password-123"),
            ])
            .await;
        let wrong_body = wrong.text().await.unwrap();
        let unknown = app
            .token_request(&[
                ("grant_type", "password"),
                ("username", "nobody"),
                ("password", "wrong-password-123"),
            ])
            .await;
        assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
        let unknown_body = unknown.text().await.unwrap();
        let strip = |s: &str| {
            let mut v: Value = serde_json::from_str(s).unwrap();
            v.as_object_mut().unwrap().remove("request_id");
            v
        };
        assert_eq!(
            strip(&wrong_body),
            strip(&unknown_body),
            "an unknown user looks like a wrong password"
        );
        assert_eq!(strip(&wrong_body)["error"], "invalid_grant");

        oauth_error(
            app.token_request(&[("grant_type", "implicit")]).await,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        )
        .await;
        oauth_error(
            app.token_request(&[("username", "admin")]).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
        oauth_error(
            app.token_request(&[("grant_type", "password"), ("username", "admin")])
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
        oauth_error(
            app.token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", "bnc_x"),
                ("client_secret", "nope"),
            ])
            .await,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        )
        .await;
        let text = app
            .anonymous(Method::POST, "/api/v1/auth/token")
            .header(header::CONTENT_TYPE, "text/plain")
            .body("grant_type=password")
            .send()
            .await
            .unwrap();
        assert_problem(text, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    }
);

api_test!(
    refresh_tokens_rotate_and_a_reused_one_ends_the_sign_in,
    |app| async move {
        let first = app.login("admin", ADMIN_PASSWORD).await;
        let refresh1 = first["refresh_token"].as_str().unwrap();

        let second = app
            .token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh1)])
            .await;
        assert_eq!(second.status(), StatusCode::OK);
        let second: Value = second.json().await.unwrap();
        let refresh2 = second["refresh_token"].as_str().unwrap();
        assert_ne!(refresh1, refresh2);
        let me = app
            .request_as(
                second["access_token"].as_str().unwrap(),
                Method::GET,
                "/api/v1/me",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK);

        // Someone replays the first token: it fails, and so does the legitimate newer one.
        oauth_error(
            app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh1)])
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
        oauth_error(
            app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh2)])
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
        oauth_error(
            app.token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "made-up"),
            ])
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
    }
);

api_test!(a_revoked_refresh_token_no_longer_works, |app| async move {
    let tokens = app.login("admin", ADMIN_PASSWORD).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let revoke = app
        .anonymous(Method::POST, "/api/v1/auth/revoke")
        .form(&[("token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    let unknown = app
        .anonymous(Method::POST, "/api/v1/auth/revoke")
        .json(&json!({"token": "never-issued"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown.status(),
        StatusCode::OK,
        "unknown tokens answer 200 too"
    );

    oauth_error(
        app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
});

/// Creates a user and signs in; returns (user id, refresh token).
async fn user_with_session(app: &TestApp, role: &str) -> (i64, String) {
    let user: Value = app
        .post_json(
            "/api/v1/users",
            &json!({"username": "lisa", "password": "lisa-password-1", "role": role}),
        )
        .await
        .json()
        .await
        .unwrap();
    let tokens = app.login("lisa", "lisa-password-1").await;
    (
        user["id"].as_i64().unwrap(),
        tokens["refresh_token"].as_str().unwrap().to_owned(),
    )
}

api_test!(
    disabling_a_user_ends_sign_in_and_refresh_at_once,
    |app| async move {
        let (id, refresh) = user_with_session(&app, "editor").await;

        let patched = app
            .patch_json(&format!("/api/v1/users/{id}"), &json!({"disabled": true}))
            .await;
        assert_eq!(patched.status(), StatusCode::OK);

        oauth_error(
            app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
        oauth_error(
            app.token_request(&[
                ("grant_type", "password"),
                ("username", "lisa"),
                ("password", "lisa-password-1"),
            ])
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
    }
);

api_test!(
    a_role_change_or_new_password_ends_refresh,
    |app| async move {
        let (id, refresh) = user_with_session(&app, "editor").await;
        app.patch_json(&format!("/api/v1/users/{id}"), &json!({"role": "viewer"}))
            .await;
        oauth_error(
            app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
        let viewer = app.login("lisa", "lisa-password-1").await;
        let me: Value = app
            .request_as(
                viewer["access_token"].as_str().unwrap(),
                Method::GET,
                "/api/v1/me",
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["role"], "viewer");

        let refresh = viewer["refresh_token"].as_str().unwrap();
        app.patch_json(
            &format!("/api/v1/users/{id}"),
            &json!({"password": "a-brand-new-password"}),
        )
        .await;
        oauth_error(
            app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
        oauth_error(
            app.token_request(&[
                ("grant_type", "password"),
                ("username", "lisa"),
                ("password", "lisa-password-1"),
            ])
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
        app.login("lisa", "a-brand-new-password").await;
    }
);

api_test!(
    repeated_failures_are_throttled_with_retry_after,
    |app| async move {
        for _ in 0..5 {
            let response = app
                .token_request(&[
                    ("grant_type", "password"),
                    ("username", "Admin"),
                    ("password", "not-the-password"),
                ])
                .await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        }
        // Locked now, even with the right password and another spelling of the name.
        let locked = app
            .token_request(&[
                ("grant_type", "password"),
                ("username", "ADMIN"),
                ("password", ADMIN_PASSWORD),
            ])
            .await;
        let retry_after: u64 = locked.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=30).contains(&retry_after), "{retry_after}");
        assert_problem(locked, StatusCode::TOO_MANY_REQUESTS).await;
    }
);

api_test!(
    machine_clients_get_tokens_and_their_secret_is_shown_once,
    |app| async move {
        let org = app
            .create_organization("Handwerkskammer Braunschweig-Lüneburg-Stade")
            .await;
        let created = app
            .post_json(
                "/api/v1/clients",
                &json!({"name": "HWK sync", "organization_id": org}),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await.unwrap();
        assert_eq!(created["role"], "partner");
        let client_id = created["client_id"].as_str().unwrap();
        let secret = created["client_secret"].as_str().unwrap();

        let read = app
            .get(&format!("/api/v1/clients/{}", created["id"]))
            .await
            .text()
            .await
            .unwrap();
        let list = app.get("/api/v1/clients").await.text().await.unwrap();
        for body in [&read, &list] {
            assert!(!body.contains(secret) && !body.contains("secret"), "{body}");
        }

        let by_form = app
            .token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
            .await;
        assert_eq!(by_form.status(), StatusCode::OK);
        let by_form: Value = by_form.json().await.unwrap();
        assert!(
            by_form.get("refresh_token").is_none(),
            "no refresh token for machine clients"
        );
        let by_basic = app
            .anonymous(Method::POST, "/api/v1/auth/token")
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(by_basic.status(), StatusCode::OK);

        let me: Value = app
            .request_as(
                by_form["access_token"].as_str().unwrap(),
                Method::GET,
                "/api/v1/me",
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["kind"], "client");
        assert_eq!(me["organization_id"], org);
        assert_eq!(me["role"], "partner");

        oauth_error(
            app.token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", "wrong"),
            ])
            .await,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        )
        .await;
        app.patch_json(
            &format!("/api/v1/clients/{}", created["id"]),
            &json!({"disabled": true}),
        )
        .await;
        oauth_error(
            app.token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
            .await,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        )
        .await;
    }
);

api_test!(user_rules_are_validated, |app| async move {
    let org = app.create_organization("IHK Braunschweig").await;
    let cases = [
        (
            json!({"username": "a", "password": "short", "role": "editor"}),
            "password",
        ),
        (json!({"username": "a", "role": "editor"}), "password"),
        (
            json!({"username": "a", "password": "long-enough-password", "role": "boss"}),
            "role",
        ),
        (
            json!({"username": "a", "password": "long-enough-password", "role": "partner"}),
            "organization_id",
        ),
        (
            json!({"username": "a", "password": "long-enough-password", "role": "viewer", "organization_id": 999}),
            "organization_id",
        ),
        (
            json!({"username": "a", "password": "long-enough-password", "role": "viewer", "email": "not-mail"}),
            "email",
        ),
        (
            json!({"username": "a", "password": "long-enough-password", "role": "viewer", "password_hash": "x"}),
            "password_hash",
        ),
    ];
    for (body, field) in cases {
        let problem = assert_problem(
            app.post_json("/api/v1/users", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let partner = app.post_json("/api/v1/users", &json!({"username": "Kammer", "password": "long-enough-password", "role": "partner", "organization_id": org})).await;
    assert_eq!(partner.status(), StatusCode::CREATED);
    let partner = partner.text().await.unwrap();
    assert!(
        !partner.contains("password") && !partner.contains("argon2"),
        "{partner}"
    );
    let duplicate = app
        .post_json(
            "/api/v1/users",
            &json!({"username": "KAMMER", "password": "long-enough-password", "role": "viewer"}),
        )
        .await;
    assert_problem(duplicate, StatusCode::CONFLICT).await;

    let me: Value = app.get("/api/v1/me").await.json().await.unwrap();
    let own = format!(
        "/api/v1/users/{}",
        me["subject"].as_str().unwrap().trim_start_matches("user:")
    );
    assert_problem(
        app.patch_json(&own, &json!({"role": "viewer"})).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_problem(app.delete(&own).await, StatusCode::CONFLICT).await;
});

/// Signs claims with the given key and header.
fn sign(claims: &Value, header: &Header, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

fn claims(now: i64) -> Value {
    json!({
        "sub": "user:1", "role": "admin", "iat": now, "nbf": now, "exp": now + 600,
        "iss": "betriebsnachbarschaften", "aud": "betriebsnachbarschaften-api", "jti": "x",
    })
}

api_test!(forged_and_stale_tokens_are_refused, |app| async move {
    use base64::Engine as _;
    let pem = std::fs::read(app.data_dir.path().join("jwt-signing-key.pem")).unwrap();
    let ours = EncodingKey::from_ed_pem(&pem).unwrap();
    let kid = jsonwebtoken::decode_header(&app.token)
        .unwrap()
        .kid
        .unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.clone());
    let now = chrono::Utc::now().timestamp();

    // A sanity check: our own key with good claims works, so the refusals below are real.
    let good = sign(&claims(now), &header, &ours);
    assert_eq!(
        app.request_as(&good, Method::GET, "/api/v1/me")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let other_dir = tempfile::tempdir().unwrap();
    let other_path = other_dir.path().join("other.pem");
    assert!(betriebsnachbarschaften::auth::keys::generate_key_file(&other_path).unwrap());
    let other = EncodingKey::from_ed_pem(&std::fs::read(&other_path).unwrap()).unwrap();

    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
        b64(&claims(now))
    );
    let mut hmac_header = Header::new(Algorithm::HS256);
    hmac_header.kid = Some(kid.clone());
    let public_pem = ed25519_public_pem(&pem);
    let hmac = sign(
        &claims(now),
        &hmac_header,
        &EncodingKey::from_secret(public_pem.as_bytes()),
    );

    let mut expired = claims(now - 3600);
    expired["exp"] = json!(now - 1800);
    let mut early = claims(now);
    early["nbf"] = json!(now + 3600);
    let mut other_aud = claims(now);
    other_aud["aud"] = json!("another-api");
    let mut other_iss = claims(now);
    other_iss["iss"] = json!("someone-else");

    let forged = [
        ("alg none", alg_none),
        ("another key", sign(&claims(now), &header, &other)),
        ("HMAC with our public key", hmac),
        ("expired", sign(&expired, &header, &ours)),
        ("not yet valid", sign(&early, &header, &ours)),
        ("another audience", sign(&other_aud, &header, &ours)),
        ("another issuer", sign(&other_iss, &header, &ours)),
        ("garbage", "not.a.token".to_owned()),
        // Verified tokens are remembered; a copy with its claims or signature altered is
        // another string and must be checked in full.
        ("the good token with altered claims", {
            let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
            let mut altered = claims(now);
            altered["role"] = json!("admin");
            altered["sub"] = json!("user:999");
            parts[1] = b64(&altered);
            parts.join(".")
        }),
        ("the good token with another signature", {
            let mut token = good.clone();
            let last = token.pop().unwrap();
            token.push(if last == 'A' { 'B' } else { 'A' });
            token
        }),
    ];
    for (what, token) in forged {
        let response = app
            .request_as(&token, Method::GET, "/api/v1/regions")
            .send()
            .await
            .unwrap();
        let challenge = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        assert_problem(response, StatusCode::UNAUTHORIZED).await;
    }
});

/// The public half of an Ed25519 PKCS#8 key, as SPKI PEM.
fn ed25519_public_pem(private_pem: &[u8]) -> String {
    use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(std::str::from_utf8(private_pem).unwrap())
        .unwrap();
    key.verifying_key()
        .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap()
}

#[test]
fn a_rotated_key_keeps_verifying_tokens_signed_with_the_old_one() {
    use betriebsnachbarschaften::auth::keys::{KeySet, generate_key_file};
    use betriebsnachbarschaften::auth::{Role, Subject, TokenService};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.pem"), dir.path().join("new.pem"));
    let service = |signing: &std::path::Path, verify: Option<&std::path::Path>| {
        TokenService::new(
            KeySet::load(signing, false, verify).unwrap(),
            "betriebsnachbarschaften".into(),
            "betriebsnachbarschaften-api".into(),
            Duration::from_secs(900),
            Duration::from_secs(3600),
        )
    };
    assert!(generate_key_file(&old).unwrap());
    let (token, _) = service(&old, None)
        .issue(&Subject::User(7), Role::Editor, None)
        .unwrap();

    // The new key signs; the old one, in the verification directory, still verifies.
    assert!(generate_key_file(&new).unwrap());
    let verify_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&old, verify_dir.path().join("old.pem")).unwrap();
    let rotated = service(&new, Some(verify_dir.path()));
    let caller = rotated.verify(&token).unwrap();
    assert_eq!(caller.subject, Subject::User(7));
    assert_eq!(caller.role, Role::Editor);
    let (fresh, _) = rotated
        .issue(&Subject::User(7), Role::Editor, None)
        .unwrap();
    assert_ne!(
        jsonwebtoken::decode_header(&fresh).unwrap().kid,
        jsonwebtoken::decode_header(&token).unwrap().kid,
        "new tokens carry the new key's id"
    );

    // Once the old key is removed, its tokens are refused.
    assert!(service(&new, None).verify(&token).is_err());
}

/// A password sign-in from the test client, optionally claiming to be forwarded for
/// `forwarded_for`.
async fn sign_in_from(
    app: &TestApp,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = app.anonymous(Method::POST, "/api/v1/auth/token").form(&[
        ("grant_type", "password"),
        ("username", username),
        ("password", password),
    ]);
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

/// The status of a sign-in as `username` with a wrong password.
async fn failed_sign_in(app: &TestApp, username: &str, forwarded_for: Option<&str>) -> StatusCode {
    sign_in_from(app, username, "a-guess", forwarded_for)
        .await
        .status()
}

api_test!(
    guessing_across_usernames_from_one_address_is_throttled_too,
    |app: TestApp| async move {
        // 20 failures of any names from one address are free (an office behind one NAT);
        // X-Forwarded-For moves nothing to another budget while no proxy is trusted.
        for n in 0..20 {
            let forged = format!("203.0.113.{n}");
            let status = failed_sign_in(&app, &format!("made-up-{n}"), Some(&forged)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "attempt {n}");
        }
        // Then the address waits, whatever name it tries — the right password included.
        let locked = sign_in_from(&app, "admin", ADMIN_PASSWORD, None).await;
        assert!(locked.headers().contains_key(header::RETRY_AFTER));
        assert_problem(locked, StatusCode::TOO_MANY_REQUESTS).await;
        let status = failed_sign_in(&app, "yet-another", Some("198.51.100.1")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
);

api_test!(
    behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget,
    Options {
        trusted_proxies: "127.0.0.1,::1",
        ..Default::default()
    },
    |app: TestApp| async move {
        // The proxy (the test client's address) forwards for many clients: one guessing client
        // does not lock the others out.
        for n in 0..20 {
            let status = failed_sign_in(&app, &format!("made-up-{n}"), Some("203.0.113.7")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "attempt {n}");
        }
        let status = failed_sign_in(&app, "made-up", Some("203.0.113.7")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        // A client can't escape by prepending addresses: the proxy's own entry is the right one.
        let status = failed_sign_in(&app, "made-up", Some("192.0.2.1, 203.0.113.7")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let other = sign_in_from(&app, "admin", ADMIN_PASSWORD, Some("203.0.113.8")).await;
        assert_eq!(other.status(), StatusCode::OK);
    }
);
