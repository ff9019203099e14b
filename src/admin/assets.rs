//! The admin page's static files: one HTML page, its script, its stylesheet and its icon,
//! embedded in the component and served with the page's security headers.

use crate::error::Response;

/// The policy of the admin page: only its own script, style and API; never framed.
pub const PAGE_CSP: &str =
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE_HTML: &str = include_str!("page.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");
const FAVICON_SVG: &str = include_str!("favicon.svg");

/// A static file of the page, with its content type and the page's security headers.
fn asset(content_type: &str, body: &str) -> Response {
    Response {
        status: 200,
        headers: vec![
            ("content-type".into(), content_type.into()),
            ("content-security-policy".into(), PAGE_CSP.into()),
            ("x-frame-options".into(), "DENY".into()),
            ("referrer-policy".into(), "no-referrer".into()),
        ],
        body: body.as_bytes().to_vec(),
    }
}

/// `GET /admin`: the page.
pub fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE_HTML)
}

/// `GET /admin/app.js`: the page's script.
pub fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /admin/app.css`: the page's stylesheet.
pub fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// `GET /admin/favicon.svg`: the page's icon (without it, browsers ask for `/favicon.ico` and
/// log the 404 as a console error).
pub fn icon() -> Response {
    asset("image/svg+xml", FAVICON_SVG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_field_is_nothing_a_browser_offers_to_save() {
        let html = String::from_utf8(page().body).unwrap();
        let field = html
            .lines()
            .find(|l| l.contains(r#"id="api-key""#))
            .unwrap();
        assert!(!field.contains("password"), "{field}");
        assert!(field.contains(r#"autocomplete="off""#), "{field}");
        let before = &html[..html.find(r#"id="api-key""#).unwrap()];
        assert!(
            before.matches("<form").count() == before.matches("</form>").count(),
            "the key field is inside a form"
        );
    }

    #[test]
    fn assets_carry_their_type_and_the_policy() {
        for (r, ty) in [
            (page(), "text/html"),
            (script(), "text/javascript"),
            (stylesheet(), "text/css"),
            (icon(), "image/svg+xml"),
        ] {
            assert!(r.header("content-type").unwrap().starts_with(ty));
            assert_eq!(r.header("content-security-policy"), Some(PAGE_CSP));
        }
        let html = String::from_utf8(page().body).unwrap();
        assert!(html.contains(r#"<script src="/admin/app.js""#));
        assert!(!html.contains("<script>"), "no inline script");
        assert!(!html.contains("style="), "no inline style");
        for external in [
            "src=\"http",
            "href=\"http",
            "src=\"//",
            "href=\"//",
            "@import",
        ] {
            assert!(!html.contains(external), "no external asset: {external}");
        }
    }
}
