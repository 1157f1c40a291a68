//! Ships the audit trail to a syslog collector (RFC 5424 over UDP) so that a copy lives outside this
//! system (等保 §8.1.5.4 集中管控, ASVS V16.4.3). Records are sent in sequence order; the last sequence
//! number sent is kept in the MAC-protected security settings, so a restart continues where it stopped.

use anyhow::{Context, Result};
use sqlx::Row;
use std::net::SocketAddr;
use tg_iam::Iam;

/// `udp://host:port` → socket address.
pub fn parse_addr(s: &str) -> Option<SocketAddr> {
    use std::net::ToSocketAddrs;
    s.strip_prefix("udp://")?.to_socket_addrs().ok()?.next()
}

/// One RFC 5424 line: facility 13 (log audit), severity notice (5) for successes and warning (4)
/// otherwise; the structured record travels as JSON in the message part.
pub fn format_record(r: &tg_iam::audit::AuditRecord, host: &str) -> String {
    let severity = if r.result == "success" { 5 } else { 4 };
    let pri = 13 * 8 + severity;
    let msg = serde_json::json!({
        "seq": r.seq, "at": r.at, "actor": r.actor_username, "roles": r.actor_roles, "region": r.actor_region,
        "ip": r.ip, "request_id": r.request_id, "action": r.action, "target": r.target, "result": r.result,
        "detail": tg_kernel::pii::scrub_text(&r.detail),
    });
    let mut line = format!("<{pri}>1 {} {host} tongguan - AUDIT - {msg}", r.at);
    if line.len() > 8000 {
        let mut cut = 8000;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
    }
    line
}

/// Sends every record after the last one shipped. Returns how many were sent.
pub async fn forward_once(iam: &Iam, addr: SocketAddr) -> Result<usize> {
    let last: i64 = iam.setting_i64("syslog_seq").await.map_err(|e| anyhow::anyhow!("{e}"))?.unwrap_or(0);
    let rows = sqlx::query("SELECT seq FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 500").bind(last).fetch_all(iam.db().pool()).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let first: i64 = rows[0].try_get(0)?;
    let upto: i64 = rows[rows.len() - 1].try_get(0)?;
    let records = tg_iam::audit::range(iam.db(), first, upto).await?;
    let socket = tokio::net::UdpSocket::bind(if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }).await.context("syslog socket")?;
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "tongguan".into());
    for r in &records {
        socket.send_to(format_record(r, &host).as_bytes(), addr).await.context("sending to syslog")?;
    }
    iam.set_setting_system("syslog_seq", &upto.to_string()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(records.len())
}
