//! Serving the web app. With the `web` feature the built `web/dist` is embedded in the binary:
//! `index.html` is never cached, hashed assets are immutable, and unknown non-API paths fall back to
//! the SPA. Without it (plain `cargo build`), non-API paths explain how to build the front end.

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

#[cfg(feature = "web")]
#[derive(rust_embed::RustEmbed)]
#[folder = "../../web/dist"]
struct Assets;

pub async fn serve(uri: Uri) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return tg_api::api_not_found().await.into_response();
    }
    asset(path.trim_start_matches('/'))
}

#[cfg(feature = "web")]
fn asset(path: &str) -> Response {
    let (file, name) = match Assets::get(path).filter(|_| !path.is_empty()) {
        Some(f) => (f, path),
        None => match Assets::get("index.html") {
            Some(f) => (f, "index.html"),
            None => return (StatusCode::NOT_FOUND, "web/dist/index.html missing").into_response(),
        },
    };
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let cache = if name.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    ([(header::CONTENT_TYPE, mime.as_ref().to_owned()), (header::CACHE_CONTROL, cache.to_owned())], file.data.into_owned()).into_response()
}

#[cfg(not(feature = "web"))]
fn asset(_path: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "此版本未内置前端。请用 scripts/run.sh 构建运行（或 npm run build 后 cargo build --features web）。\n",
    )
        .into_response()
}

/// SM3 digests of every embedded web asset, for the release manifest.
#[cfg(feature = "web")]
pub fn asset_digests() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        Assets::iter().filter_map(|p| Assets::get(&p).map(|f| (format!("web:{p}"), tg_crypto::sm3_hex(&f.data)))).collect();
    out.sort();
    out
}

#[cfg(not(feature = "web"))]
pub fn asset_digests() -> Vec<(String, String)> {
    Vec::new()
}
