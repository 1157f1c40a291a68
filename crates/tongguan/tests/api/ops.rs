use crate::harness::{spawn_app, Engine};
use reqwest::StatusCode;

crate::both_engines!(probes_metrics_and_openapi);

async fn probes_metrics_and_openapi(e: Engine) {
    let t = spawn_app(e).await;
    let http = reqwest::Client::new();
    let get = |p: &str| http.get(format!("{}{p}", t.base)).send();
    assert_eq!(get("/healthz").await.unwrap().text().await.unwrap(), "ok");
    assert_eq!(get("/readyz").await.unwrap().status(), StatusCode::OK);
    t.demo("city.leader").await;
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/api/v1/auth/login\""), "{metrics}");
    assert!(metrics.contains("\ntongguan_db_group_commits_total "), "{metrics}");
    let doc: serde_json::Value = get("/api/openapi.json").await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = std::collections::BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if let Some(id) = op.get("operationId").and_then(|v| v.as_str()) {
                assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            }
        }
    }
    let docs = http.get(format!("{}/api/docs", t.base)).send().await.unwrap();
    assert!(docs.url().path().ends_with("/api-docs"));
    // Unknown API paths answer in the error shape; every response has a request id and hardening headers.
    let r = get("/api/v1/nowhere").await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "route.not_found");
}
