//! `users-bulk` body: `accountIds`, 1 to 250 strings; a missing body, a missing field, a
//! non-string id or a size outside 1–250 is 400.

use reqwest::StatusCode;

use crate::support::start;

#[tokio::test]
async fn rejects_missing_bodies_non_strings_and_bad_sizes() -> anyhow::Result<()> {
    let ctx = start().await?;
    let c = &ctx.creds;
    let url = format!("{}/wiki/api/v2/users-bulk", ctx.fake.url());
    let many: Vec<String> = (0..251).map(|i| format!("\"id-{i}\"")).collect();
    let too_many = format!("{{\"accountIds\": [{}]}}", many.join(","));
    let just_right = format!("{{\"accountIds\": [{}]}}", many[..250].join(","));
    for (body, expected) in [
        ("", StatusCode::BAD_REQUEST),
        ("{}", StatusCode::BAD_REQUEST),
        ("[]", StatusCode::BAD_REQUEST),
        (r#"{"accountIds": null}"#, StatusCode::BAD_REQUEST),
        (r#"{"accountIds": []}"#, StatusCode::BAD_REQUEST),
        (r#"{"accountIds": ["a", 2]}"#, StatusCode::BAD_REQUEST),
        (r#"{"accountIds": [{"id": "a"}]}"#, StatusCode::BAD_REQUEST),
        (too_many.as_str(), StatusCode::BAD_REQUEST),
        (just_right.as_str(), StatusCode::OK),
        (r#"{"accountIds": ["a"]}"#, StatusCode::OK),
    ] {
        let r = ctx
            .http
            .post(&url)
            .basic_auth(&c.site_email, Some(&c.site_api_token))
            .header("content-type", "application/json")
            .body(body.to_owned());
        let shown = &body[..body.len().min(40)];
        assert_eq!(r.send().await?.status(), expected, "{shown}");
    }
    Ok(())
}
